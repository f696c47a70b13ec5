"""Run a dbt-duckdb project in-process and turn dbt's run results into timings.

dbt is driven through its programmatic entry point (``dbt.cli.main.dbtRunner``), never a shell:
a subprocess per invocation would add seconds of interpreter start-up to every year and hide
where the time goes.

Parsing is done apart from the run, so its cost is a figure of its own, and a parse is reused
only when it provably is the parse dbt would make: the same vars (all of them: a parse-time
``{% if var('simulation_year') == ... %}`` decides which ``ref()`` a model has), the same project
files, profile and environment. dbt compiles into the manifest it is handed (ephemeral models
keep their first compilation, and a model compiled once never gets its CTEs injected again), so
every invocation gets its own copy of a never-compiled manifest, never one a run has touched.

Everything dbt writes (profile, ``target/``, ``logs/``) goes into a working directory the caller
owns, so the project folder stays clean and parallel runs never share files. dbt is imported
inside functions only: this module is imported by the pytest plugin at start-up.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import os
import re
import textwrap
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from pytest_simperf.dbt.sequence import PythonStep, YearSequence, as_sequence
from pytest_simperf.errors import SimperfError, UsageError

#: dbt commands this runner drives; all of them return per-node run results.
COMMANDS = ("build", "run", "seed", "test")
#: Node types that do work worth timing as a phase (tests are checks, not pipeline steps).
TIMED_RESOURCE_TYPES = ("model", "seed", "snapshot")
#: Statuses of a node that did not go through.
FAILED_STATUSES = frozenset({"error", "fail", "runtime error", "skipped"})
#: How a failure ranks in a failure message, worst first: a node that broke, then a data test
#: that found bad rows; nodes skipped because of them are listed last, on one line.
_FAILURE_RANK = {"error": 0, "runtime error": 0, "fail": 1}
#: Parsed manifests a project keeps, one per set of parse inputs: enough for every year of a
#: multi-year run, so that later rounds reuse them, and bounded so that a long run does not keep
#: one manifest per year in memory (and in the memory figures) for ever.
MANIFEST_CACHE_SIZE = 16
#: Files up to this size are fingerprinted by content; larger ones (a big seed CSV, which dbt
#: reads at run time anyway) by size and modification time only, so a check stays cheap.
_CONTENT_HASH_LIMIT = 4 * 1024 * 1024
#: Top-level folders of a project that dbt writes and never parses (this runner writes them in
#: its own working directory; a manual ``dbt build`` leaves them in the project).
_WRITTEN_DIRS = frozenset({"target", "logs"})
_PROFILE_RE = re.compile(r"""^profile\s*:\s*["']?([^"'\s#]+)""", re.MULTILINE)


class DbtRunError(SimperfError):
    """A dbt invocation failed: names the failing nodes and carries dbt's own messages.

    The database is left as dbt left it (dbt-duckdb writes each model in a transaction, so a
    failing model does not destroy the tables built before it); nothing else is touched.
    """

    def __init__(self, message: str, invocation: DbtInvocation | None = None) -> None:
        super().__init__(message)
        self.invocation = invocation


@dataclasses.dataclass(frozen=True)
class NodeResult:
    """One node of one dbt invocation, as dbt reported it."""

    name: str
    unique_id: str
    resource_type: str
    status: str
    execution_time: float
    rows_affected: int | None
    message: str | None
    relation_name: str | None = None
    materialized: str | None = None

    @property
    def failed(self) -> bool:
        return self.status in FAILED_STATUSES


@dataclasses.dataclass(frozen=True)
class DbtRequest:
    """A dbt invocation about to run, as the ``around_parse`` / ``around_run`` hooks see it."""

    command: str
    year: int | None
    #: Re-running a year that is already built (``rebuild_year``): judged apart from first
    #: builds, since an incremental strategy can be slow only there.
    rebuild: bool = False
    #: The year sequence's step this invocation runs (``DbtStep.key``), or a Python step's
    #: name; ``None`` for a direct call or a sequence of one unnamed step.
    step: str | None = None


@dataclasses.dataclass(frozen=True)
class YearProgress:
    """Where a multi-year run stands, after each step (``kind="step"``) and each year
    (``kind="year"``): what a progress line says while a long run works."""

    kind: str
    year: int
    round: int
    rounds: int
    #: The year's position in the run (1-based) and how many years the run has.
    index: int
    years: int
    rebuild: bool
    #: The step's label (``kind="step"``); ``None`` for a year.
    step: str | None
    #: Models, seeds and snapshots dbt built in the step or the year.
    models: int
    seconds: float
    #: Steps the year has.
    steps: int = 1


@dataclasses.dataclass(frozen=True)
class DbtInvocation:
    """One dbt command: what was asked, how long it took, and each node's result.

    ``wall_s`` is dbt's run only. Parsing is apart: ``parse_s`` is the seconds this invocation
    spent parsing the project, ``None`` when it reused an earlier parse of the same inputs
    (``manifest_reused``) or when dbt parsed inside the run (``reuse_manifest=False``, where
    the parse is part of ``wall_s``).
    """

    command: str
    args: tuple[str, ...]
    vars: Mapping[str, Any]
    year: int | None
    full_refresh: bool
    success: bool
    wall_s: float
    results: tuple[NodeResult, ...]
    error: str | None = None
    parse_s: float | None = None
    manifest_reused: bool = False
    rebuild: bool = False
    #: Error messages dbt logged (its ``RunResultError`` events), including those of nodes that
    #: have no result of their own: an ephemeral model that fails to compile.
    logged_errors: tuple[str, ...] = ()
    #: The key of the year sequence's step that ran this invocation (``DbtStep.key``), or
    #: ``None`` for a direct call or a sequence of one unnamed step.
    step: str | None = None

    @property
    def models(self) -> tuple[NodeResult, ...]:
        """The nodes that are pipeline steps (models, seeds, snapshots), not tests."""
        return tuple(r for r in self.results if r.resource_type in TIMED_RESOURCE_TYPES)

    @property
    def tests(self) -> tuple[NodeResult, ...]:
        return tuple(r for r in self.results if r.resource_type == "test")

    @property
    def failures(self) -> tuple[NodeResult, ...]:
        return tuple(r for r in self.results if r.failed)

    @property
    def node_time_s(self) -> float:
        """Time dbt spent inside nodes (models, seeds, tests): the work it was asked to do."""
        return sum(r.execution_time for r in self.results)

    @property
    def model_time_s(self) -> float:
        return sum(r.execution_time for r in self.models)

    @property
    def overhead_s(self) -> float:
        """dbt's own cost: wall time minus time inside nodes (start-up, graph, compile, I/O)."""
        return max(0.0, self.wall_s - self.node_time_s)

    def result(self, name: str) -> NodeResult:
        """The result of the node called ``name`` (a model name, say)."""
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(f"no node named {name!r} in this dbt {self.command}")

    def describe_failure(self) -> str:
        """One message naming every failing node with dbt's error, worst first: dbt's own
        exception, nodes that broke (with errors dbt logged for a node it does not report, such as
        an ephemeral model, which is compiled into the models that read it), data tests that
        failed, nodes skipped for a stated reason, then those skipped because of the above."""
        head = f"dbt {self.command}"
        if self.year is not None:
            head += f" (simulation year {self.year})"
        ranked: list[tuple[int, str]] = []
        shown: list[str] = []
        for r in self.failures:
            if r.status == "skipped" and not r.message:
                continue
            message = (r.message or "").strip() or "(dbt gave no message)"
            ranked.append(
                (
                    _FAILURE_RANK.get(r.status, 2),
                    f"  {r.resource_type} {r.name} [{r.status}]: {_indented(message)}",
                )
            )
            shown.append(_squashed(message))
        for text in self.logged_errors:
            squashed = _squashed(text)
            if squashed and not any(squashed in seen or seen in squashed for seen in shown):
                ranked.append((0, f"  {_indented(textwrap.dedent(text))}"))
                shown.append(squashed)
        lines = [f"  {self.error}"] if self.error else []
        lines += [line for _rank, line in sorted(ranked, key=lambda item: item[0])]
        skipped = [r for r in self.failures if r.status == "skipped" and not r.message]
        if skipped:
            # Pipeline steps by name; data tests only counted: they are most of a long list.
            named = [r.name for r in skipped if r.resource_type != "test"]
            tests = len(skipped) - len(named)
            if tests:
                named.append(f"{tests} data test{'s' if tests > 1 else ''}")
            text = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
            lines.append(f"  skipped because of the above: {text}")
        if not lines:
            lines.append("  dbt reported failure without naming a node")
        return f"{head} failed:\n" + "\n".join(lines)


def _indented(message: str) -> str:
    """A multi-line dbt message, its continuation lines indented under the first."""
    return "\n      ".join(line.rstrip() for line in message.strip().splitlines())


def _squashed(text: str) -> str:
    """``text`` with all runs of whitespace made one space: dbt indents one message differently
    in a node's result and in its log."""
    return " ".join(text.split())


def profile_name(project_dir: Path) -> str:
    """The ``profile:`` a dbt project asks for (read without a YAML library: one key)."""
    config = project_dir / "dbt_project.yml"
    try:
        text = config.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"not a dbt project: cannot read {config} ({exc})") from exc
    match = _PROFILE_RE.search(text)
    if match is None:
        raise UsageError(f"{config} has no 'profile:' key; pytest-simperf writes that profile")
    return match.group(1)


