"""Production monitoring with the plugin's engine: the nightly pipeline, outside pytest.

``with monitor.run("nightly") as run:`` groups one simulation run; inside it,
``with run.phase("fct_yearly_events", year=2027):`` or a function decorated with
``@monitored("fct_yearly_events")`` is timed (wall and CPU), its peak memory and rows are taken,
and it is judged at once: SLA status and category from the same configuration as the plugin
(``[tool.simperf.sla]``, 80% warning), and a regression class against the median of the last
``window`` production runs of the same pipeline, component and year on a comparable host. At the
end the run is written to the history database as one ``kind = 'production'`` run, beside the
test runs, where ``simperf report / sla / trend / dashboard / check`` read it.

Choices, and why (docs/monitoring.md has the long form):

- **Monitoring never breaks the pipeline.** An exception inside a phase is recorded (status
  ``failed``, the error text) and re-raised unchanged; a history that cannot be read or written,
  or an alert callback that raises, is logged (logger ``pytest_simperf.monitor``), never raised.
  Only a wrong call (an empty component name, a bad config file) raises ``UsageError``, before
  any work runs.
- **Judged on CPU time where it belongs to the phase, else wall time** (the gate's rule,
  ``verdict.time_metric``): on a shared machine a neighbour's load moves wall time by tens of
  percent and the process's CPU time by a few (examples/five_year_simulation.py's events step,
  night to night here: wall 0.115-0.380 s, CPU 0.096-0.110 s). CPU time is used when the phase is
  CPU-bound (CPU ≥ half its wall time less the time it waited for a core) and ran alone: while
  another thread's phase was open, process CPU time includes that phase's work (thread CPU time
  would miss DuckDB's workers), so such a phase stores no CPU time and is judged on wall time.
  ``metric`` in history says which; SLAs are always on wall time.
- **No class from noise.** A production phase runs once, so its one value is compared with the
  gate's few-sample rule (``stats.compare_times``): the change must clear the threshold plus a
  noise allowance of at least 10%, widened by the reference runs' own spread (MAD) weighed
  against the gate's assumed between-session drift. Fewer than ``min_history`` (3) reference
  runs: no class (``NEW``, "insufficient history"). A phase under 20 ms gets no timing class,
  as in the gate.
- **Verdicts at the phase's end.** The reference values are read once when the run starts, so a
  regression or breach alerts as soon as its phase ends, not after the whole night; the stored
  verdict is the one alerted on.
- **Thread-safe.** Phases may run concurrently in threads; each is its own measurement. Threads
  do not inherit context variables, so a decorated function in a worker thread finds the run
  through the one run active in the process (with several active at once, the thread makes its
  run current with ``run.activate()``; otherwise the call is not recorded).
- **Cheap to import.** No duckdb, pytest or dbt at import time; the engine loads on first use.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import inspect
import itertools
import logging
import math
import operator
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from pytest_simperf.errors import UsageError

if TYPE_CHECKING:
    from types import TracebackType

    from pytest_simperf.measure import (
        CounterHub,
        Counters,
        MemoryReader,
        MemoryTracker,
        TrackedConnection,
    )
    from pytest_simperf.options import ComponentSla
    from pytest_simperf.stats import Thresholds

__all__ = [
    "HISTORY_ENV",
    "Alert",
    "Instruments",
    "MonitorConfig",
    "PhaseHandle",
    "PhaseResult",
    "Regression",
    "Run",
    "add_alert_handler",
    "current_run",
    "judge_regression",
    "load_config",
    "monitored",
    "remove_alert_handler",
    "run",
]

logger = logging.getLogger("pytest_simperf.monitor")

#: Environment variable naming the history database when ``history=`` is not given.
HISTORY_ENV = "SIMPERF_HISTORY"
#: Reference runs: the last ``window`` comparable production runs; a class needs ``min_history``.
DEFAULT_WINDOW = 5
DEFAULT_MIN_HISTORY = 3
DEFAULT_FAIL_ON = "MAJOR"
#: How long reading or writing the history may wait for another process holding it. A nightly
#: run must not hang on a dashboard someone left open; it logs and goes on instead.
HISTORY_TIMEOUT_S = 30.0
#: A phase is CPU-bound, and judged on CPU time, when its CPU time is at least this fraction of
#: its wall time less its run-queue wait (the gate's ``verdict.CPU_BOUND_FRACTION``).
CPU_BOUND_FRACTION = 0.5

F = TypeVar("F", bound=Callable[..., Any])


# -- configuration -------------------------------------------------------------------------------


def _thresholds_default() -> Thresholds:
    from pytest_simperf.stats import Thresholds

    return Thresholds()


@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    """What judging a production run needs, read from the same files as the plugin's settings.

    ``slas``: component SLAs (``[tool.simperf.sla]`` and the ``simperf_sla`` ini lines);
    ``thresholds``: MINOR/MAJOR/CRITICAL slowdowns (``simperf_thresholds``, or
    ``[tool.simperf.monitor] thresholds``); ``window`` / ``min_history``: reference runs;
    ``fail_on``: the class ``Run.problems`` and ``simperf check`` count as a failure;
    ``history``: the database, when ``[tool.simperf.monitor] history`` names one.
    """

    slas: Mapping[str, ComponentSla] = dataclasses.field(default_factory=dict)
    thresholds: Thresholds = dataclasses.field(default_factory=_thresholds_default)
    window: int = DEFAULT_WINDOW
    min_history: int = DEFAULT_MIN_HISTORY
    fail_on: str = DEFAULT_FAIL_ON
    history: Path | None = None
    source: str = "defaults"

    def __post_init__(self) -> None:
        where = f"monitor config ({self.source})"
        for name in ("window", "min_history"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise UsageError(f"{where}: {name} must be a whole number ≥ 1, got {value!r}")
        if self.min_history > self.window:
            raise UsageError(
                f"{where}: min_history ({self.min_history}) exceeds window ({self.window}): "
                "no run could ever be classed"
            )
        from pytest_simperf.options import parse_fail_on

        object.__setattr__(self, "fail_on", parse_fail_on(self.fail_on, f"{where}: fail_on"))


_MONITOR_KEYS = ("window", "min_history", "fail_on", "history", "thresholds")


def find_pyproject(start: Path | None = None) -> Path | None:
    """The nearest ``pyproject.toml`` from ``start`` (the working directory) upwards."""
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        path = candidate / "pyproject.toml"
        if path.is_file():
            return path
    return None


def load_config(path: str | Path | None = None) -> MonitorConfig:
    """Read the monitor's settings from ``pyproject.toml`` (found from the working directory).

    The same keys as the plugin, so production and tests are judged alike: ``[tool.simperf.sla]``
    and ``[tool.pytest.ini_options]`` ``simperf_sla`` / ``simperf_thresholds``; and the monitor's
    own ``[tool.simperf.monitor]`` (``window``, ``min_history``, ``fail_on``, ``history``,
    ``thresholds``, which wins over ``simperf_thresholds``). No file: the defaults.
    """
    pyproject = Path(path) if path is not None else find_pyproject()
    if pyproject is None:
        return MonitorConfig()
    if pyproject.is_dir():
        pyproject = pyproject / "pyproject.toml"
    if not pyproject.is_file():
        raise UsageError(f"monitor config: no such file {pyproject}")
    import tomllib

    from pytest_simperf.options import _parse_sla_line, load_pyproject_slas
    from pytest_simperf.stats import Thresholds

    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{pyproject}: cannot parse TOML: {exc}") from None
    slas = load_pyproject_slas(pyproject)
    tool = data.get("tool", {}) if isinstance(data.get("tool"), dict) else {}
    ini = (tool.get("pytest") or {}).get("ini_options") or {}
    lines = ini.get("simperf_sla") or []
    if isinstance(lines, str):
        lines = lines.splitlines()
    for line in lines:
        if str(line).strip() and not str(line).strip().startswith("#"):
            name, sla = _parse_sla_line(str(line).strip(), f"{pyproject} simperf_sla")
            slas[name] = sla
    section = (tool.get("simperf") or {}).get("monitor") or {}
    where = f"{pyproject} [tool.simperf.monitor]"
    if not isinstance(section, dict):
        raise UsageError(f"{where} must be a table")
    unknown = sorted(set(section) - set(_MONITOR_KEYS))
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {unknown} (expected {', '.join(_MONITOR_KEYS)})")
    text = section.get("thresholds", ini.get("simperf_thresholds"))
    source = where + " thresholds" if "thresholds" in section else f"{pyproject} simperf_thresholds"
    thresholds = Thresholds.parse(str(text), source=source) if text else Thresholds()
    history = section.get("history")
    if history is not None and (not isinstance(history, str) or not history.strip()):
        raise UsageError(f"{where}: history must be a path, got {history!r}")
    return MonitorConfig(
        slas=slas,
        thresholds=thresholds,
        window=section.get("window", DEFAULT_WINDOW),
        min_history=section.get("min_history", DEFAULT_MIN_HISTORY),
        fail_on=section.get("fail_on", DEFAULT_FAIL_ON),
        history=None if history is None else pyproject.parent / history,
        source=str(pyproject),
    )


# -- instruments -------------------------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Instruments:
    """Clocks and memory reader (the real ones by default; tests inject fakes)."""

    clock: Callable[[], float] = time.perf_counter
    cpu_clock: Callable[[], float] = time.process_time
    memory: MemoryReader | None = None  # None: the most exact reader of this platform
    now: Callable[[], datetime] = _utcnow
    # Run-queue wait of the calling thread (``measure.runqueue_wait_clock``); None: not read.
    wait_clock: Callable[[], float] | None = None

    @classmethod
    def real(cls) -> Instruments:
        """The real clocks, with the run-queue wait where the OS reports it (Linux)."""
        from pytest_simperf.measure import runqueue_wait_clock

        return cls(wait_clock=runqueue_wait_clock())


# -- results -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Regression:
    """The class of one production value against its reference runs."""

    severity: str  # NEW (insufficient history), OK, IMPROVED, MINOR, MAJOR, CRITICAL
    change_pct: float | None
    reference_s: float | None  # median of the reference runs, on ``metric``
    reference_runs: int
    noise_pct: float | None  # the allowance the change had to clear, in percent
    why: str
    metric: str = "wall"  # cpu or wall: the clock compared
    value_s: float | None = None  # this run's figure on ``metric``


def judge_regression(
    value_s: float,
    history_s: list[float] | tuple[float, ...],
    *,
    thresholds: Thresholds,
    min_history: int = DEFAULT_MIN_HISTORY,
    metric: str = "wall",
) -> Regression:
    """Class ``value_s`` (one run's time on ``metric``) against earlier runs' (newest first).

    The gate's own rule for one sample against a reference (``stats.compare_times``): the
    reference runs' values are the baseline samples, their robust spread (MAD) weighed with the
    gate's prior drift for that clock (``stats.session_drift``) is the between-run noise, and
    the change must clear the class threshold plus an allowance of at least 10%.
    """
    from pytest_simperf.stats import (
        DEFAULT_CPU_SESSION_DRIFT,
        DEFAULT_WALL_SESSION_DRIFT,
        compare_times,
        relative_spread,
        session_drift,
    )
    from pytest_simperf.verdict import ONE_SAMPLE_MIN_S

    values = [float(v) for v in history_s if v is not None and math.isfinite(v) and v > 0]
    n = len(values)
    if n < min_history:
        return Regression(
            "NEW",
            None,
            None,
            n,
            None,
            f"insufficient history: {n} comparable production run{'s' if n != 1 else ''}"
            f"{' with CPU time' if metric == 'cpu' else ''}, a class needs {min_history}",
            metric,
            value_s,
        )
    spread = relative_spread(values) if n >= 3 else None
    prior = DEFAULT_CPU_SESSION_DRIFT if metric == "cpu" else DEFAULT_WALL_SESSION_DRIFT
    drift = session_drift(spread, n, prior)
    cmp = compare_times(values, [value_s], thresholds=thresholds, history_spread=drift)
    head = f"{metric} time vs the median of the last {n} production runs: "
    severity = cmp.severity
    why = head + cmp.why
    if min(value_s, cmp.baseline_s) < ONE_SAMPLE_MIN_S and severity not in ("OK", "IMPROVED"):
        severity = "OK"
        why += f"; a single run under {ONE_SAMPLE_MIN_S * 1000:.0f} ms cannot carry a timing class"
    return Regression(
        severity, cmp.change_pct, cmp.baseline_s, n, cmp.allowance_pct, why, metric, value_s
    )


@dataclasses.dataclass(frozen=True)
class PhaseResult:
    """One component × year of a production run, measured and judged: what history stores,
    alerts carry and ``simperf check`` reads."""

    component: str
    year: int | None
    status: str  # ok | failed
    wall_s: float
    cpu_s: float | None
    parts: tuple[float, ...]  # wall time of each entry (a component entered twice in a year)
    start_rss_mb: float | None
    peak_rss_mb: float | None
    rows_in: int | None
    rows_out: int | None
    error: str | None
    sla_seconds: float | None
    sla_memory_mb: float | None
    sla_status: str | None
    sla_category: str | None
    sla_reasons: tuple[str, ...]
    regression: Regression
    kind: str | None = None
    rows_scanned: int | None = None
    intermediate_rows: int | None = None
    duckdb_peak_buffer_mb: float | None = None
    counters_note: str | None = None

    @property
    def key(self) -> str:
        return self.component if self.year is None else f"{self.component}@{self.year}"

    @property
    def rows_per_s(self) -> float | None:
        if self.rows_out is None or self.wall_s <= 0:
            return None
        return self.rows_out / self.wall_s

    @property
    def severity(self) -> str:
        return self.regression.severity

    def to_json(self) -> dict[str, Any]:
        """The phase in the run report's shape (``history.record_run`` reads these keys)."""
        r = self.regression
        return {
            "name": self.component,
            "year": self.year,
            "source": "monitor",
            "rounds": len(self.parts),
            "samples_s": list(self.parts),
            "median_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "metric": r.metric,
            "value": self.wall_s if r.value_s is None else r.value_s,
            "baseline_value": r.reference_s,
            "baseline_median_s": r.reference_s,
            "change_pct": r.change_pct,
            "severity": None if self.status != "ok" else r.severity,
            "noise_pct": r.noise_pct,
            "why": r.why if self.status == "ok" else f"failed: {self.error}",
            "peak_rss_mb": self.peak_rss_mb,
            "start_rss_mb": self.start_rss_mb,
            "rows": self.rows_out,
            "rows_in": self.rows_in,
            "rows_per_s": self.rows_per_s,
            "status": self.status,
            "error": self.error,
            "sla_seconds": self.sla_seconds,
            "sla_memory_mb": self.sla_memory_mb,
            "sla_status": self.sla_status,
            "sla_category": self.sla_category,
            "rows_scanned": self.rows_scanned,
            "intermediate_rows": self.intermediate_rows,
            "duckdb_peak_buffer_mb": self.duckdb_peak_buffer_mb,
            "comparison": "production",
        }


@dataclasses.dataclass(frozen=True)
class Alert:
    """Something a person should hear about: an SLA breach, a regression, a failed phase."""

    kind: str  # sla_breach | regression | failure
    run_name: str
    component: str
    year: int | None
    level: str  # SLA_BREACH, MINOR, MAJOR, CRITICAL or FAILED
    message: str
    phase: PhaseResult


# -- alert handlers ----------------------------------------------------------------------------

_HANDLERS: list[Callable[[Alert], Any]] = []
_HANDLERS_LOCK = threading.Lock()


def add_alert_handler(handler: Callable[[Alert], Any]) -> None:
    """Call ``handler(alert)`` for every alert of every run in this process."""
    if not callable(handler):
        raise UsageError(f"add_alert_handler() needs a callable, got {handler!r}")
    with _HANDLERS_LOCK:
        _HANDLERS.append(handler)


def remove_alert_handler(handler: Callable[[Alert], Any]) -> None:
    """Stop calling ``handler`` (a handler never added is ignored)."""
    with _HANDLERS_LOCK, contextlib.suppress(ValueError):
        _HANDLERS.remove(handler)


# -- the run -----------------------------------------------------------------------------------


@dataclasses.dataclass
class PhaseHandle:
    """Yielded by ``run.phase``: set ``rows_in`` / ``rows_out`` once the block knows them."""

    component: str
    year: int | None
    rows_in: int | None = None
    rows_out: int | None = None


@dataclasses.dataclass
class _Accum:
    """Entries of one component × year so far (usually one)."""

    parts: list[float] = dataclasses.field(default_factory=list)
    cpu: float = 0.0
    cpu_known: bool = True
    wait: float = 0.0
    start_rss_mb: float | None = None
    peak_rss_mb: float | None = None
    rows_in: int | None = None
    rows_out: int | None = None
    errors: list[str] = dataclasses.field(default_factory=list)
    last_failed: bool = False  # a retry that succeeded makes the component succeed
    kind: str | None = None
    rows_scanned: int | None = None
    intermediate_rows: int | None = None
    duckdb_peak_buffer_mb: float | None = None
    counters_note: str | None = None
    alerted: set[str] = dataclasses.field(default_factory=set)


_CURRENT: contextvars.ContextVar[Run | None] = contextvars.ContextVar(
    "simperf_monitor_run", default=None
)
_ACTIVE: list[Run] = []
_ACTIVE_LOCK = threading.Lock()


def current_run() -> Run | None:
    """The run a ``@monitored`` call records into: this context's, else the only active one."""
    found = _CURRENT.get()
    if found is not None and found.active:
        return found
    with _ACTIVE_LOCK:
        return _ACTIVE[0] if len(_ACTIVE) == 1 else None


def _check_count(value: Any, what: str) -> int | None:
    """A row count: an int ≥ 0, or any integer type (numpy's, from ``len`` of a frame)."""
    if value is None:
        return None
    try:
        number = None if isinstance(value, bool) else operator.index(value)
    except TypeError:
        number = None
    if number is None or number < 0:
        raise UsageError(f"{what} must be a whole number ≥ 0, got {value!r}")
    return number


def _check_phase(component: Any, year: Any, where: str) -> None:
    if not isinstance(component, str) or not component.strip() or "@" in component:
        raise UsageError(
            f"{where}: component must be a non-empty name without '@', got {component!r}"
        )
    if year is not None and (
        isinstance(year, bool) or not isinstance(year, int) or not -(2**31) <= year < 2**31
    ):
        raise UsageError(f"{where}: year must be an int, got {year!r}")


def _error_text(exc: BaseException) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}"[:500].rstrip(": ")


