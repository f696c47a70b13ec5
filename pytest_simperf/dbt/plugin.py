"""The ``simperf_dbt`` fixture: a dbt-duckdb project built against the test's workforce.

Each test gets its own working directory holding a DuckDB database with the workforce's census
(as the table ``census``, or as a Parquet file whose path goes in a var, ``census_parquet``
unless configured), a generated ``profiles.yml``, and dbt's ``target/`` and ``logs/``. dbt
builds into that database, not into the workforce's own file: DuckDB allows one process to
hold a file through one configuration only, and the workforce connection stays open for the test.

When the test also uses ``simperf``, every dbt invocation is recorded: each model's (and seed's)
execution time from dbt's run results as a phase named after the model, in the invocation's
simulation year, plus ``dbt_total`` (the invocation timed as a ``simperf`` phase: wall, CPU and
peak memory of this process, which is where dbt runs), ``dbt_overhead`` (wall time minus
time inside nodes) and, when the project was parsed for it, ``dbt_parse``. Baselines, SLAs and
verdicts then apply per model and per year. A rebuild of a year already built
(``rebuild_year``) records its phases as ``<name>:rebuild``: an incremental strategy that is
slow only on a re-run must not hide among the first builds' samples.

dbt's console log stays off the terminal (a failing test would otherwise show every line of
every year); the failure names the model with dbt's message and points to the log file.
``-v`` puts the log back on the console.

Importing this module imports neither dbt nor duckdb. It is loaded at every pytest start, so it
leaves ``runner`` to the fixture too (``pytest_simperf/dbt/__init__.py`` still imports it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_simperf.errors import UsageError

if TYPE_CHECKING:
    from pytest_simperf.dbt.runner import DbtInvocation, DbtProject, DbtRequest
    from pytest_simperf.dbt.sequence import YearSequence
    from pytest_simperf.measure import Counters

MARKER = "simperf_dbt"
MARKER_SIGNATURE = (
    "simperf_dbt(project=None, census='table', census_var='census_parquet', vars=None, "
    "count_rows=True, reuse_manifest=True, profiles_dir=None, target=None): options of the "
    "simperf_dbt fixture for this test: "
    "the dbt project folder (default: ini simperf_dbt_project), where the census is read from "
    "('table' or 'parquet'), the project's var for the census Parquet path (default: ini "
    "simperf_dbt_census_var), vars passed to every dbt invocation, whether to count each "
    "model's rows for rows/second, whether to parse apart and reuse a parse of the same "
    "inputs (False: dbt parses inside every run, as on the command line), and your own "
    "profiles.yml folder and target (default: ini simperf_dbt_profiles_dir and "
    "simperf_dbt_target; unset: a generated profile), of which only the database path and "
    "threads are overridden."
)
MARKER_OPTIONS = frozenset(
    {
        "project",
        "census",
        "census_var",
        "vars",
        "count_rows",
        "reuse_manifest",
        "profiles_dir",
        "target",
    }
)
CENSUS_CHOICES = ("table", "parquet")
#: The folder in rootdir the fixture builds when no project is configured.
DEFAULT_PROJECT = "dbt_project"
#: The example project shipped in the package: built when neither the configuration nor
#: rootdir names a project, so a first perf test runs before the user writes any dbt.
EXAMPLE_PROJECT = Path(__file__).resolve().parent / "example_project"
DEFAULT_CENSUS_VAR = "census_parquet"
TOTAL_PHASE = "dbt_total"
OVERHEAD_PHASE = "dbt_overhead"
PARSE_PHASE = "dbt_parse"
#: Appended to a phase's name for a rebuild of an already-built year: ``<model>:rebuild``.
#: Component SLAs and ``sla(phase=<model>)`` markers still apply to it (``effective_sla``).
REBUILD_SUFFIX = ":rebuild"
_DBT_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Samples a side every phase this fixture records (one sample per dbt run) needs before its
#: time is classed: five a side is the smallest balanced design in which the rank test can
#: reach p < 0.01. Below it the time is shown, not classed; DuckDB's exact counters gate the
#: model (``verdict`` reads this). A baseline's between-session noise learned over three
#: sessions was not enough: one dbt overhead sample still failed 1 of 5 unchanged sessions.
TIME_MIN_SAMPLES = 5


def phase_name(name: str, *, rebuild: bool, step: str | None = None) -> str:
    """The phase a node or dbt figure is recorded under: ``name``, or ``name:rebuild``; for
    dbt's own figures in a sequence of several steps, ``name:<step>`` (``dbt_total:staging``):
    each invocation of a year is its own measurement, not a sample of one."""
    base = name if step is None else f"{name}:{step}"
    return f"{base}{REBUILD_SUFFIX}" if rebuild else base


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "simperf_dbt_project",
        "dbt project folder the simperf_dbt fixture builds, relative to rootdir "
        f"(default: rootdir/{DEFAULT_PROJECT} if present, else pytest-simperf's example project)",
        default=None,
    )
    parser.addini(
        "simperf_dbt_census",
        "where simperf_dbt's project reads the census: 'table' (the census table in the "
        "target database) or 'parquet' (a file whose path goes in simperf_dbt_census_var)",
        default=None,
    )
    parser.addini(
        "simperf_dbt_profiles_dir",
        "folder of your profiles.yml for simperf_dbt: your profile and target are used, with "
        "only the database path and threads overridden (default: a generated profile)",
        default=None,
    )
    parser.addini(
        "simperf_dbt_target",
        "target of your profile for simperf_dbt (default: the profile's own; setting it alone "
        "reads profiles.yml where dbt would: DBT_PROFILES_DIR, the project, ~/.dbt)",
        default=None,
    )
    parser.addini(
        "simperf_dbt_census_var",
        "the dbt var through which simperf_dbt's project reads a Parquet census "
        f"(default: {DEFAULT_CENSUS_VAR})",
        default=None,
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER_SIGNATURE)


class SimperfDbt:
    """What ``simperf_dbt`` gives a test: a dbt project bound to the test's workforce.

    Every method returns dbt's results (``DbtInvocation``: per-node name, status,
    execution_time, rows_affected, message; wall time and dbt overhead) and raises
    ``DbtRunError`` naming the failing model and dbt's message when dbt fails. The plain
    ``DbtProject`` underneath is ``.project``.
    """

    def __init__(
        self,
        project: DbtProject,
        workforce: Any,
        *,
        simperf: Any = None,
        count_rows: bool = True,
    ) -> None:
        self.project = project
        self.workforce = workforce
        self.simperf = simperf
        self.count_rows = count_rows
        project.listeners.append(self._record)
        project.around_run = self._around_run
        project.around_parse = self._around_parse
        project.around_step = self._around_step
        project.around_node = self._around_node
        #: DuckDB's work counters of each node of the invocation running now, by unique_id.
        self._node_counters: dict[str, Counters] = {}

    # -- where things are --------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The DuckDB database dbt builds into (holds ``census`` in table mode)."""
        return self.project.database_path

    @property
    def project_dir(self) -> Path:
        return self.project.project_dir

    @property
    def simulation_years(self) -> list[int]:
        """The workforce's simulation years: what ``run_years()`` builds by default."""
        return list(self.workforce.simulation_years)

    @property
    def invocations(self) -> list[DbtInvocation]:
        """Every dbt invocation of this test, in order."""
        return list(self.project.invocations)

    # -- running dbt -------------------------------------------------------------------------

    def invoke(self, command: str, **kwargs: Any) -> DbtInvocation:
        """Run one dbt command (build, run, seed, test); see ``DbtProject.invoke``."""
        __tracebackhide__ = True
        return self.project.invoke(command, **kwargs)

    def build(self, **kwargs: Any) -> DbtInvocation:
        """``dbt build``: seeds, models and data tests in graph order."""
        __tracebackhide__ = True
        return self.project.invoke("build", **kwargs)

    def run(self, **kwargs: Any) -> DbtInvocation:
        """``dbt run``: models only."""
        __tracebackhide__ = True
        return self.project.invoke("run", **kwargs)

    def seed(self, **kwargs: Any) -> DbtInvocation:
        """``dbt seed``."""
        __tracebackhide__ = True
        return self.project.invoke("seed", **kwargs)

    def test(self, **kwargs: Any) -> DbtInvocation:
        """``dbt test``."""
        __tracebackhide__ = True
        return self.project.invoke("test", **kwargs)

    def sequence(self, steps: Iterable[Any]) -> YearSequence:
        """What one simulation year runs, checked now: dbt steps (``DbtStep`` or a mapping of
        its fields: command, select, exclude, selector, vars, full_refresh, name) and Python
        callables ``fn(project, year)`` between them. Pass it as ``run_years(sequence=...)``
        and ``rebuild_year(year, sequence=...)``."""
        from pytest_simperf.dbt.sequence import YearSequence

        return YearSequence(steps)

    def run_years(self, years: Iterable[int] | None = None, **kwargs: Any) -> list[DbtInvocation]:
        """Build the simulation year by year (default: the workforce's years), each year one
        command or a ``sequence``, the first year with ``--full-refresh``; ``rounds=N`` repeats
        it. See ``DbtProject.run_years``."""
        __tracebackhide__ = True
        years = self.simulation_years if years is None else years
        return self.project.run_years(years, **self._unmeasured_rounds(kwargs, "run_years"))

    def rebuild_year(self, year: int, **kwargs: Any) -> list[DbtInvocation]:
        """Build an already-built year again (``rounds=N`` times); each round adds a sample to
        that year's ``<model>:rebuild`` phases. See ``DbtProject.rebuild_year``."""
        __tracebackhide__ = True
        return self.project.rebuild_year(year, **self._unmeasured_rounds(kwargs, "rebuild_year"))

    def _unmeasured_rounds(self, kwargs: dict[str, Any], where: str) -> dict[str, Any]:
        """Without ``--simperf`` a perf test runs once, unmeasured: extra rounds would only
        repeat identical builds for samples nobody takes, so one round is built. ``rounds``
        is still checked, so a bad value fails a plain ``pytest`` too."""
        if self.simperf is None or getattr(self.simperf, "measuring", True):
            return kwargs
        from pytest_simperf.dbt.runner import check_rounds

        if "rounds" in kwargs:
            check_rounds(kwargs["rounds"], where)
        return {**kwargs, "rounds": 1}

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Query the database dbt built (a short-lived connection; see ``DbtProject.query``)."""
        return self.project.query(sql, params)

    # -- recording ---------------------------------------------------------------------------

    def _around_run(self, request: DbtRequest) -> AbstractContextManager[Any]:
        """Time each dbt run as the ``dbt_total`` phase through ``simperf`` itself, so it also
        gets CPU time and the process's peak memory (dbt runs in this process)."""
        if self.simperf is None:
            return nullcontext()
        name = phase_name(TOTAL_PHASE, rebuild=request.rebuild, step=request.step)
        return self._phase(name, request.year)

    def _around_parse(self, request: DbtRequest) -> AbstractContextManager[Any]:
        """Time each parse as the ``dbt_parse`` phase, apart from ``dbt_total``: a parse is
        reused for the same inputs, so it is paid once, not once per round. A rebuild's parse
        is a ``dbt_parse`` sample too: parsing does not depend on what the database holds."""
        if self.simperf is None:
            return nullcontext()
        return self._phase(PARSE_PHASE, request.year)

    def _around_step(self, request: DbtRequest) -> AbstractContextManager[Any]:
        """Time each Python step of a year sequence as a phase named after the step (wall,
        CPU, memory, and DuckDB's counters of the connections it opens)."""
        if self.simperf is None or request.step is None:
            return nullcontext()
        return self._phase(phase_name(request.step, rebuild=request.rebuild), request.year)

    @contextmanager
    def _phase(self, name: str, year: int | None) -> Iterator[Any]:
        """A ``simperf.phase``, whose record then asks for ``TIME_MIN_SAMPLES`` samples a side
        before its time is classed, as the model phases do: one dbt invocation's seconds move
        as much as one model's between unchanged sessions."""
        with self.simperf.phase(name, year=year) as handle:
            yield handle
        for record in self.simperf.records:
            if getattr(record, "name", None) == name and getattr(record, "year", None) == year:
                record.meta["time_min_samples"] = TIME_MIN_SAMPLES

    def _around_node(self, request: DbtRequest, unique_id: str) -> AbstractContextManager[Any]:
        """Count the DuckDB work of one node: a counting region of the test's connections
        (dbt-duckdb's, intercepted for perf tests) from dbt's ``NodeStart`` to its
        ``NodeFinished``. dbt runs one node at a time (``threads: 1``), so every statement in
        the region is that node's: its materialisation, its reads, its writes."""
        # Without the simperf fixture, or unmeasured (plain pytest), nothing is counted.
        count_work = getattr(self.simperf, "count_work", None)
        if count_work is None or not getattr(self.simperf, "measuring", False):
            return nullcontext()
        return self._count_node(count_work, unique_id)

    @contextmanager
    def _count_node(
        self, count_work: Callable[[], AbstractContextManager[Counters]], unique_id: str
    ) -> Iterator[None]:
        with count_work() as counters:
            yield
        self._node_counters[unique_id] = counters

    def _record(self, invocation: DbtInvocation) -> None:
        """Add each model's time and dbt's overhead to ``simperf``. A failed invocation adds no
        model phases (its ``dbt_total`` is already in, and the test fails)."""
        node_counters, self._node_counters = self._node_counters, {}
        if self.simperf is None or not invocation.success:
            return
        rows = self.project.relation_rows(invocation) if self.count_rows else {}
        meta = {
            "source": "dbt",
            "command": invocation.command,
            "time_min_samples": TIME_MIN_SAMPLES,
        }
        rebuild = invocation.rebuild
        for result in invocation.models:
            if result.failed:
                continue
            counted = counter_figures(node_counters.get(result.unique_id))
            self.simperf.record(
                phase_name(result.name, rebuild=rebuild),
                year=invocation.year,
                samples_s=[result.execution_time],
                rows=rows.get(result.name, result.rows_affected),
                rows_scanned=counted.get("rows_scanned"),
                intermediate_rows=counted.get("intermediate_rows"),
                duckdb_peak_buffer_mb=counted.get("duckdb_peak_buffer_mb"),
                meta={
                    **meta,
                    "resource_type": result.resource_type,
                    "materialized": result.materialized,
                    **counted.get("meta", {}),
                },
            )
        self.simperf.record(
            phase_name(OVERHEAD_PHASE, rebuild=rebuild, step=invocation.step),
            year=invocation.year,
            samples_s=[invocation.overhead_s],
            meta=meta,
        )

    def __repr__(self) -> str:
        return f"<SimperfDbt {self.project_dir} -> {self.path}>"


