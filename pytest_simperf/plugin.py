"""pytest hooks for pytest-simperf. Thin on purpose: logic lives in modules without pytest.

Importing this module is cheap (no duckdb, no dbt): ``pytest --help`` in a project that never
runs a performance test should not pay for them. Nor should a plain ``pytest`` run: every pytest
start reads and validates the options, but the ``Settings`` are built on demand
(``simperf_settings``), and the session — which imports the verdict, baseline, calibration and
measuring machinery — only when ``--simperf`` (or a baseline update) is on, or when something
asks for it (``simperf_session``: the ``simperf``, ``duckdb_con`` and ``simperf_workforce``
fixtures). Without ``--simperf`` a perf test runs once, unmeasured (the ``simperf`` fixture is
then an ``UnmeasuredSimperf``), or is skipped with ``--simperf-skip``; neither needs the session,
unless a ``simperf`` marker's arguments must be checked against the settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_simperf.errors import SimperfError, UsageError
from pytest_simperf.options import OptionValues, Settings, add_options, read_options

if TYPE_CHECKING:
    from pytest_simperf.markers import SlaMarker, TestOptions
    from pytest_simperf.session import SimperfSession

# Feature plugins: each owns its hooks, options and fixtures.
pytest_plugins: list[str] = [
    "pytest_simperf.dbt.plugin",
    "pytest_simperf.benchcompat.plugin",
    "pytest_simperf.workforce.plugin",
    "pytest_simperf.scaling_plugin",
]

# Marker help for ``pytest --markers``; the parsing (``markers``) is imported only for a test that
# carries one of these markers.
SLA_SIGNATURE = (
    "sla(seconds=None, memory_mb=None, rows_per_second=None, warning=0.8, phase=None): "
    "performance limits for this test's measured regions (or only for the phase named by "
    "phase=). Past `warning` of a limit is SLA_WARNING; past the limit is SLA_BREACH, which "
    "fails the test. Marks the test as a performance test (measured with --simperf; without "
    "it, run once unmeasured)."
)
SIMPERF_SIGNATURE = (
    "simperf(thresholds=None, memory_thresholds=None, fail_on=None, rounds=None, warmup=None, "
    "instructions=True, track_connections=True): per-test overrides of the regression "
    "thresholds (percent, e.g. (10, 20, 40)), the class that fails, measure() rounds, whether "
    "--simperf-instructions counts this test, and whether every DuckDB connection it opens is "
    "tracked (threads pinned, counters read). Marks the test as a performance test."
)
SKIP_REASON = (
    "performance test: skipped by --simperf-skip (run `pytest --simperf` to measure it and "
    "compare with baselines)"
)
PERF_FIXTURES = frozenset({"simperf"})


@dataclasses.dataclass(frozen=True)
class ItemSpec:
    """What the markers of one test say, parsed once at collection."""

    is_perf: bool
    uses_fixture: bool
    options: TestOptions
    slas: tuple[SlaMarker, ...]


SESSION_KEY: pytest.StashKey[Any] = pytest.StashKey()
OPTIONS_KEY = pytest.StashKey[OptionValues]()
SETTINGS_KEY = pytest.StashKey[Settings]()
SPEC_KEY = pytest.StashKey[ItemSpec]()
RESULT_KEY = pytest.StashKey[Any]()
REPORT_KEY = pytest.StashKey[dict[str, Any]]()
# Without --simperf: the perf tests collected, then how many of them were selected.
UNMEASURED_KEY = pytest.StashKey[frozenset[str]]()
UNMEASURED_COUNT_KEY = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", SLA_SIGNATURE)
    config.addinivalue_line("markers", SIMPERF_SIGNATURE)
    try:
        values = read_options(config)
    except UsageError as exc:
        raise pytest.UsageError(f"pytest-simperf: {exc}") from None
    config.stash[OPTIONS_KEY] = values
    if not values.enabled:
        # Nothing is measured: no session, no outcome or xdist bookkeeping (they only feed the
        # end-of-session report, which is not made). ``simperf_session`` creates one on demand.
        return
    session = simperf_session(config)
    if session.settings.child_dir is not None:
        _configure_child(config, session)
        return
    from pytest_simperf.child import ChildSpec, child_args

    session.child_spec = ChildSpec(
        python=sys.executable,
        cwd=config.invocation_params.dir,
        rootdir=config.rootpath,
        inifile=config.inipath,
        args=child_args(config.invocation_params.args, config.args),
        xdist=config.pluginmanager.hasplugin("xdist"),
    )

    def progress(message: str) -> None:
        # Looked up when needed: pytest registers its reporter in its own pytest_configure.
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(message)

    session.progress = progress
    config.pluginmanager.register(OutcomeHooks(session), "simperf-outcomes")
    if config.pluginmanager.hasplugin("xdist") and getattr(config, "workerinput", None) is None:
        config.pluginmanager.register(XdistHooks(session), "simperf-xdist")


def simperf_enabled(config: pytest.Config) -> bool:
    """Do perf tests run in this session (``--simperf``, its ini twin, a baseline update)?"""
    values = config.stash.get(OPTIONS_KEY, None)
    return values is not None and values.enabled


def simperf_settings(config: pytest.Config) -> Settings:
    """This session's settings, built on first use (building them imports ``stats``)."""
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        settings = config.stash[OPTIONS_KEY].settings()
        config.stash[SETTINGS_KEY] = settings
    return settings