class Run:
    """One production run: its phases, their verdicts and alerts; written to history at the end.

    Made by ``monitor.run(...)``; use it as a context manager.
    """

    def __init__(
        self,
        name: str,
        *,
        history: str | Path | None = None,
        config: MonitorConfig | str | Path | None = None,
        on_alert: Callable[[Alert], Any] | None = None,
        host: str | None = None,
        instruments: Instruments | None = None,
        record: bool = True,
    ) -> None:
        if not isinstance(name, str) or not name.strip() or "\x00" in name:
            raise UsageError(f"monitor.run(): name must be a non-empty string, got {name!r}")
        if on_alert is not None and not callable(on_alert):
            raise UsageError(f"monitor.run({name!r}): on_alert must be callable, got {on_alert!r}")
        if host is not None and (not isinstance(host, str) or not host.strip()):
            raise UsageError(f"monitor.run({name!r}): host must be a non-empty string")
        self.name = name
        self.config = config if isinstance(config, MonitorConfig) else load_config(config)
        self.history_path = history_path(history, self.config)
        self.on_alert = on_alert
        self._host = host
        self.instruments = instruments or Instruments.real()
        self.record = record
        self.run_id: str | None = None
        self.alerts: list[Alert] = []
        self.error: str | None = None
        self.history_error: str | None = None
        self.active = False
        self._lock = threading.RLock()
        self._accums: dict[tuple[str, int | None], _Accum] = {}
        self._results: dict[tuple[str, int | None], PhaseResult] = {}
        # (wall, cpu or None) of earlier runs per component × year, newest first
        self._references: dict[tuple[str, int | None], list[tuple[float, float | None]]] = {}
        # Phases open now: token -> [thread, overlapped by another thread's phase?]
        self._open: dict[int, list[Any]] = {}
        self._tokens = itertools.count()
        self._memory: MemoryTracker | None = None
        self._hub: CounterHub | None = None
        self._token: contextvars.Token[Run | None] | None = None
        self._started: datetime | None = None
        self._t0 = 0.0
        self._machine: dict[str, Any] = {}

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> Run:
        from pytest_simperf.measure import MemoryTracker, default_memory_reader

        if self.active or self._started is not None:
            raise UsageError(
                f"monitor.run({self.name!r}) is entered once: call monitor.run() for a new run"
            )
        inst = self.instruments
        self._memory = MemoryTracker(inst.memory or default_memory_reader())
        self._started = inst.now()
        self._t0 = inst.clock()
        self._machine = self._fingerprint()
        self._references = self._load_references()
        self.active = True
        self._token = _CURRENT.set(self)
        with _ACTIVE_LOCK:
            _ACTIVE.append(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        duration = self.instruments.clock() - self._t0
        self.active = False
        with _ACTIVE_LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)
        if self._token is not None:
            with contextlib.suppress(ValueError):  # exited in another context than entered
                _CURRENT.reset(self._token)
            self._token = None
        if exc is not None:
            self.error = _error_text(exc)
        if self.record:
            self._write(duration)

    @contextlib.contextmanager
    def activate(self) -> Iterator[Run]:
        """Make this the current run in this context (a worker thread, when several are
        active), so ``@monitored`` functions called here record into it."""
        token = _CURRENT.set(self)
        try:
            yield self
        finally:
            _CURRENT.reset(token)

    # -- connections -------------------------------------------------------------------------

    def track(self, con: Any) -> TrackedConnection:
        """Count this DuckDB connection's work in the phases (rows scanned, intermediate rows,
        DuckDB's peak buffer memory: exact counters, as the plugin reads them); use the
        returned object. Each statement runs with DuckDB's profiler on, which costs a little:
        track the connections whose counters you want."""
        from pytest_simperf.measure import CounterHub, DuckDBTracker, TrackedConnection

        with self._lock:
            if self._hub is None:
                self._hub = CounterHub(by_thread=True)
            hub = self._hub
        if isinstance(con, TrackedConnection):
            con.simperf_tracker.move_to(hub)
            return con
        tracker = hub.tracker_for(con) or DuckDBTracker(con, hub)
        return TrackedConnection(con, tracker)

    # -- phases ------------------------------------------------------------------------------

    @contextlib.contextmanager
    def phase(
        self,
        component: str,
        *,
        year: int | None = None,
        rows_in: int | None = None,
        rows_out: int | None = None,
        kind: str | None = None,
    ) -> Iterator[PhaseHandle]:
        """Measure the block as ``component`` of simulation ``year``; judged when it ends.

        An exception in the block is recorded (status ``failed``) and re-raised unchanged.
        """
        where = f"run.phase({component!r})"
        _check_phase(component, year, where)
        _check_count(rows_in, f"{where}: rows_in")
        _check_count(rows_out, f"{where}: rows_out")
        if not self.active or self._memory is None:
            raise UsageError(f"{where}: the run {self.name!r} is not running (use `with`)")
        handle = PhaseHandle(component, year, rows_in, rows_out)
        inst = self.instruments
        hub = self._hub
        counting: contextlib.AbstractContextManager[Counters | None] = (
            hub.region() if hub is not None else contextlib.nullcontext()
        )
        memory = self._memory
        timing: tuple[float, float | None, float | None] = (0.0, None, None)
        region: Any = None
        counters: Counters | None = None
        token = self._open_phase()
        wait_clock = inst.wait_clock
        try:
            with memory.region() as region, counting as counters:
                w0 = None if wait_clock is None else wait_clock()
                cpu0, t0 = inst.cpu_clock(), inst.clock()
                try:
                    yield handle
                finally:
                    t1, cpu1 = inst.clock(), inst.cpu_clock()
                    w1 = None if wait_clock is None else wait_clock()
                    alone = self._close_phase(token)
                    # Process CPU time is this phase's only if no other thread's phase ran.
                    timing = (
                        t1 - t0,
                        cpu1 - cpu0 if alone else None,
                        None if w0 is None or w1 is None else w1 - w0,
                    )
        except BaseException as exc:
            # Memory and counters are final once their regions have closed, as here.
            self._close_phase(token)  # if opening a region failed before the block ran
            self._finish(handle, timing, region, counters, _error_text(exc), kind)
            raise
        self._finish(handle, timing, region, counters, None, kind)

    def _open_phase(self) -> int:
        """Register an open phase; phases open in other threads (or other asyncio tasks of this
        thread) now overlap it, and it them: their CPU time mixes with its own."""
        me = _owner()
        with self._lock:
            token = next(self._tokens)
            entry = [me, False]
            for other in self._open.values():
                if other[0] != me:
                    other[1] = entry[1] = True
            self._open[token] = entry
        return token

    def _close_phase(self, token: int) -> bool:
        """Unregister (idempotent); True if no other thread's phase was open during it."""
        with self._lock:
            entry = self._open.pop(token, None)
        return entry is not None and not entry[1]

    def _finish(
        self,
        handle: PhaseHandle,
        timing: tuple[float, float | None, float | None],
        region: Any,
        counters: Counters | None,
        error: str | None,
        kind: str | None,
    ) -> None:
        try:
            where = f"run.phase({handle.component!r})"
            rows_in = _check_count(handle.rows_in, f"{where}: rows_in")
            rows_out = _check_count(handle.rows_out, f"{where}: rows_out")
        except UsageError as exc:
            logger.error("%s (the figure is left out)", exc)
            rows_in = rows_out = None
        wall, cpu, wait = timing
        self.add(
            handle.component,
            year=handle.year,
            wall_s=max(0.0, wall),
            cpu_s=None if cpu is None else max(0.0, cpu),
            wait_s=None if wait is None else max(0.0, wait),
            start_rss_mb=None if region is None else region.start_mb,
            peak_rss_mb=None if region is None else region.peak_mb,
            rows_in=rows_in,
            rows_out=rows_out,
            error=error,
            kind=kind,
            counters=counters,
        )

    def add(
        self,
        component: str,
        *,
        year: int | None = None,
        wall_s: float,
        cpu_s: float | None = None,
        wait_s: float | None = None,
        start_rss_mb: float | None = None,
        peak_rss_mb: float | None = None,
        rows_in: int | None = None,
        rows_out: int | None = None,
        error: str | None = None,
        kind: str | None = None,
        counters: Counters | None = None,
    ) -> PhaseResult:
        """Record a phase timed elsewhere (a dbt model's run result, an external step) and judge
        it; ``phase`` and ``@monitored`` end here too. Returns the judged result.

        ``cpu_s``: the phase's own CPU time, or None when unknown (then it is judged on wall
        time); ``wait_s``: how long it waited for a core (run-queue wait), if known."""
        where = f"run.add({component!r})"
        _check_phase(component, year, where)
        if (
            isinstance(wall_s, bool)
            or not isinstance(wall_s, int | float)
            or not (math.isfinite(wall_s) and wall_s >= 0)
        ):
            raise UsageError(f"{where}: wall_s must be a finite number ≥ 0, got {wall_s!r}")
        key = (component, year)
        with self._lock:
            acc = self._accums.setdefault(key, _Accum())
            acc.parts.append(float(wall_s))
            if cpu_s is None:
                acc.cpu_known = False
            else:
                acc.cpu += float(cpu_s)
            if wait_s is not None:
                acc.wait += float(wait_s)
            if start_rss_mb is not None and acc.start_rss_mb is None:
                acc.start_rss_mb = start_rss_mb
            if peak_rss_mb is not None:
                acc.peak_rss_mb = max(acc.peak_rss_mb or 0.0, peak_rss_mb)
            if rows_in is not None:
                acc.rows_in = (acc.rows_in or 0) + rows_in
            if rows_out is not None:
                acc.rows_out = (acc.rows_out or 0) + rows_out
            if error is not None:
                acc.errors.append(error)
            acc.last_failed = error is not None
            acc.kind = kind or acc.kind
            if counters is not None and counters.statements:
                acc.rows_scanned = (acc.rows_scanned or 0) + counters.rows_scanned
                acc.intermediate_rows = (acc.intermediate_rows or 0) + counters.intermediate_rows
                if counters.peak_buffer_bytes is not None:
                    acc.duckdb_peak_buffer_mb = max(
                        acc.duckdb_peak_buffer_mb or 0.0, counters.peak_buffer_bytes / 2**20
                    )
                acc.counters_note = counters.note() or acc.counters_note
            result = self._judge(key, acc)
            self._results[key] = result
            alerts = self._new_alerts(result, acc)
        for alert in alerts:
            self._emit(alert)
        return result

    def _judge(self, key: tuple[str, int | None], acc: _Accum) -> PhaseResult:
        from pytest_simperf.markers import effective_sla
        from pytest_simperf.results import PhaseRecord
        from pytest_simperf.verdict import SlaResult, judge_sla

        component, year = key
        wall = sum(acc.parts)
        status = "failed" if acc.last_failed else "ok"
        sla = effective_sla(component, [], self.config.slas)
        record = PhaseRecord(
            name=component,
            year=year,
            samples_s=[wall],
            source="monitor",
            cpu_s=[acc.cpu] if acc.cpu_known else [],
            start_rss_mb=acc.start_rss_mb,
            peak_rss_mb=acc.peak_rss_mb,
            rows=acc.rows_out,
        )
        if status == "ok":
            verdict = judge_sla(record, sla)
            regression = self._regression(key, acc, wall)
        else:
            verdict = SlaResult(None, None, ())
            regression = Regression("NEW", None, None, 0, None, "failed: not judged")
        return PhaseResult(
            component=component,
            year=year,
            status=status,
            wall_s=wall,
            cpu_s=acc.cpu if acc.cpu_known else None,
            parts=tuple(acc.parts),
            start_rss_mb=acc.start_rss_mb,
            peak_rss_mb=acc.peak_rss_mb,
            rows_in=acc.rows_in,
            rows_out=acc.rows_out,
            error="; ".join(acc.errors) or None,
            sla_seconds=None if sla is None else sla.seconds,
            sla_memory_mb=None if sla is None else sla.memory_mb,
            sla_status=verdict.status,
            sla_category=verdict.category,
            sla_reasons=verdict.reasons,
            regression=regression,
            kind=acc.kind,
            rows_scanned=acc.rows_scanned,
            intermediate_rows=acc.intermediate_rows,
            duckdb_peak_buffer_mb=acc.duckdb_peak_buffer_mb,
            counters_note=acc.counters_note,
        )

    def _regression(self, key: tuple[str, int | None], acc: _Accum, wall: float) -> Regression:
        """CPU time when this phase's own and CPU-bound and enough reference runs have theirs,
        else wall time (see the module docstring)."""
        references = self._references.get(key, [])
        cpu = acc.cpu if acc.cpu_known else None
        cpu_bound = cpu is not None and cpu >= CPU_BOUND_FRACTION * max(wall - acc.wait, 0.0)
        cpu_refs = [c for _, c in references if c is not None]
        config = self.config
        if cpu is not None and cpu_bound and len(cpu_refs) >= config.min_history:
            return judge_regression(
                cpu,
                cpu_refs,
                thresholds=config.thresholds,
                min_history=config.min_history,
                metric="cpu",
            )
        regression = judge_regression(
            wall,
            [w for w, _ in references],
            thresholds=config.thresholds,
            min_history=config.min_history,
        )
        if cpu is not None and cpu_bound and regression.severity == "NEW":
            # Stored as a CPU-time figure from the start: it is one, and becomes a reference.
            return dataclasses.replace(regression, metric="cpu", value_s=cpu)
        return regression

    def _new_alerts(self, result: PhaseResult, acc: _Accum) -> list[Alert]:
        """Alerts not yet raised for this component × year (an entry repeated in a year can
        only make it worse; each level is announced once)."""
        found: list[Alert] = []
        where = f"{self.name}: {result.key}"
        if result.status == "failed" and "FAILED" not in acc.alerted:
            found.append(
                Alert(
                    "failure",
                    self.name,
                    result.component,
                    result.year,
                    "FAILED",
                    f"{where} failed: {result.error}",
                    result,
                )
            )
        if result.sla_status == "SLA_BREACH" and "SLA_BREACH" not in acc.alerted:
            reasons = "; ".join(result.sla_reasons) or "over its SLA"
            found.append(
                Alert(
                    "sla_breach",
                    self.name,
                    result.component,
                    result.year,
                    "SLA_BREACH",
                    f"{where} SLA breach ({result.sla_category}): {reasons}",
                    result,
                )
            )
        severity = result.regression.severity
        if severity in ("MINOR", "MAJOR", "CRITICAL") and severity not in acc.alerted:
            r = result.regression
            found.append(
                Alert(
                    "regression",
                    self.name,
                    result.component,
                    result.year,
                    severity,
                    f"{where} {severity} regression: {r.change_pct:+.1f}% {r.metric} time "
                    f"({r.value_s:.3f} s vs median {r.reference_s:.3f} s of the last "
                    f"{r.reference_runs} runs)",
                    result,
                )
            )
        for alert in found:
            acc.alerted.add(alert.level)
        return found

    def _emit(self, alert: Alert) -> None:
        self.alerts.append(alert)
        level = logging.WARNING if alert.level == "MINOR" else logging.ERROR
        logger.log(level, "%s", alert.message)
        with _HANDLERS_LOCK:
            handlers = list(_HANDLERS)
        if self.on_alert is not None:
            handlers.insert(0, self.on_alert)
        for handler in handlers:
            try:
                handler(alert)
            except Exception:
                logger.exception("alert handler %r raised; the pipeline goes on", handler)

    # -- dbt -------------------------------------------------------------------------------

    def record_dbt(self, outcome: Any, *, year: int | None = None) -> list[PhaseResult]:
        """Record each model, seed or snapshot of a dbt invocation as a phase.

        ``outcome`` is a ``DbtInvocation`` (``DbtProject.invoke``), a ``dbtRunnerResult`` or its
        ``.result`` (dbt's ``RunExecutionResult``): time is dbt's own per-node execution time,
        rows out its ``rows_affected``, a node that failed or was skipped a failed phase.
        """
        from pytest_simperf.dbt.runner import TIMED_RESOURCE_TYPES, node_result

        if year is None:
            year = getattr(outcome, "year", None)
        nodes = getattr(outcome, "models", None)
        if nodes is None:
            raw = getattr(outcome, "result", outcome)
            raw_results = getattr(raw, "results", None)
            if raw_results is None:
                raise UsageError(
                    f"run.record_dbt(): expected a DbtInvocation or dbt run result, got "
                    f"{type(outcome).__name__}"
                )
            nodes = [
                n for n in map(node_result, raw_results) if n.resource_type in TIMED_RESOURCE_TYPES
            ]
        recorded = []
        for node in nodes:
            recorded.append(
                self.add(
                    node.name,
                    year=year,
                    wall_s=max(0.0, float(node.execution_time)),
                    rows_out=node.rows_affected
                    if isinstance(node.rows_affected, int) and node.rows_affected >= 0
                    else None,
                    error=None if not node.failed else f"dbt {node.status}: {node.message}",
                    kind=f"dbt_{node.resource_type}",
                )
            )
        return recorded

    def dbt(self, project: Any, command: str = "build", **kwargs: Any) -> Any:
        """``project.invoke(command, **kwargs)`` (a ``DbtProject``), each model recorded as a
        phase of the invocation's year; a failed invocation is recorded, then raised as dbt's
        ``DbtRunError`` (unless ``check=False``)."""
        check = kwargs.pop("check", True)
        invocation = project.invoke(command, check=False, **kwargs)
        self.record_dbt(invocation)
        if check and not invocation.success:
            from pytest_simperf.dbt.runner import DbtRunError

            raise DbtRunError(invocation.describe_failure(), invocation)
        return invocation

    # -- reading the run -------------------------------------------------------------------

    @property
    def results(self) -> list[PhaseResult]:
        """The judged phases so far, by component and year."""
        with self._lock:
            return [self._results[k] for k in sorted(self._results, key=_order)]

    def problems(self, fail_on: str | None = None) -> list[PhaseResult]:
        """Phases that failed, breached their SLA, or regressed at or past ``fail_on``
        (default: the config's), as ``simperf check`` counts them."""
        from pytest_simperf.stats import severity_rank

        threshold = fail_on or self.config.fail_on
        out = []
        for r in self.results:
            regressed = (
                threshold != "never"
                and r.severity in ("MINOR", "MAJOR", "CRITICAL")
                and (severity_rank(r.severity) >= severity_rank(threshold))
            )
            if r.status != "ok" or r.sla_status == "SLA_BREACH" or regressed:
                out.append(r)
        return out

    # -- history ---------------------------------------------------------------------------

    def _host_key(self) -> str:
        if self._host is not None:
            return self._host
        from pytest_simperf.calibration import host_key

        return host_key()

    def _fingerprint(self) -> dict[str, Any]:
        from pytest_simperf.calibration import machine_fingerprint

        try:
            machine = machine_fingerprint()
        except Exception as exc:  # never let describing the host stop the pipeline
            logger.warning("could not describe this host (%s); using its key only", exc)
            machine = {}
        machine["id"] = self._host_key()
        return machine

    def _load_references(self) -> dict[tuple[str, int | None], list[tuple[float, float | None]]]:
        """The last ``window`` values of each component × year of this pipeline on this host,
        newest first, read once (so verdicts and alerts come at each phase's end)."""
        path = self.history_path
        if not path.is_file():
            return {}
        from pytest_simperf import history

        try:
            with history.open_history(path, timeout_s=HISTORY_TIMEOUT_S) as con:
                rows = con.execute(
                    """WITH ranked AS (
                        SELECT p.phase, p.year, p.median_s, p.cpu_s,
                            row_number() OVER (PARTITION BY p.phase, p.year
                                               ORDER BY r.started_at DESC, r.run_id DESC) AS k
                        FROM performance p JOIN runs r USING (run_id)
                        WHERE r.kind = 'production' AND r.machine_id = ? AND p.nodeid = ?
                            AND coalesce(p.status, 'ok') = 'ok' AND p.median_s > 0
                    )
                    SELECT phase, year, list([median_s, cpu_s] ORDER BY k) FROM ranked
                    WHERE k <= ? GROUP BY phase, year""",
                    [self._machine["id"], self.name, self.config.window],
                ).fetchall()
        except Exception as exc:
            self.history_error = f"reading {path}: {exc}"
            logger.error(
                "monitor %r: cannot read the history %s (%s); phases get no regression class",
                self.name,
                path,
                exc,
            )
            return {}
        return {
            (phase, year): [(float(w), None if c is None else float(c)) for w, c in values]
            for phase, year, values in rows
        }

    def report(self, duration_s: float | None = None) -> dict[str, Any]:
        """The run as a run report (schema 1), as ``history.record_run`` stores it."""
        from pytest_simperf.options import thresholds_percent
        from pytest_simperf.verdict import worst

        results = self.results
        started = self._started or self.instruments.now()
        failed = self.error is not None or any(r.status != "ok" for r in results)
        kinds = {r.component: r.kind for r in results if r.kind}
        return {
            "schema_version": 1,
            "run": {
                "kind": "production",
                "name": self.name,
                "started_at": started.isoformat() + "Z",
                "finished_at": self.instruments.now().isoformat() + "Z",
                "duration_s": duration_s,
                "machine": self._machine,
                "exit_status": 1 if failed else 0,
                "options": {
                    "fail_on": self.config.fail_on,
                    "thresholds": thresholds_percent(self.config.thresholds),
                    "window": self.config.window,
                    "min_history": self.config.min_history,
                    "component_kinds": kinds,
                    "error": self.error,
                },
            },
            "tests": [
                {
                    "nodeid": self.name,
                    "outcome": "failed" if failed else "passed",
                    "severity": worst([r.severity for r in results if r.status == "ok"])
                    if results
                    else None,
                    "phases": [r.to_json() for r in results],
                }
            ],
            "sla_definitions": {
                name: sla.to_json()
                for name, sla in sorted(self.config.slas.items())
                if any(r.component == name for r in results)
            },
        }

    def _write(self, duration_s: float) -> None:
        from pytest_simperf import history

        try:
            report = self.report(duration_s)
            self.run_id = history.record_run(self.history_path, report, timeout_s=HISTORY_TIMEOUT_S)
        except Exception as exc:
            self.history_error = f"writing {self.history_path}: {exc}"
            logger.error(
                "monitor %r: the run could not be written to %s: %s",
                self.name,
                self.history_path,
                exc,
            )
            return
        logger.info(
            "monitor %r: run %s written to %s (%d phases, %d alerts)",
            self.name,
            self.run_id,
            self.history_path,
            len(self._results),
            len(self.alerts),
        )