def counter_figures(counters: Counters | None) -> dict[str, Any]:
    """A node's counters as ``simperf.record`` arguments: rows scanned and intermediate rows
    when every statement was profiled (the plan gate compares them exactly), else only a note
    saying why not (an incomplete sum must not look like a plan change)."""
    if counters is None or counters.statements == 0:
        return {}
    meta: dict[str, Any] = {
        "counters_statements": counters.statements,
        "duckdb_connections": counters.connections,
    }
    figures: dict[str, Any] = {"meta": meta}
    if counters.peak_buffer_bytes is not None:
        figures["duckdb_peak_buffer_mb"] = counters.peak_buffer_bytes / (1024 * 1024)
    if not counters.complete:
        meta["counters_note"] = f"{counters.note()} (not recorded)"
        return figures
    figures["rows_scanned"] = counters.rows_scanned
    figures["intermediate_rows"] = counters.intermediate_rows
    return figures


def _marker_options(item: pytest.Item) -> dict[str, Any]:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return {}
    if marker.args:
        raise UsageError(f"{item.nodeid}: @pytest.mark.{MARKER} takes keyword arguments only")
    unknown = sorted(set(marker.kwargs) - MARKER_OPTIONS)
    if unknown:
        raise UsageError(
            f"{item.nodeid}: @pytest.mark.{MARKER} got unknown argument(s) {', '.join(unknown)}; "
            f"it takes {', '.join(sorted(MARKER_OPTIONS))}"
        )
    options = dict(marker.kwargs)
    if (
        "vars" in options
        and options["vars"] is not None
        and not isinstance(options["vars"], Mapping)
    ):
        raise UsageError(f"{item.nodeid}: @pytest.mark.{MARKER}(vars=...) must be a mapping")
    if not isinstance(options.get("reuse_manifest", True), bool):
        raise UsageError(
            f"{item.nodeid}: @pytest.mark.{MARKER}(reuse_manifest=...) must be True or False, "
            f"got {options['reuse_manifest']!r}"
        )
    return options


