"""The ``simperf`` fixture's object: ``measure``, ``phase``, ``track`` and ``record``.

It writes ``PhaseRecord``s into the test's collector; judging them happens after the test body,
in the session. The one exception is the confirmation rerun: ``measure`` can call the function
again, so it asks the verdict whether the first rounds would fail (or are borderline) and, if so,
measures once more before the verdict is final. Phases run once and cannot be rerun.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pytest_simperf.calibration import MachineComparison as Comparability
from pytest_simperf.child import region_label
from pytest_simperf.errors import UsageError
from pytest_simperf.markers import TestOptions
from pytest_simperf.measure import (
    Clock,
    CounterHub,
    Counters,
    DuckDBTracker,
    MemoryTracker,
    TrackedConnection,
    configure_duckdb,
    gc_paused,
    intercept_connections,
    run_rounds,
)
from pytest_simperf.results import PhaseRecord, TestCollector, phase_key
from pytest_simperf.unmeasured import PhaseHandle, check_phase
from pytest_simperf.valgrind import RegionCounter
from pytest_simperf.verdict import wants_confirmation

_MB = 1024.0 * 1024.0
# A measure() whose rounds would take longer than this stops early (after at least 3 rounds).
MAX_MEASURE_TIME_S = 30.0


@dataclasses.dataclass
class TestContext:
    """What the fixture needs to know about its test; built by the session."""

    __test__ = False

    collector: TestCollector
    options: TestOptions
    baseline: Mapping[str, Any] | None
    comparability: Comparability
    confirm: bool
    duckdb_threads: int | None
    memory: MemoryTracker
    clock: Clock = time.perf_counter
    cpu_clock: Clock = time.process_time
    # Run-queue wait of the measuring thread (measure.runqueue_wait_clock); None: not read.
    wait_clock: Clock | None = None
    # In a counting child (``--simperf-child``, under valgrind): counts each region's
    # instructions instead of timing rounds. Labels are ``nodeid`` NUL ``phase key``.
    counter: RegionCounter | None = None

    def count_label(self, key: str) -> str:
        return region_label(self.collector.nodeid, key)


class Simperf:
    """Measures regions of a performance test. Get it by requesting the ``simperf`` fixture."""

    measuring = True

    def __init__(self, context: TestContext) -> None:
        self._ctx = context
        self._hub = CounterHub()  # the connections whose statements regions count
        self._intercepting = 0  # intercept_connections() blocks entered and not yet left
        # (handle, [measured inside?], counting region id or None) per open phase.
        self._phase_stack: list[tuple[PhaseHandle, list[bool], int | None]] = []
        context.collector.uses_fixture = True

    # -- connections -------------------------------------------------------------------------

    def track(self, con: Any) -> TrackedConnection:
        """Profile this DuckDB connection inside measured regions; use the returned object.

        Statements run through it inside ``measure``/``phase`` contribute their exact work
        counters (rows scanned, intermediate rows) and DuckDB's peak buffer memory. Under
        ``intercept_connections()`` (on for perf tests) every connection is tracked anyway.
        """
        if isinstance(con, TrackedConnection):
            con.simperf_tracker.move_to(self._hub)
            return con
        tracker = self._hub.tracker_for(con)
        if tracker is None:
            configure_duckdb(con, self._ctx.duckdb_threads)
            tracker = DuckDBTracker(con, self._hub)
        return TrackedConnection(con, tracker)

    @contextmanager
    def intercept_connections(self) -> Iterator[None]:
        """Track every DuckDB connection the test opens while the block runs, and pin its
        threads to the session's setting: ``duckdb.connect()`` and ``con.cursor()`` of the
        code under test (dbt-duckdb included), and any connection that runs a statement in a
        measured region. The connections stay real ``duckdb.DuckDBPyConnection`` objects.

        The plugin enters it around a perf test unless the test opts out; on exit ``duckdb``
        is as it was and this test's connections count nowhere any more.
        """
        self._intercepting += 1
        try:
            with intercept_connections(self._on_connect, adopt=self._adopt):
                yield
        finally:
            self._intercepting -= 1
            if not self._intercepting:  # a nested use leaves the outer one its connections
                self._hub.release()

    def _on_connect(self, con: Any) -> None:
        if self._hub.tracker_for(con) is None:
            configure_duckdb(con, self._ctx.duckdb_threads)
            DuckDBTracker(con, self._hub)

    def _adopt(self, con: Any) -> bool:
        """A connection this test did not see open runs a statement: track it if it is in a
        measured region (its threads pinned first, as for the ones it opened)."""
        if not self._hub.counting or self._hub.tracker_for(con) is not None:
            return False
        self._on_connect(con)
        return True

    @contextmanager
    def count_work(self) -> Iterator[Counters]:
        """DuckDB's exact work counters of this test's tracked connections over the block,
        without making it a phase: for integrations that time regions themselves and record
        them with ``record()`` (the dbt fixture counts each model between dbt's node events).
        The counters are complete when the block ends."""
        with self._hub.region() as counters:
            yield counters

    @contextmanager
    def _counting(self) -> Iterator[list[Counters]]:
        with self._hub.region() as counters:
            yield [counters]

    @staticmethod
    def _apply_counters(record: PhaseRecord, counters: list[Counters]) -> None:
        statements = sum(c.statements for c in counters)
        if statements == 0:
            return
        record.rows_scanned = sum(c.rows_scanned for c in counters)
        record.intermediate_rows = sum(c.intermediate_rows for c in counters)
        peaks = [c.peak_buffer_bytes for c in counters if c.peak_buffer_bytes is not None]
        if peaks:
            record.duckdb_peak_buffer_mb = max(peaks) / _MB
        record.meta["duckdb_connections"] = sum(c.connections for c in counters)
        record.meta["counters_statements"] = statements
        unprofiled = sum(c.unprofiled for c in counters)
        if unprofiled:
            reasons: dict[str, int] = {}
            for c in counters:
                for reason, count in c.reasons.items():
                    reasons[reason] = reasons.get(reason, 0) + count
            record.mark_counters_incomplete(unprofiled, statements, reasons)

    # -- regions -----------------------------------------------------------------------------

    def _current_phase(self) -> PhaseHandle | None:
        return self._phase_stack[-1][0] if self._phase_stack else None

    def measure(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Warm up, then time ``fn(*args, **kwargs)`` over repeated rounds; return its result.

        Inside a ``phase``, the rounds become that phase's samples; otherwise the region is named
        ``measure`` (then ``measure_2``, …).
        """
        if not callable(fn):
            raise UsageError(f"simperf.measure() needs a callable, got {fn!r}")
        ctx, options = self._ctx, self._ctx.options
        phase = self._current_phase()
        if phase is not None:
            self._phase_stack[-1][1][0] = True
            name, year = phase.name, phase.year
        else:
            name, year = ctx.collector.next_measure_name(), None
        if ctx.counter is not None:
            return self._count(ctx.counter, fn, args, kwargs, name, year)
        counters: list[Counters] = []
        result: Any = None
        for index in range(options.warmup):
            if index == 0:
                with self._counting() as counters:
                    result = fn(*args, **kwargs)
            else:
                result = fn(*args, **kwargs)
        with ctx.memory.region() as region:
            if options.warmup == 0:
                with self._counting() as counters:
                    rounds = self._rounds(fn, args, kwargs, options.rounds)
            else:
                rounds = self._rounds(fn, args, kwargs, options.rounds)
        result = rounds.result
        record = PhaseRecord(
            name=name,
            year=year,
            samples_s=rounds.samples_s,
            source="measure",
            cpu_s=rounds.cpu_s,
            wait_s=rounds.wait_s,
            start_rss_mb=region.start_mb,
            peak_rss_mb=region.peak_mb,
        )
        self._apply_counters(record, counters)
        if phase is not None and phase.rows is not None:
            record.rows = phase.rows
        elif isinstance(result, list | tuple):
            record.rows = len(result)
        baseline_phase = None
        if ctx.baseline is not None:
            baseline_phase = ctx.baseline.get("phases", {}).get(record.key)
        if ctx.confirm and wants_confirmation(record, baseline_phase, options, ctx.comparability):
            # More rounds, not a confirmation: a rerun in this process shares its luck (a slow
            # process is slow in every round). The session confirms in a fresh process.
            if options.warmup:
                # Judging evicted the work's caches: measured here, the first rerun round ran
                # 20-60% slow.
                fn(*args, **kwargs)
            more = self._rounds(fn, args, kwargs, options.rounds)
            record.samples_s.extend(more.samples_s)
            record.cpu_s.extend(more.cpu_s)
            record.wait_s.extend(more.wait_s)
            result = more.result
        ctx.collector.add(record)
        return result

    def _count(
        self,
        counter: RegionCounter,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        name: str,
        year: int | None,
    ) -> Any:
        """In a counting child: warm up uncounted, then count one execution of ``fn``.

        Instruction counts do not vary from run to run as seconds do (the same region repeats
        within 0.1-0.2% across processes), so one counted execution is enough.
        """
        if self._phase_stack and self._phase_stack[-1][2] is not None:
            counter.discard(self._phase_stack[-1][2])  # the phase's work is counted here
        result: Any = None
        for _ in range(max(1, self._ctx.options.warmup)):
            result = fn(*args, **kwargs)
        # No gc.collect() first (as timed rounds have): it returns memory arenas, and the
        # allocations that then refill them made the count depend on the heap's history (the
        # same region moved 2% with another set of pytest plugins loaded; without it, 0.0002%).
        with gc_paused(), counter.region(self._ctx.count_label(phase_key(name, year))):
            t0 = self._ctx.clock()
            result = fn(*args, **kwargs)
            elapsed = self._ctx.clock() - t0
        self._ctx.collector.add(PhaseRecord(name=name, year=year, samples_s=[elapsed]))
        return result

    def _rounds(
        self, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], rounds: int
    ) -> Any:
        return run_rounds(
            fn,
            args,
            kwargs,
            rounds=rounds,
            clock=self._ctx.clock,
            cpu_clock=self._ctx.cpu_clock,
            wait_clock=self._ctx.wait_clock,
            max_time_s=MAX_MEASURE_TIME_S,
        )

    @contextmanager
    def phase(
        self, name: str, *, year: int | None = None, rows: int | None = None
    ) -> Iterator[PhaseHandle]:
        """Time one named block (a component, a simulation year). Entered once per year, it
        yields one record per (name, year); entered repeatedly, its samples accumulate."""
        check_phase(name, year)
        handle = PhaseHandle(name=name, year=year, rows=rows)
        measured_inside = [False]
        ctx = self._ctx
        if ctx.counter is not None:
            # Counting child: no timing, memory or DuckDB profiling inside the counted block.
            region_id = ctx.counter.open(ctx.count_label(phase_key(name, year)))
            self._phase_stack.append((handle, measured_inside, region_id))
            try:
                yield handle
            finally:
                self._phase_stack.pop()
                ctx.counter.close(region_id)
            if not measured_inside[0]:
                ctx.collector.add(PhaseRecord(name=name, year=year, samples_s=[0.0]))
            return
        self._phase_stack.append((handle, measured_inside, None))
        try:
            with ctx.memory.region() as region, self._counting() as counters:
                w0 = None if ctx.wait_clock is None else ctx.wait_clock()
                cpu0, t0 = ctx.cpu_clock(), ctx.clock()
                yield handle
                t1, cpu1 = ctx.clock(), ctx.cpu_clock()
                w1 = None if ctx.wait_clock is None else ctx.wait_clock()
        finally:
            self._phase_stack.pop()
        if measured_inside[0]:
            return  # measure() inside the block recorded proper rounds for this phase
        record = PhaseRecord(
            name=name,
            year=year,
            samples_s=[t1 - t0],
            source="phase",
            cpu_s=[cpu1 - cpu0],
            wait_s=[] if w0 is None or w1 is None else [w1 - w0],
            start_rss_mb=region.start_mb,
            peak_rss_mb=region.peak_mb,
            rows=handle.rows,
        )
        self._apply_counters(record, counters)
        ctx.collector.add(record)

    def record(
        self,
        name: str,
        *,
        year: int | None = None,
        samples_s: list[float] | tuple[float, ...],
        rows: int | None = None,
        cpu_s: list[float] | tuple[float, ...] | None = None,
        peak_rss_mb: float | None = None,
        start_rss_mb: float | None = None,
        duckdb_peak_buffer_mb: float | None = None,
        rows_scanned: int | None = None,
        intermediate_rows: int | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Add a region timed elsewhere (dbt run results, pytest-benchmark rounds); every
        figure is checked as it enters (``checked_record``)."""
        self._ctx.collector.add(
            checked_record(
                self._ctx.collector.nodeid,
                name,
                year=year,
                samples_s=samples_s,
                rows=rows,
                cpu_s=cpu_s,
                peak_rss_mb=peak_rss_mb,
                start_rss_mb=start_rss_mb,
                duckdb_peak_buffer_mb=duckdb_peak_buffer_mb,
                rows_scanned=rows_scanned,
                intermediate_rows=intermediate_rows,
                meta=meta,
            )
        )

    @property
    def records(self) -> list[PhaseRecord]:
        """What this test has measured so far."""
        return list(self._ctx.collector.phases.values())


def prepare_connection(request: Any, con: Any) -> Any:
    """Get a DuckDB connection ready for measured work in a test: threads pinned per settings,
    and tracked by ``simperf`` when the test uses it. Returns the connection to hand out."""
    from pytest_simperf.session import get_session

    session = get_session(request.config)
    configure_duckdb(con, session.settings.duckdb_threads)
    if "simperf" in request.fixturenames and session.settings.enabled:
        simperf: Simperf = request.getfixturevalue("simperf")
        return simperf.track(con)
    return con


def checked_record(
    nodeid: str,
    name: str,
    *,
    year: int | None = None,
    samples_s: list[float] | tuple[float, ...],
    rows: int | None = None,
    cpu_s: list[float] | tuple[float, ...] | None = None,
    peak_rss_mb: float | None = None,
    start_rss_mb: float | None = None,
    duckdb_peak_buffer_mb: float | None = None,
    rows_scanned: int | None = None,
    intermediate_rows: int | None = None,
    meta: dict[str, Any] | None = None,
) -> PhaseRecord:
    """Check the arguments of ``simperf.record`` and build the record.

    Every figure is checked here, where it enters, because this is the one door through which
    numbers the plugin did not measure itself reach baselines and history: a NaN median would be
    written as ``null`` and then refused by every later run, a year past the history's integer
    column would cost the whole run its history row. The error names the test and the region.
    Unmeasured runs check them too, so a plain ``pytest`` finds a bad call.
    """
    from pytest_simperf.baseline import is_count, is_finite_non_negative, is_year

    where = f"{nodeid}: simperf.record({name!r})"
    if not isinstance(name, str) or not name or "@" in name:
        raise UsageError(f"{where}: name must be a non-empty string without '@'")
    if year is not None and not is_year(year):
        raise UsageError(f"{where}: year must be an int within ±2**31, got {year!r}")

    def seconds(values: Any, field: str, *, required: bool) -> list[float]:
        if isinstance(values, str | bytes) or not isinstance(values, list | tuple):
            raise UsageError(f"{where}: {field} must be a list of seconds, got {values!r}")
        if required and not values:
            raise UsageError(f"{where}: {field} must be non-empty")
        for index, value in enumerate(values):
            if not is_finite_non_negative(value):
                raise UsageError(
                    f"{where}: {field}[{index}] must be a finite number ≥ 0, got {value!r}"
                )
        return [float(v) for v in values]

    def megabytes(value: Any, field: str) -> float | None:
        if value is not None and not is_finite_non_negative(value):
            raise UsageError(f"{where}: {field} must be a finite number ≥ 0, got {value!r}")
        return None if value is None else float(value)

    def count(value: Any, field: str) -> int | None:
        if value is not None and not is_count(value):
            raise UsageError(f"{where}: {field} must be a whole number ≥ 0, got {value!r}")
        return None if value is None else int(value)

    if meta is not None and not isinstance(meta, dict):
        raise UsageError(f"{where}: meta must be a dict, got {type(meta).__name__}")
    return PhaseRecord(
        name=name,
        year=year,
        samples_s=seconds(samples_s, "samples_s", required=True),
        source="record",
        cpu_s=seconds(cpu_s or [], "cpu_s", required=False),
        start_rss_mb=megabytes(start_rss_mb, "start_rss_mb"),
        peak_rss_mb=megabytes(peak_rss_mb, "peak_rss_mb"),
        duckdb_peak_buffer_mb=megabytes(duckdb_peak_buffer_mb, "duckdb_peak_buffer_mb"),
        rows=count(rows, "rows"),
        rows_scanned=count(rows_scanned, "rows_scanned"),
        intermediate_rows=count(intermediate_rows, "intermediate_rows"),
        meta=dict(meta or {}),
    )