def _owner() -> tuple[int, int | None]:
    """Who runs a phase: this thread, and the asyncio task within it (if one is running)."""
    task: object | None = None
    asyncio = sys.modules.get("asyncio")  # never imported for this: only if the caller did
    if asyncio is not None:
        try:
            task = asyncio.current_task()
        except RuntimeError:  # no running event loop in this thread
            task = None
    return threading.get_ident(), None if task is None else id(task)


def _order(key: tuple[str, int | None]) -> tuple[str, bool, int]:
    return (key[0], key[1] is None, key[1] or 0)


def history_path(history: str | Path | None, config: MonitorConfig) -> Path:
    """Where a run is written (and `simperf check` reads): ``history``, else
    ``$SIMPERF_HISTORY``, else the config's ``history``, else ``.simperf/history.duckdb``
    beside the config's ``pyproject.toml`` (the working directory without one)."""
    if history is not None:
        if not str(history).strip():
            raise UsageError("monitor.run(): history must be a path, got an empty string")
        return Path(history)
    env = os.environ.get(HISTORY_ENV, "").strip()
    if env:
        return Path(env)
    if config.history is not None:
        return config.history
    from pytest_simperf.history import DEFAULT_HISTORY_PATH

    if config.source != "defaults":
        return Path(config.source).parent / DEFAULT_HISTORY_PATH
    return DEFAULT_HISTORY_PATH