def profile_document(
    profile: str, database_path: Path, *, duckdb_threads: int | None, target: str = "simperf"
) -> dict[str, Any]:
    """The profiles.yml content (as data) pointing ``profile`` at one DuckDB file.

    dbt's own ``threads`` is 1 so models run one at a time and each model's time is its own;
    DuckDB's threads come from pytest-simperf's setting (``None`` leaves DuckDB's default).
    """
    output: dict[str, Any] = {"type": "duckdb", "path": str(database_path), "threads": 1}
    if duckdb_threads is not None:
        output["settings"] = {"threads": int(duckdb_threads)}
    return {profile: {"target": target, "outputs": {target: output}}}


#: DuckDB thread settings in SQL a project runs itself (``on-run-start``, hooks, models).
_THREADS_SQL_RE = re.compile(r"\b(pragma|set)\s+threads\b", re.IGNORECASE)


def default_profiles_dir(project_dir: Path) -> Path:
    """Where dbt itself looks for ``profiles.yml``: ``DBT_PROFILES_DIR``, else the project
    folder when it holds one, else ``~/.dbt``."""
    env = os.environ.get("DBT_PROFILES_DIR")
    if env:
        return Path(env).expanduser()
    if (project_dir / "profiles.yml").is_file():
        return project_dir
    return Path.home() / ".dbt"