def resolve_project_dir(config: pytest.Config, value: Any) -> Path:
    """The project folder from the marker, else ini ``simperf_dbt_project``, else rootdir's
    ``dbt_project`` if it holds a project, else the packaged example project; relative paths
    are taken from rootdir."""
    source = "marker simperf_dbt(project=...)"
    if value is None:
        value, source = config.getini("simperf_dbt_project"), "ini simperf_dbt_project"
    if not value:
        default = config.rootpath / DEFAULT_PROJECT
        if (default / "dbt_project.yml").is_file():
            return default
        return EXAMPLE_PROJECT
    path = Path(str(value))
    if not path.is_absolute():
        path = config.rootpath / path
    if not (path / "dbt_project.yml").is_file():
        raise UsageError(
            f"simperf_dbt: no dbt project at {path} (from {source}); point the ini option "
            "simperf_dbt_project at the folder holding dbt_project.yml"
        )
    return path


def resolve_census(config: pytest.Config, value: Any) -> str:
    """``table`` or ``parquet``, from the marker, else ini ``simperf_dbt_census``."""
    source = "marker simperf_dbt(census=...)"
    if value is None:
        value, source = config.getini("simperf_dbt_census") or "table", "ini simperf_dbt_census"
    if value not in CENSUS_CHOICES:
        raise UsageError(
            f"simperf_dbt: census must be one of {', '.join(CENSUS_CHOICES)}, got {value!r} "
            f"(from {source})"
        )
    return str(value)