def run(
    name: str,
    *,
    history: str | Path | None = None,
    config: MonitorConfig | str | Path | None = None,
    on_alert: Callable[[Alert], Any] | None = None,
    host: str | None = None,
    instruments: Instruments | None = None,
    record: bool = True,
) -> Run:
    """One production run named ``name`` (the pipeline: runs of the same name are compared).

    ``history``: the database (default: ``$SIMPERF_HISTORY``, then ``[tool.simperf.monitor]
    history``, then ``.simperf/history.duckdb`` beside the ``pyproject.toml``). ``config``: a
    ``MonitorConfig`` or the ``pyproject.toml`` to read (default: found from the working
    directory). ``on_alert``: called with each ``Alert`` (besides the global handlers).
    ``host``: the key of comparable hosts (default: this host's; give a stable label where the
    pipeline runs on fresh containers). ``record=False`` judges without writing.
    """
    return Run(
        name,
        history=history,
        config=config,
        on_alert=on_alert,
        host=host,
        instruments=instruments,
        record=record,
    )


# -- the decorator -----------------------------------------------------------------------------

_EAGER_FRAMES = frozenset({"pandas", "polars", "pyarrow", "numpy"})


def cheap_rows(result: Any) -> int | None:
    """Rows of a result when counting them costs nothing: a list or tuple, or an in-memory
    pandas / polars / pyarrow / numpy frame. Never a DuckDB relation or a lazy frame: counting
    those would run the user's query again."""
    if isinstance(result, list | tuple):
        return len(result)
    cls = type(result)
    if cls.__module__.partition(".")[0] in _EAGER_FRAMES and hasattr(cls, "__len__"):
        try:
            return len(result)
        except Exception:
            return None
    return None