def simperf_session(config: pytest.Config) -> SimperfSession:
    """This process's session, created on first use: at configure time under ``--simperf``,
    otherwise by whatever needs it (a fixture preparing a DuckDB connection). Feature plugins
    call this rather than ``session.get_session``, which only finds an existing session."""
    session: SimperfSession | None = config.stash.get(SESSION_KEY, None)
    if session is None:
        from pytest_simperf.session import SimperfSession

        worker = getattr(config, "workerinput", None)
        session = SimperfSession(
            simperf_settings(config),
            config.rootpath,
            worker_id=None if worker is None else worker["workerid"],
        )
        config.stash[SESSION_KEY] = session
    return session


def _configure_child(config: pytest.Config, session: SimperfSession) -> None:
    """A child process (``child``): run the requested tests, count or time them, report back."""
    from pytest_simperf.child import read_request

    folder = session.settings.child_dir
    assert folder is not None
    try:
        mode, nodeids = read_request(folder)
    except (OSError, ValueError, KeyError) as exc:
        raise pytest.UsageError(f"pytest-simperf: --simperf-child {folder}: {exc}") from None
    if mode == "instructions":
        from pytest_simperf.valgrind import ClientRequests, RegionCounter

        try:
            requests = ClientRequests()
        except OSError as exc:
            raise pytest.UsageError(f"pytest-simperf: {exc}") from None
        if not requests.running_on_valgrind():
            raise pytest.UsageError(
                "pytest-simperf: the counting child is not running under valgrind"
            )
        session.counter = RegionCounter(requests)
    config.pluginmanager.register(ChildHooks(session, set(nodeids)), "simperf-child")


class ChildHooks:
    """Registered in a child process only: select the requested tests, report their outcome."""

    def __init__(self, session: Any, nodeids: set[str]) -> None:
        self.session = session
        self.nodeids = nodeids

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        keep = [item for item in items if item.nodeid in self.nodeids]
        dropped = [item for item in items if item.nodeid not in self.nodeids]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = keep

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.failed or (report.skipped and report.when != "teardown"):
            error = str(report.longrepr).strip().splitlines()[-1:] if report.longrepr else []
            outcome = "skipped" if report.skipped else "failed"
            self.session.child_outcome(report.nodeid, outcome, error[0] if error else None)
        elif report.when == "call":
            self.session.child_outcome(report.nodeid, "passed", None)