def user_profile_document(
    profiles_dir: Path,
    profile: str,
    target: str | None,
    database_path: Path,
    *,
    duckdb_threads: int | None,
) -> tuple[dict[str, Any], list[str]]:
    """The user's own profile and target, with only what pytest-simperf needs changed: the
    database ``path`` (the test's own file), dbt's ``threads`` (1: one model at a time, so a
    model's time and counters are its own) and DuckDB's ``settings.threads`` (the session's
    setting). Extensions, attachments, plugins, other settings and ``env_var()`` calls stay as
    written. Returns the document (the one target, as the profile's default) and one line per
    override, ``"path: a → b"``."""
    import yaml  # type: ignore[import-untyped]  # dbt depends on PyYAML; no stubs here

    source = profiles_dir / "profiles.yml"
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UsageError(f"simperf_dbt: cannot read the profiles file {source}: {exc}") from exc
    entry = document.get(profile) if isinstance(document, dict) else None
    if not isinstance(entry, dict) or not isinstance(entry.get("outputs"), dict):
        raise UsageError(f"simperf_dbt: {source} has no profile {profile!r} with outputs")
    chosen = target or entry.get("target")
    if not isinstance(chosen, str) or chosen not in entry["outputs"]:
        raise UsageError(
            f"simperf_dbt: profile {profile!r} in {source} has no target {chosen!r}; it has "
            f"{', '.join(sorted(map(str, entry['outputs'])))}"
        )
    output = copy.deepcopy(entry["outputs"][chosen])
    if not isinstance(output, dict) or output.get("type") != "duckdb":
        kind = output.get("type") if isinstance(output, dict) else output
        raise UsageError(
            f"simperf_dbt: target {chosen!r} of profile {profile!r} in {source} is of type "
            f"{kind!r}; pytest-simperf runs dbt-duckdb targets only"
        )
    overrides: list[str] = []

    def override(where: dict[str, Any], key: str, value: Any, label: str) -> None:
        before = where.get(key)
        if before != value:
            overrides.append(f"{label}: {'(unset)' if before is None else before} → {value}")
        where[key] = value

    override(output, "path", str(database_path), "path")
    override(output, "threads", 1, "threads")
    if duckdb_threads is not None:
        settings = output.get("settings")
        if not isinstance(settings, dict):
            settings = {}
        override(settings, "threads", int(duckdb_threads), "settings.threads")
        output["settings"] = settings
    return {profile: {"target": chosen, "outputs": {chosen: output}}}, overrides


def threads_set_by_project(project_dir: Path) -> list[str]:
    """Files of the project whose SQL sets DuckDB's threads itself (``PRAGMA threads`` or
    ``SET threads``, in ``on-run-start``, a hook or a model): pytest-simperf sets them again on
    every connection and cursor dbt opens, so theirs do not hold."""
    found = []
    for path in _project_files(project_dir):
        if path.suffix not in (".sql", ".yml", ".yaml"):
            continue
        try:
            if _THREADS_SQL_RE.search(path.read_text(encoding="utf-8", errors="replace")):
                found.append(path.relative_to(project_dir).as_posix())
        except OSError:
            continue
    return found


def node_result(raw: Any) -> NodeResult:
    """Convert one of dbt's ``RunResult`` objects (duck-typed, so tests need no dbt)."""
    node = raw.node
    response = raw.adapter_response or {}
    rows = response.get("rows_affected") if isinstance(response, Mapping) else None
    return NodeResult(
        name=str(node.name),
        unique_id=str(node.unique_id),
        resource_type=str(getattr(node.resource_type, "value", node.resource_type)),
        status=str(getattr(raw.status, "value", raw.status)),
        execution_time=float(raw.execution_time or 0.0),
        rows_affected=int(rows) if isinstance(rows, int) and rows >= 0 else None,
        message=None if raw.message is None else str(raw.message),
        relation_name=getattr(node, "relation_name", None),
        materialized=getattr(getattr(node, "config", None), "materialized", None),
    )