def _resolve(value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    return value(*args, **kwargs) if callable(value) else value


def monitored(
    component: str,
    *,
    kind: str | None = None,
    year: int | Callable[..., int | None] | None = None,
    rows_in: int | Callable[..., int | None] | None = None,
    rows_out: Callable[[Any], int | None] | None = None,
) -> Callable[[F], F]:
    """Record each call of the decorated function as a phase of the current run.

    ``year`` and ``rows_in`` are values or callables of the call's arguments; ``rows_out`` a
    callable of the result (default: ``cheap_rows``). Outside a run the function just runs: a
    decorated asset called from a test or a notebook writes no production history.
    """
    _check_phase(component, None, f"@monitored({component!r})")
    if isinstance(year, int) and not isinstance(year, bool):
        _check_phase(component, year, f"@monitored({component!r})")
    if rows_out is not None and not callable(rows_out):
        raise UsageError(f"@monitored({component!r}): rows_out must be a callable of the result")

    def decorate(fn: F) -> F:
        if not callable(fn):
            raise UsageError(f"@monitored({component!r}) decorates a function, got {fn!r}")

        def begin(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Run, Any] | None:
            current = current_run()
            if current is None:
                return None
            y = _resolve(year, args, kwargs)
            r_in = _resolve(rows_in, args, kwargs)
            return current, current.phase(component, year=y, rows_in=r_in, kind=kind)

        def count(result: Any) -> int | None:
            return rows_out(result) if rows_out is not None else cheap_rows(result)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                started = begin(args, kwargs)
                if started is None:
                    return await fn(*args, **kwargs)
                with started[1] as handle:
                    result = await fn(*args, **kwargs)
                    if handle.rows_out is None:
                        handle.rows_out = count(result)
                return result

            return cast(F, awrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            started = begin(args, kwargs)
            if started is None:
                return fn(*args, **kwargs)
            with started[1] as handle:
                result = fn(*args, **kwargs)
                if handle.rows_out is None:
                    handle.rows_out = count(result)
            return result

        return cast(F, wrapper)

    return decorate