def resolve_census_var(config: pytest.Config, value: Any) -> str:
    """The dbt var that carries the census Parquet path: marker, else ini
    ``simperf_dbt_census_var``, else ``census_parquet`` (the shipped project's)."""
    source = "marker simperf_dbt(census_var=...)"
    if value is None:
        value, source = config.getini("simperf_dbt_census_var"), "ini simperf_dbt_census_var"
        if not value:
            return DEFAULT_CENSUS_VAR
    if not isinstance(value, str) or not _DBT_VAR_RE.match(value.strip()):
        raise UsageError(
            f"simperf_dbt: census_var must be a dbt var name (letters, digits, _), got {value!r} "
            f"(from {source})"
        )
    return value.strip()


def resolve_profiles_dir(config: pytest.Config, value: Any) -> Path | None:
    """Your profiles.yml folder: marker, else ini ``simperf_dbt_profiles_dir``, else ``None``
    (a generated profile); relative to rootdir; it must hold a ``profiles.yml``."""
    source = "marker simperf_dbt(profiles_dir=...)"
    if value is None:
        value, source = config.getini("simperf_dbt_profiles_dir"), "ini simperf_dbt_profiles_dir"
        if not value:
            return None
    if not isinstance(value, str | Path) or not str(value).strip():
        raise UsageError(f"simperf_dbt: profiles_dir must be a folder, got {value!r} ({source})")
    path = Path(str(value)).expanduser()
    if not path.is_absolute():
        path = config.rootpath / path
    if not (path / "profiles.yml").is_file():
        raise UsageError(f"simperf_dbt: no profiles.yml in {path} (from {source})")
    return path