def _project_files(project_dir: Path) -> Iterator[Path]:
    """Every file dbt could read while parsing ``project_dir``, in a stable order.

    Hidden entries and ``__pycache__`` are skipped, and the top-level folders dbt writes
    (``target/``, ``logs/``); links are followed, as dbt follows them (a local package is a
    link in ``dbt_packages/``).
    """
    for root, dirs, files in os.walk(project_dir, followlinks=True):
        top = Path(root) == project_dir
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and d != "__pycache__" and not (top and d in _WRITTEN_DIRS)
        )
        for name in sorted(files):
            if not name.startswith("."):
                yield Path(root) / name


def project_digest(project_dir: Path) -> str:
    """A digest of the project's files: relative path, size, modification time and content.

    Two parses of a project with the same digest (and the same vars, profile and environment)
    read the same text, so one can stand for the other. Files past ``_CONTENT_HASH_LIMIT``
    count by size and time only.
    """
    digest = hashlib.blake2b(digest_size=20)
    for path in _project_files(project_dir):
        try:
            stat = path.stat()
            content = path.read_bytes() if stat.st_size <= _CONTENT_HASH_LIMIT else b""
        except OSError:
            continue  # a dangling link: dbt cannot read it either
        relative = path.relative_to(project_dir).as_posix()
        digest.update(f"{relative}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
        digest.update(hashlib.blake2b(content, digest_size=20).digest())
    return digest.hexdigest()


def parse_key(
    parse_args: Sequence[str], profile: bytes, environ: Mapping[str, str], files: str
) -> str:
    """What decides a parse's result, as one string: the ``dbt parse`` command line (every vars
    and path), the profile's text (target, database, threads), the environment (``env_var()``
    and dbt's ``DBT_*`` settings) and the project files' digest."""
    digest = hashlib.blake2b(digest_size=20)
    for part in (
        json.dumps(list(parse_args)),
        profile.decode("utf-8", "replace"),
        json.dumps(sorted(environ.items())),
        files,
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def fresh_copy(manifest: Any) -> Any:
    """A deep copy of a parsed, never-compiled dbt ``Manifest`` for one invocation to compile.

    dbt's own ``deepcopy()`` leaves out the parent and child maps, and pickling (which
    ``copy.deepcopy`` would use) puts attributes in the wrong places in dbt 1.11, so every
    attribute is copied here, with one memo so that shared objects stay shared, except the
    lock, which cannot be copied and is made anew.
    """
    from dbt.mp_context import get_mp_context

    state = {key: value for key, value in vars(manifest).items() if key != "_lock"}
    copied = object.__new__(type(manifest))
    copied.__dict__.update(copy.deepcopy(state))
    if "_lock" in vars(manifest):
        copied._lock = get_mp_context().Lock()
    return copied


def _validate_select(select: str | Sequence[str] | None, what: str) -> list[str]:
    if select is None:
        return []
    items = [select] if isinstance(select, str) else list(select)
    if not all(isinstance(s, str) and s.strip() for s in items):
        raise UsageError(f"{what} must be a non-empty string or a list of them, got {select!r}")
    return [s.strip() for s in items]


class DbtProject:
    """A dbt-duckdb project bound to one database file and one working directory.

    ``year_var`` / ``start_year_var`` name the project's vars for the simulation year and the
    first year (``start_year_var=None`` if the project has none); ``vars`` are passed to every
    invocation; ``census_parquet`` sets the var named ``census_var`` so the project reads the
    census from that file instead of the ``census`` table.

    ``reuse_manifest`` (default) parses apart from the run and reuses a parse only for the same
    inputs (see the module doc); ``False`` hands dbt nothing, so it parses inside every run as
    ``dbt build`` on the command line does (the parse is then part of ``wall_s``).
    ``console_log=False`` keeps dbt's log off the console (it still goes to ``log_file``).
    ``profiles_dir`` / ``target`` use the user's own profile (``user_profile_document``: only
    the database path and threads overridden, listed in ``profile_overrides``) instead of a
    generated one.
    """

    def __init__(
        self,
        project_dir: str | Path,
        database_path: str | Path,
        work_dir: str | Path,
        *,
        duckdb_threads: int | None = 1,
        vars: Mapping[str, Any] | None = None,
        census_parquet: str | Path | None = None,
        census_var: str = "census_parquet",
        year_var: str = "simulation_year",
        start_year_var: str | None = "start_year",
        start_year: int | None = None,
        reuse_manifest: bool = True,
        console_log: bool = True,
        profiles_dir: str | Path | None = None,
        target: str | None = None,
    ) -> None:
        self.project_dir = Path(project_dir).resolve()
        if not (self.project_dir / "dbt_project.yml").is_file():
            raise UsageError(f"not a dbt project (no dbt_project.yml): {self.project_dir}")
        self.database_path = Path(database_path).resolve()
        self.work_dir = Path(work_dir).resolve()
        self.duckdb_threads = duckdb_threads
        self.vars: dict[str, Any] = dict(vars or {})
        if not isinstance(census_var, str) or not census_var.strip():
            raise UsageError(f"census_var must name a dbt var, got {census_var!r}")
        self.census_var = census_var.strip()
        if census_parquet is not None:
            self.vars[self.census_var] = str(Path(census_parquet).resolve())
        self.year_var = year_var
        self.start_year_var = start_year_var
        self.start_year = start_year
        self.reuse_manifest = reuse_manifest
        self.console_log = console_log
        self.invocations: list[DbtInvocation] = []
        #: Called with every invocation as soon as dbt returns, failed ones included.
        self.listeners: list[Callable[[DbtInvocation], None]] = []
        #: Entered around dbt's own run only (after parsing): lets a caller time, or measure the
        #: memory of, exactly what the invocation's ``wall_s`` is.
        self.around_run: Callable[[DbtRequest], AbstractContextManager[Any]] = lambda _request: (
            nullcontext()
        )
        #: Entered around each parse (not around a reused one): ``parse_s`` of the invocation.
        self.around_parse: Callable[[DbtRequest], AbstractContextManager[Any]] = lambda _request: (
            nullcontext()
        )
        #: Entered around each node's run inside dbt (from dbt's ``NodeStart`` to its
        #: ``NodeFinished`` event, in dbt's worker thread), given the request and the node's
        #: ``unique_id``: with dbt's ``threads: 1`` only one node runs at a time, so what is
        #: measured there (DuckDB's work counters) is that node's.
        self.around_node: Callable[[DbtRequest, str], AbstractContextManager[Any]] = (
            lambda _request, _unique_id: nullcontext()
        )
        #: Entered around each Python step of a year sequence (``DbtRequest.step`` names it).
        self.around_step: Callable[[DbtRequest], AbstractContextManager[Any]] = lambda _request: (
            nullcontext()
        )
        #: Called after each step and each year of ``run_years``/``rebuild_year`` (progress).
        self.progress: list[Callable[[YearProgress], None]] = []
        #: The clock progress is timed with (injectable for tests).
        self.clock: Callable[[], float] = time.perf_counter
        #: Never-compiled manifests by ``parse_key``, least recently used first.
        self._manifests: OrderedDict[str, Any] = OrderedDict()
        #: How many times this project parsed (reused parses do not count).
        self.parse_count = 0
        #: The user's profiles folder and target, when the profile is built from theirs.
        self.user_profiles_dir = None if profiles_dir is None else Path(profiles_dir).resolve()
        self.target = target
        if target is not None and (not isinstance(target, str) or not target.strip()):
            raise UsageError(f"target must name a target of the profile, got {target!r}")
        #: What pytest-simperf changed in the user's profile, one ``"key: old → new"`` each.
        self.profile_overrides: list[str] = []
        self.profiles_dir = self.work_dir / "profiles"
        self.target_path = self.work_dir / "target"
        self.log_path = self.work_dir / "logs"
        self._write_profile()

    @property
    def log_file(self) -> Path:
        """dbt's full log of every invocation (debug level), whatever reaches the console."""
        return self.log_path / "dbt.log"

    def _write_profile(self) -> None:
        self.profiles_dir.mkdir(parents=True, exist_ok=True)
        profile = profile_name(self.project_dir)
        if self.user_profiles_dir is None and self.target is None:
            document = profile_document(
                profile, self.database_path, duckdb_threads=self.duckdb_threads
            )
        else:
            source = self.user_profiles_dir or default_profiles_dir(self.project_dir)
            document, self.profile_overrides = user_profile_document(
                source,
                profile,
                self.target,
                self.database_path,
                duckdb_threads=self.duckdb_threads,
            )
        # JSON is YAML: no YAML library needed to write the profile.
        (self.profiles_dir / "profiles.yml").write_text(
            json.dumps(document, indent=2) + "\n", encoding="utf-8"
        )

    # -- arguments ---------------------------------------------------------------------------

    def _vars_for(self, vars: Mapping[str, Any] | None, year: int | None) -> dict[str, Any]:
        merged = dict(self.vars)
        if year is not None:
            merged[self.year_var] = year
            if self.start_year_var is not None and self.start_year is not None:
                merged.setdefault(self.start_year_var, self.start_year)
        merged.update(vars or {})
        return merged

    def command_args(
        self,
        command: str,
        *,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        vars: Mapping[str, Any] | None = None,
        full_refresh: bool = False,
        selector: str | None = None,
    ) -> list[str]:
        """The dbt command line for one invocation (what a user would type, plus our paths)."""
        if command not in COMMANDS and command != "parse":
            raise UsageError(f"dbt command must be one of {', '.join(COMMANDS)}, got {command!r}")
        args = [
            command,
            "--project-dir",
            str(self.project_dir),
            "--profiles-dir",
            str(self.profiles_dir),
            "--target-path",
            str(self.target_path),
            "--log-path",
            str(self.log_path),
            "--no-send-anonymous-usage-stats",
            "--no-version-check",
            "--no-use-colors",
            "--no-partial-parse",
        ]
        if not self.console_log:
            args += ["--log-level", "none", "--log-level-file", "debug"]
        if vars:
            args += ["--vars", json.dumps(dict(vars), sort_keys=True)]
        selected = _validate_select(select, "select")
        if selected:
            args += ["--select", *selected]
        excluded = _validate_select(exclude, "exclude")
        if excluded:
            args += ["--exclude", *excluded]
        if selector is not None:
            if not isinstance(selector, str) or not selector.strip():
                raise UsageError(f"selector must name a YAML selector, got {selector!r}")
            if selected or excluded:
                raise UsageError("selector replaces select and exclude; give one or the other")
            args += ["--selector", selector.strip()]
        if full_refresh:
            if command == "test":
                raise UsageError("dbt test takes no --full-refresh")
            args.append("--full-refresh")
        return args

    # -- invoking dbt ------------------------------------------------------------------------

    def parse(self, vars: Mapping[str, Any] | None = None, *, year: int | None = None) -> float:
        """Parse the project for an invocation with these vars (and year) now, keep the result
        for reuse, and return the seconds it took (``around_parse`` included)."""
        merged = self._vars_for(vars, year)
        if year is None and self.year_var in merged:
            year = _year(merged[self.year_var])
        args = self.command_args("parse", vars=merged)
        _manifest, seconds = self._parse(args, self._parse_key(args), DbtRequest("parse", year))
        return seconds

    def _parse_key(self, parse_args: Sequence[str]) -> str:
        profile = (self.profiles_dir / "profiles.yml").read_bytes()
        return parse_key(parse_args, profile, os.environ, project_digest(self.project_dir))

    def _parse(self, parse_args: list[str], key: str, request: DbtRequest) -> tuple[Any, float]:
        """Run ``dbt parse``; keep the manifest under ``key``, dropping the least recently used
        past ``MANIFEST_CACHE_SIZE``."""
        __tracebackhide__ = True
        from dbt.cli.main import dbtRunner

        with self.around_parse(request):
            started = time.perf_counter()
            outcome = dbtRunner().invoke(parse_args)
            seconds = time.perf_counter() - started
        if not outcome.success or outcome.result is None:
            raise DbtRunError(
                f"dbt parse failed for {self.project_dir}: "
                f"{_exception_text(outcome.exception) if outcome.exception else 'unknown error'}"
                f"\n  dbt's log: {self.log_file}"
            )
        self.parse_count += 1
        self._manifests[key] = outcome.result
        while len(self._manifests) > MANIFEST_CACHE_SIZE:
            self._manifests.popitem(last=False)
        return outcome.result, seconds

    def _manifest_for(
        self, vars: Mapping[str, Any], request: DbtRequest
    ) -> tuple[Any, float | None]:
        """A manifest for dbt to compile into: a copy of an earlier parse of exactly the same
        inputs, else a new parse; with the parse's seconds (``None``: reused)."""
        __tracebackhide__ = True
        args = self.command_args("parse", vars=vars)
        key = self._parse_key(args)
        parsed = self._manifests.get(key)
        seconds: float | None = None
        if parsed is None:
            parsed, seconds = self._parse(args, key, request)
        else:
            self._manifests.move_to_end(key)
        return fresh_copy(parsed), seconds

    def invoke(
        self,
        command: str,
        *,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        vars: Mapping[str, Any] | None = None,
        full_refresh: bool = False,
        year: int | None = None,
        check: bool = True,
        rebuild: bool = False,
        selector: str | None = None,
        step: str | None = None,
    ) -> DbtInvocation:
        """Run one dbt command; raise ``DbtRunError`` on failure unless ``check=False``.

        ``rebuild=True`` marks a re-run of a year that is already built (``rebuild_year`` sets
        it), so its timings are kept apart from the first build's.
        """
        __tracebackhide__ = True  # a failing model is the user's error, not a frame of ours
        merged = self._vars_for(vars, year)
        if year is None and self.year_var in merged:
            year = _year(merged[self.year_var])
        args = self.command_args(
            command,
            select=select,
            exclude=exclude,
            vars=merged,
            full_refresh=full_refresh,
            selector=selector,
        )
        request = DbtRequest(command, year, rebuild=bool(rebuild), step=step)
        manifest, parse_s = None, None
        if self.reuse_manifest:
            manifest, parse_s = self._manifest_for(merged, request)

        from dbt.cli.main import dbtRunner

        logged_errors: list[str] = []
        nodes = _NodeWindows(self.around_node, request)

        def on_event(event: Any) -> None:
            name = event.info.name
            if name == "RunResultError":
                logged_errors.append(str(event.info.msg))
            elif name in _NODE_EVENTS:
                nodes.event(name, event)

        runner = dbtRunner(manifest=manifest, callbacks=[on_event])
        with self.around_run(request):
            started = time.perf_counter()
            try:
                outcome = runner.invoke(args)
            finally:
                nodes.close_all()
            wall = time.perf_counter() - started
        raw_results = getattr(outcome.result, "results", None) or []
        invocation = DbtInvocation(
            command=command,
            args=tuple(args),
            vars=merged,
            year=year,
            full_refresh=full_refresh,
            success=bool(outcome.success),
            wall_s=wall,
            results=tuple(node_result(r) for r in raw_results),
            error=None if outcome.exception is None else _exception_text(outcome.exception),
            parse_s=parse_s,
            manifest_reused=manifest is not None and parse_s is None,
            rebuild=request.rebuild,
            logged_errors=tuple(logged_errors),
            step=step,
        )
        self.invocations.append(invocation)
        for listener in self.listeners:
            listener(invocation)
        if check and not invocation.success:
            raise DbtRunError(
                f"{invocation.describe_failure()}\n  dbt's full log: {self.log_file}", invocation
            )
        return invocation

    def build(self, **kwargs: Any) -> DbtInvocation:
        """``dbt build`` (seeds, models and tests in graph order)."""
        return self.invoke("build", **kwargs)

    def run(self, **kwargs: Any) -> DbtInvocation:
        """``dbt run`` (models only)."""
        return self.invoke("run", **kwargs)

    def seed(self, **kwargs: Any) -> DbtInvocation:
        """``dbt seed``."""
        return self.invoke("seed", **kwargs)

    def test(self, **kwargs: Any) -> DbtInvocation:
        """``dbt test``."""
        return self.invoke("test", **kwargs)

    # -- simulation years --------------------------------------------------------------------

    def run_years(
        self,
        years: Iterable[int],
        *,
        rounds: int = 1,
        sequence: YearSequence | Sequence[Any] | None = None,
        command: str | None = None,
        full_refresh_first: bool | None = None,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        selector: str | None = None,
        vars: Mapping[str, Any] | None = None,
    ) -> list[DbtInvocation]:
        """Build year by year, as a multi-year simulation runs in production: each year runs
        ``sequence`` (dbt steps and Python steps, see ``YearSequence``), or one dbt command
        (``command``, default ``build``, with ``select``/``exclude``/``selector``), the first
        year with ``--full-refresh`` unless ``full_refresh_first=False``. ``vars`` go to every
        dbt step. Returns every dbt invocation, in order.

        ``rounds`` > 1 repeats the whole multi-year build, so each model gets several samples
        per year (interleaved, so slow drift of the machine spreads over all years alike).
        """
        __tracebackhide__ = True
        ordered = [_year(y) for y in years]
        if not ordered:
            raise UsageError("run_years() needs at least one simulation year")
        check_rounds(rounds, "run_years")
        steps = _steps_for(
            "run_years", sequence, command, select, exclude, selector, full_refresh_first
        )
        if self.start_year is None:
            self.start_year = ordered[0]
        built: list[DbtInvocation] = []  # loops, not comprehensions: no frame of ours in
        for round_ in range(rounds):  # the traceback of a failing model (``__tracebackhide__``)
            for index, year in enumerate(ordered):
                where = (round_ + 1, rounds, index + 1, len(ordered))
                self._run_year(
                    steps, year, vars, first_year=index == 0, rebuild=False, out=built, where=where
                )
        return built

    def rebuild_year(
        self,
        year: int,
        *,
        rounds: int = 1,
        sequence: YearSequence | Sequence[Any] | None = None,
        command: str | None = None,
        select: str | Sequence[str] | None = None,
        exclude: str | Sequence[str] | None = None,
        selector: str | None = None,
        vars: Mapping[str, Any] | None = None,
    ) -> list[DbtInvocation]:
        """Build an already-built year again, incrementally, ``rounds`` times, with the same
        ``sequence`` (or one command) as ``run_years``: where an incremental strategy that
        rewrites history shows its cost. Only steps with ``full_refresh="always"`` refresh.
        The invocations carry ``rebuild=True``, so they are judged apart from first builds."""
        __tracebackhide__ = True
        check_rounds(rounds, "rebuild_year")
        year = _year(year)
        steps = _steps_for("rebuild_year", sequence, command, select, exclude, selector, None)
        built: list[DbtInvocation] = []
        for round_ in range(rounds):
            where = (round_ + 1, rounds, 1, 1)
            self._run_year(
                steps, year, vars, first_year=False, rebuild=True, out=built, where=where
            )
        return built

    def _run_year(
        self,
        steps: YearSequence,
        year: int,
        vars: Mapping[str, Any] | None,
        *,
        first_year: bool,
        rebuild: bool,
        out: list[DbtInvocation],
        where: tuple[int, int, int, int] = (1, 1, 1, 1),
    ) -> None:
        """Run every step of ``steps`` for ``year``, appending dbt's invocations to ``out``;
        ``where`` is (round, rounds, index of the year, years) for the progress events."""
        __tracebackhide__ = True
        year_started = self.clock()
        year_models = 0

        def report(kind: str, step: str | None, models: int, started: float) -> None:
            event = YearProgress(
                kind, year, *where, rebuild, step, models, self.clock() - started, len(steps)
            )
            for listener in self.progress:
                listener(event)

        for step in steps:
            started = self.clock()
            if isinstance(step, PythonStep):
                self.run_python_step(step, year, rebuild=rebuild)
                report("step", step.label, 0, started)
                continue
            step_vars = {**(vars or {}), **(step.vars or {})}
            out.append(
                self.invoke(
                    step.command,
                    select=step.select,
                    exclude=step.exclude,
                    selector=step.selector,
                    vars=step_vars or None,
                    year=year,
                    full_refresh=step.refreshes(first_year=first_year, rebuild=rebuild),
                    rebuild=rebuild,
                    step=step.key if len(steps) > 1 or step.name else None,
                )
            )
            models = len(out[-1].models)
            year_models += models
            report("step", step.label, models, started)
        report("year", None, year_models, year_started)

    def run_python_step(self, step: PythonStep, year: int, *, rebuild: bool = False) -> Any:
        """Call a Python step, ``fn(project, year)``, inside ``around_step``; an exception
        from it propagates as it is, with a note naming the step and the year."""
        __tracebackhide__ = True
        request = DbtRequest("python", year, rebuild=rebuild, step=step.label)
        try:
            with self.around_step(request):
                return step.fn(self, year)
        except Exception as exc:
            exc.add_note(
                f"in Python step {step.label!r} of the year sequence, simulation year {year}"
                + (" (rebuild)" if rebuild else "")
            )
            raise

    # -- reading the database ----------------------------------------------------------------

    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        """Run one query on the project's database and return all rows.

        The connection is closed before returning: DuckDB lets one process hold a file through
        one configuration only, and dbt opens its own connection for each invocation.
        """
        import duckdb

        con = duckdb.connect(str(self.database_path))
        try:
            return [tuple(row) for row in con.execute(sql, params or []).fetchall()]
        finally:
            con.close()

    def relation_rows(self, invocation: DbtInvocation) -> dict[str, int]:
        """Rows each successful model of ``invocation`` wrote: an incremental model's rows for
        the invocation's year (when it has a year column), any other relation's rows."""
        import duckdb

        counts: dict[str, int] = {}
        wanted = [r for r in invocation.models if not r.failed and r.relation_name]
        if not wanted:
            return counts
        con = duckdb.connect(str(self.database_path))
        try:
            for r in wanted:
                relation = str(r.relation_name)
                columns = {str(row[0]) for row in con.execute(f"describe {relation}").fetchall()}
                if (
                    r.materialized == "incremental"
                    and invocation.year is not None
                    and self.year_var in columns
                ):
                    sql = f"select count(*) from {relation} where {self.year_var} = ?"
                    row = con.execute(sql, [invocation.year]).fetchone()
                else:
                    row = con.execute(f"select count(*) from {relation}").fetchone()
                counts[r.name] = int(row[0]) if row else 0
        except duckdb.Error:
            return counts  # counts are a courtesy: never fail a run over them
        finally:
            con.close()
        return counts


#: dbt's events that open and close a node's window (fired in the thread that runs the node).
_NODE_EVENTS = frozenset({"NodeStart", "NodeFinished"})


class _NodeWindows:
    """``around_node`` entered at each node's ``NodeStart`` and left at its ``NodeFinished``.

    A context manager cannot span two callbacks with a ``with``, so it is entered and left by
    hand; ``close_all`` leaves what dbt never finished (an interrupted run), newest first.
    """

    def __init__(
        self,
        around: Callable[[DbtRequest, str], AbstractContextManager[Any]],
        request: DbtRequest,
    ) -> None:
        self._around = around
        self._request = request
        self._open: dict[str, AbstractContextManager[Any]] = {}

    def event(self, name: str, event: Any) -> None:
        unique_id = str(getattr(getattr(event.data, "node_info", None), "unique_id", "") or "")
        if not unique_id:
            return
        if name == "NodeStart":
            window = self._around(self._request, unique_id)
            window.__enter__()
            self._open[unique_id] = window
        elif unique_id in self._open:
            self._open.pop(unique_id).__exit__(None, None, None)

    def close_all(self) -> None:
        while self._open:
            _unique_id, window = self._open.popitem()
            window.__exit__(None, None, None)


def _year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"a simulation year must be an int, got {value!r}")
    return int(value)


def check_rounds(rounds: Any, where: str) -> None:
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise UsageError(f"{where}(): rounds must be a positive int, got {rounds!r}")


def _exception_text(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _steps_for(
    where: str,
    sequence: YearSequence | Sequence[Any] | None,
    command: str | None,
    select: str | Sequence[str] | None,
    exclude: str | Sequence[str] | None,
    selector: str | None,
    full_refresh_first: bool | None,
) -> YearSequence:
    """The year's steps: ``sequence``, or the one command the other arguments describe."""
    if sequence is None:
        return YearSequence.one_command(
            "build" if command is None else command,
            select=select,
            exclude=exclude,
            selector=selector,
            full_refresh_first=True if full_refresh_first is None else full_refresh_first,
        )
    given = [
        name
        for name, value in (
            ("command", command),
            ("select", select),
            ("exclude", exclude),
            ("selector", selector),
            ("full_refresh_first", full_refresh_first),
        )
        if value is not None
    ]
    if given:
        raise UsageError(
            f"{where}(): sequence= already says what each year runs; {', '.join(given)} "
            "belong in its steps"
        )
    return as_sequence(sequence)