class OutcomeHooks:
    """Records each perf test's final outcome, after our own failures were applied."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.session.set_outcome(report.nodeid, report.outcome)
        elif report.failed:
            self.session.set_outcome(report.nodeid, "error")


class XdistHooks:
    """Registered on the xdist controller only: merge each worker's results as they arrive."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.alive: set[str] = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Each judged test travels with its report, so a worker that crashes later loses nothing
        # it already judged. Before OutcomeHooks, which needs the test to be known.
        payload = getattr(report, "simperf_payload", None)
        if payload:
            self.session.merge_worker(json.loads(payload))

    @pytest.hookimpl
    def pytest_testnodeready(self, node: Any) -> None:
        # Workers at once, not workers ever started: a crashed worker is replaced.
        self.alive.add(node.gateway.id)
        self.session.xdist_workers = max(self.session.xdist_workers, len(self.alive))

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        payload = getattr(node, "workeroutput", {}).get("simperf")
        self.alive.discard(node.gateway.id)
        if payload:
            self.session.merge_worker(json.loads(payload))
        elif error:
            self.session.worker_errors.append(f"worker {node.gateway.id} crashed: {error}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Parse markers (errors name the test), skip perf tests under --simperf-skip, and under
    --simperf note every test (a baseline entry whose test is gone is reported stale).

    Without --simperf only the markers are checked and no ``ItemSpec`` is stored: nothing reads
    one when nothing is measured; perf tests then run once, unmeasured, unless skipped.
    """
    enabled = simperf_enabled(config)
    skip = not enabled and config.stash[OPTIONS_KEY].skip
    errors: list[str] = []
    perf: list[str] = []
    for item in items:
        try:
            if enabled:
                spec = _item_spec(item, simperf_settings(config))
                item.stash[SPEC_KEY] = spec
                is_perf = spec.is_perf
            else:
                is_perf = _check_markers(item, config)
        except UsageError as exc:
            errors.append(str(exc))
            continue
        if is_perf:
            perf.append(item.nodeid)
            if skip:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
    if errors:
        raise pytest.UsageError("pytest-simperf: invalid marker\n  " + "\n  ".join(errors))
    if enabled:
        simperf_session(config).note_collected((item.nodeid for item in items), perf=perf)
    elif not skip:
        config.stash[UNMEASURED_KEY] = frozenset(perf)


def _perf_marks(item: pytest.Item) -> tuple[tuple[SlaMarker, ...], list[pytest.Mark], bool]:
    """The test's parsed ``sla`` markers, its ``simperf`` markers, and whether it uses the
    ``simperf`` fixture: any of them makes it a perf test."""
    slas: tuple[SlaMarker, ...] = ()
    sla_marks = list(item.iter_markers("sla"))
    if sla_marks:
        from pytest_simperf.markers import parse_sla

        slas = tuple(parse_sla(m.args, m.kwargs, item.nodeid) for m in sla_marks)
    fixturenames = set(getattr(item, "fixturenames", ()))
    return slas, list(item.iter_markers("simperf")), bool(fixturenames & PERF_FIXTURES)


def _item_spec(item: pytest.Item, settings: Settings) -> ItemSpec:
    from pytest_simperf.markers import default_test_options, parse_simperf

    slas, simperf_marks, uses_fixture = _perf_marks(item)
    options = (
        parse_simperf(simperf_marks[0].args, simperf_marks[0].kwargs, item.nodeid, settings)
        if simperf_marks
        else default_test_options(settings)
    )
    return ItemSpec(
        is_perf=bool(slas or simperf_marks or uses_fixture),
        uses_fixture=uses_fixture,
        options=options,
        slas=slas,
    )


def _check_markers(item: pytest.Item, config: pytest.Config) -> bool:
    """Without --simperf: validate the test's markers as ``_item_spec`` would; is it a perf
    test? Settings are built only when a ``simperf`` marker has to be checked against them."""
    slas, simperf_marks, uses_fixture = _perf_marks(item)
    if simperf_marks:
        from pytest_simperf.markers import parse_simperf

        mark = simperf_marks[0]
        parse_simperf(mark.args, mark.kwargs, item.nodeid, simperf_settings(config))
    return bool(slas or simperf_marks or uses_fixture)


@pytest.fixture
def simperf(request: pytest.FixtureRequest) -> Generator[Any, None, None]:
    """Measure regions of a performance test: ``measure(fn)``, ``phase(name, year=)``,
    ``track(con)``, ``record(name, samples_s=)``. Without --simperf the test runs once and
    nothing is measured (``UnmeasuredSimperf``).

    While the test runs, every DuckDB connection it opens (``duckdb.connect``, cursors, dbt's)
    is tracked and its threads pinned, unless ``simperf(track_connections=False)``.
    """
    if not simperf_enabled(request.config):
        from pytest_simperf.unmeasured import UnmeasuredSimperf

        yield UnmeasuredSimperf(request.node.nodeid)
        return
    from pytest_simperf.fixtures import Simperf
    from pytest_simperf.markers import default_test_options

    spec = request.node.stash.get(SPEC_KEY, None)
    session = simperf_session(request.config)
    options = spec.options if spec is not None else default_test_options(session.settings)
    measurer = Simperf(session.context_for(request.node.nodeid, options))
    if options.track_connections and session.settings.enabled:
        with measurer.intercept_connections():
            yield measurer
    else:
        yield measurer


@pytest.fixture
def duckdb_con(request: pytest.FixtureRequest) -> Generator[Any, None, None]:
    """An in-memory DuckDB connection, threads pinned for stable timings, tracked by simperf."""
    import duckdb

    from pytest_simperf.fixtures import prepare_connection

    simperf_session(request.config)  # prepare_connection looks it up; it may not exist yet
    raw = duckdb.connect(":memory:")
    try:
        yield prepare_connection(request, raw)
    finally:
        raw.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    spec = item.stash.get(SPEC_KEY, None)
    if spec is None or not spec.is_perf or not simperf_enabled(item.config):
        return (yield)
    session = simperf_session(item.config)
    from pytest_simperf.child import region_label
    from pytest_simperf.results import PhaseRecord

    try:
        if spec.uses_fixture:
            result = yield
        elif session.counter is not None:
            with _pinned(session, spec), session.counter.region(region_label(item.nodeid, "call")):
                result = yield
            session.add_record(
                item.nodeid, spec.options, PhaseRecord(name="call", year=None, samples_s=[0.0])
            )
        else:
            clock = time_clock()
            with _pinned(session, spec), session.memory.region() as region:
                t0 = clock()
                result = yield
                elapsed = clock() - t0
            session.add_record(
                item.nodeid,
                spec.options,
                PhaseRecord(
                    name="call",
                    year=None,
                    samples_s=[elapsed],
                    source="call",
                    start_rss_mb=region.start_mb,
                    peak_rss_mb=region.peak_mb,
                ),
            )
    except BaseException:
        session.finish_test(item.nodeid, spec.options, list(spec.slas))
        session.tests.pop(item.nodeid, None)
        raise
    try:
        judged = session.finish_test(item.nodeid, spec.options, list(spec.slas))
    except SimperfError as exc:
        raise pytest.fail.Exception(f"pytest-simperf: {exc}", pytrace=False) from None
    if judged is not None:
        item.stash[RESULT_KEY] = judged
        report = judged.report
        item.user_properties.extend(
            [
                ("simperf_severity", report["severity"]),
                ("simperf_sla_status", report["sla_status"] or ""),
                ("simperf_baseline", report["baseline_status"]),
                ("simperf_phases", json.dumps(_junit_phases(report), sort_keys=True)),
            ]
        )
        session.queue_baseline(item.nodeid)
    return result


def _pinned(session: SimperfSession, spec: ItemSpec) -> contextlib.AbstractContextManager[Any]:
    """For a marked test without the fixture: pin the threads of every DuckDB connection it
    opens, as the fixture does (memory and time are then like for like across machines)."""
    if not spec.options.track_connections:
        return contextlib.nullcontext()
    from pytest_simperf.measure import configure_duckdb, intercept_connections

    threads = session.settings.duckdb_threads
    return intercept_connections(lambda con: configure_duckdb(con, threads))


def time_clock() -> Any:
    import time

    return time.perf_counter


def _junit_phases(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each phase's judged figure (metric, value, baseline, Δ%) first, wall time as secondary."""
    keep = (
        "name",
        "year",
        "metric",
        "value",
        "baseline_value",
        "change_pct",
        "severity",
        "median_s",
        "baseline_median_s",
        "sla_status",
    )
    return [{k: p.get(k) for k in keep} for p in report["phases"]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call":
        return report
    judged = item.stash.get(RESULT_KEY, None)
    if judged is None:
        return report
    report.sections.append(("simperf", judged.section))
    if report.passed and judged.failures:
        from pytest_simperf.report.reasons import failure_headline

        # pytest shows only the first line in `-r` summaries, CI annotations and the JUnit
        # message: it carries the first reason; the full list follows, as before.
        report.outcome = "failed"
        report.longrepr = (
            f"pytest-simperf: {failure_headline(judged.report, judged.failures)}\n"
            + "\n".join(f"  {f}" for f in judged.failures)
        )
    if getattr(item.config, "workerinput", None) is not None:
        # xdist serialises report attributes: the controller merges this in XdistHooks.
        report.simperf_payload = json.dumps(  # type: ignore[attr-defined]
            simperf_session(item.config).test_payload(item.nodeid)
        )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if not simperf_enabled(config):
        return
    simperf = simperf_session(config)
    if simperf.settings.child_dir is not None:
        from pytest_simperf.child import write_result

        write_result(simperf.settings.child_dir, simperf.child_tests, {})
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["simperf"] = json.dumps(simperf.worker_payload())
        return
    report = simperf.finish(int(exitstatus))
    if report["baselines"]["errors"] and simperf.settings.update_baseline and exitstatus == 0:
        # A recording step that wrote nothing must not pass in CI: every test passed, but a
        # baseline could not be written (the terminal summary says which and why).
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        report["run"]["exit_status"] = int(session.exitstatus)
    from pytest_simperf.markers import shadowed_component_slas

    # Before the outputs are written: the JSON report carries the same lines as the terminal.
    report["sla_shadowed"] = shadowed_component_slas(report)
    config.stash[REPORT_KEY] = report
    from pytest_simperf.report.outputs import write_outputs

    report["output_errors"] = write_outputs(report, simperf.settings)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Without --simperf, count the selected perf tests (for the closing note). With
    --simperf-instructions, group the selected perf tests into counting batches.

    One valgrind child per test module: its start-up (interpreter, imports, fixtures under
    valgrind) is paid once per module rather than once per test. An xdist worker runs each test
    on its own, since it does not know which tests it will get.
    """
    config = session.config
    perf = config.stash.get(UNMEASURED_KEY, None)
    if perf:
        config.stash[UNMEASURED_COUNT_KEY] = sum(1 for item in session.items if item.nodeid in perf)
    if not simperf_enabled(config) or not simperf_settings(config).instructions:
        return
    if getattr(config, "workerinput", None) is not None:
        return
    batches: dict[str, list[str]] = {}
    for item in session.items:
        spec = item.stash.get(SPEC_KEY, None)
        if spec is not None and spec.is_perf and spec.options.instructions:
            batches.setdefault(item.nodeid.partition("::")[0], []).append(item.nodeid)
    simperf = simperf_session(config)
    for batch in batches.values():
        for nodeid in batch:
            simperf.count_batches[nodeid] = batch


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    if report is None:
        _unmeasured_note(terminalreporter, config)
        return
    from pytest_simperf.report.terminal import render_summary

    terminalreporter.write_sep("=", "pytest-simperf")
    for line in render_summary(report).splitlines():
        terminalreporter.write_line(line)
    for line in report.get("sla_shadowed") or ():
        terminalreporter.write_line(line)


def _unmeasured_note(terminalreporter: Any, config: pytest.Config) -> None:
    """Without --simperf: say that the selected perf tests ran as plain tests, once.

    A newcomer who sees them pass should not believe they were measured against baselines.
    """
    count = config.stash.get(UNMEASURED_COUNT_KEY, 0)
    if count and getattr(config, "workerinput", None) is None:
        tests = "test" if count == 1 else "tests"
        terminalreporter.write_line(
            f"pytest-simperf: {count} performance {tests} selected, run once without measuring "
            "(`pytest --simperf` measures them against baselines; --simperf-skip skips them)"
        )