def resolve_target(config: pytest.Config, value: Any) -> str | None:
    """Your profile's target: marker, else ini ``simperf_dbt_target``, else ``None``."""
    source = "marker simperf_dbt(target=...)"
    if value is None:
        value, source = config.getini("simperf_dbt_target"), "ini simperf_dbt_target"
        if not value:
            return None
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"simperf_dbt: target must name a target, got {value!r} ({source})")
    return value.strip()


def profile_note(project: DbtProject) -> str | None:
    """One line saying what pytest-simperf changed in the user's dbt set-up, or ``None``: the
    overridden keys of their profile, and DuckDB threads the project sets itself."""
    from pytest_simperf.dbt.runner import threads_set_by_project

    parts = []
    if project.profile_overrides:
        where = project.user_profiles_dir or "the default profiles folder"
        parts.append(
            f"your profile (target {project.target or 'default'}, {where}) with "
            + ", ".join(project.profile_overrides)
        )
    setters = [] if project.duckdb_threads is None else threads_set_by_project(project.project_dir)
    if setters:
        parts.append(
            f"DuckDB threads set in {', '.join(setters)} are overridden: measured tests set "
            f"threads={project.duckdb_threads} (--simperf-duckdb-threads) on every connection "
            "and cursor dbt opens"
        )
    return "simperf_dbt: " + "; ".join(parts) if parts else None


def _terminal_writer(config: pytest.Config, reporter: Any) -> Callable[[str], None]:
    """A line to the terminal from inside a running test: output capture (which holds the
    terminal's file descriptor while a test runs) is suspended for the line."""
    capture = config.pluginmanager.get_plugin("capturemanager")

    def write(line: str) -> None:
        if capture is None:
            reporter.write_line(line)
            return
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    return write


def _say(request: pytest.FixtureRequest, line: str) -> None:
    """One line on the terminal (where there is one: not in an xdist worker) and in the test's
    report sections (shown for failures and with ``-rA``)."""
    request.node.add_report_section("setup", "simperf_dbt", line)
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        _terminal_writer(request.config, reporter)(line)


def duckdb_threads(config: pytest.Config) -> int | None:
    """DuckDB threads for dbt's connection: the session's setting (``None`` = DuckDB's own)."""
    try:
        from pytest_simperf.plugin import simperf_settings

        return simperf_settings(config).duckdb_threads
    except (ImportError, AttributeError, KeyError):
        return 1  # core settings unavailable (plugin disabled): pin to one thread


def provision_census(workforce: Any, database: Path, census: str, work_dir: Path) -> Path | None:
    """Put the workforce's census where the project reads it; return the Parquet path if any.

    Copied through the workforce's own connection, so the copy sees the test's latest writes.
    """
    if census == "parquet":
        written = workforce.to_parquet(work_dir / "census")
        return Path(written["census"])
    literal = str(database).replace("'", "''")
    con = workforce.con
    con.execute(f"ATTACH '{literal}' AS simperf_dbt_target")
    try:
        con.execute("CREATE TABLE simperf_dbt_target.main.census AS SELECT * FROM census")
    finally:
        con.execute("DETACH simperf_dbt_target")
    return None


@pytest.fixture
def simperf_dbt(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> SimperfDbt:
    """A dbt-duckdb project bound to this test's workforce; see ``SimperfDbt``."""
    from pytest_simperf.dbt.runner import DbtProject

    options = _marker_options(request.node)
    config = request.config
    project_dir = resolve_project_dir(config, options.get("project"))
    census = resolve_census(config, options.get("census"))
    census_var = resolve_census_var(config, options.get("census_var"))
    workforce = request.getfixturevalue("simperf_workforce")
    work_dir = tmp_path_factory.mktemp("simperf_dbt")
    database = work_dir / "simperf_dbt.duckdb"
    parquet = provision_census(workforce, database, census, work_dir)
    project = DbtProject(
        project_dir,
        database,
        work_dir,
        duckdb_threads=duckdb_threads(config),
        vars=options.get("vars"),
        census_parquet=parquet,
        census_var=census_var,
        start_year=int(workforce.simulation_years[0]),
        reuse_manifest=options.get("reuse_manifest", True),
        # dbt logs every node of every year: thousands of lines in a failing test's output.
        console_log=config.get_verbosity() >= 1,
        profiles_dir=resolve_profiles_dir(config, options.get("profiles_dir")),
        target=resolve_target(config, options.get("target")),
    )
    note = profile_note(project)
    if note is not None:
        _say(request, note)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:  # none in an xdist worker: its output is not shown anyway
        from pytest_simperf.dbt.progress import ProgressPrinter

        project.progress.append(
            ProgressPrinter(
                _terminal_writer(config, reporter), tty=bool(getattr(reporter, "isatty", False))
            )
        )
    simperf = request.getfixturevalue("simperf") if "simperf" in request.fixturenames else None
    return SimperfDbt(
        project, workforce, simperf=simperf, count_rows=bool(options.get("count_rows", True))
    )
