"""How a region is measured: clocks, repeated rounds, peak memory, and DuckDB's work counters.

Everything time- or memory-dependent is injectable (``clock``, ``cpu_clock``, ``MemoryReader``),
so the logic is unit-tested without sleeps. Choices, and why:

- Wall time from ``time.perf_counter`` (monotonic, highest resolution); CPU time from
  ``time.process_time`` (all threads of the process, so DuckDB's worker threads count).
- Run-queue wait (Linux ``/proc/thread-self/schedstat``: time the measuring thread was runnable
  but not running) is read around each round, so the verdict can tell a region that waits for
  I/O from a CPU-bound one that waited for a core a neighbour held.
- Garbage collection is collected before the rounds and disabled inside each round, as
  ``timeit`` does: a collection triggered by earlier garbage is noise, not the user's cost.
- Peak memory is the process RSS high-water mark during the region. On Linux the kernel keeps it
  exactly (``VmHWM``, reset through ``/proc/self/clear_refs``), at no cost; elsewhere a psutil
  sampling thread polls RSS. Never the difference of two readings, which misses the peak.
- DuckDB counters come from its profiler, read after each statement of a tracked connection
  (``duckdb_profile`` reads every layout DuckDB has written). They are deterministic, so
  ``measure()`` reads them in the warm-up round only and times the other rounds with the
  profiler off. A statement whose profile cannot be read is counted as missing, with the reason:
  a region's counters are complete or say they are not. ``intercept_connections`` extends this
  to every connection the code under test opens (docs/duckdb-counters.md).
"""

from __future__ import annotations

import atexit
import contextlib
import dataclasses
import functools
import gc
import os
import shutil
import tempfile
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from pytest_simperf.duckdb_profile import (
    Profile,
    ProfileState,
    StatementCounters,
    incomplete_note,
    normalise_sql,
    parse_profile,
    same_statement,
)

Clock = Callable[[], float]

_MB = 1024.0 * 1024.0


class MemoryReader(Protocol):
    """Reads this process's memory; implementations exist for Linux, psutil and tests."""

    def rss_mb(self) -> float:
        """Current resident set size in MiB."""
        ...

    def peak_mb(self) -> float | None:
        """High-water RSS since the last ``reset_peak``, or None if not tracked by the OS."""
        ...

    def reset_peak(self) -> bool:
        """Reset the high-water mark; False if the OS cannot."""
        ...


class LinuxMemoryReader:
    """Exact peak RSS from the kernel (``VmHWM``), resettable via ``/proc/self/clear_refs``."""

    _status = Path("/proc/self/status")
    _clear = Path("/proc/self/clear_refs")

    def _field_kb(self, name: str) -> float:
        for line in self._status.read_text().splitlines():
            if line.startswith(name):
                return float(line.split()[1])
        raise OSError(f"{name} missing from {self._status}")

    def rss_mb(self) -> float:
        return self._field_kb("VmRSS:") / 1024.0

    def peak_mb(self) -> float | None:
        return self._field_kb("VmHWM:") / 1024.0

    def reset_peak(self) -> bool:
        try:
            with self._clear.open("w") as handle:
                handle.write("5")
        except OSError:
            return False
        return True

    @classmethod
    def available(cls) -> bool:
        """True when this kernel reports and resets the high-water mark."""
        try:
            reader = cls()
            reader.peak_mb()
            return reader.reset_peak()
        except OSError:
            return False


class PsutilMemoryReader:
    """Portable fallback: current RSS from psutil; peaks come from a sampling thread."""

    def __init__(self) -> None:
        import psutil

        self._process = psutil.Process()

    def rss_mb(self) -> float:
        return float(self._process.memory_info().rss) / _MB

    def peak_mb(self) -> float | None:
        return None

    def reset_peak(self) -> bool:
        return False


def default_memory_reader() -> MemoryReader:
    """The most exact reader this platform offers."""
    if LinuxMemoryReader.available():
        return LinuxMemoryReader()
    return PsutilMemoryReader()


@dataclasses.dataclass(eq=False)
class _Region:
    start_mb: float
    peak_mb: float


class MemoryTracker:
    """Peak RSS per region, correct for nested regions.

    Resetting the kernel's high-water mark for an inner region would lose the outer region's
    peak, so every open region is updated with the current mark before any reset. Without an OS
    high-water mark, a sampling thread raises the peaks of all open regions.
    """

    def __init__(self, reader: MemoryReader, *, sample_interval_s: float = 0.005) -> None:
        self._reader = reader
        self._interval = sample_interval_s
        self._open: list[_Region] = []
        self._lock = threading.Lock()
        self._exact = reader.peak_mb() is not None and reader.reset_peak()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def exact(self) -> bool:
        """True when peaks come from the OS high-water mark rather than sampling."""
        return self._exact

    def _raise_open(self, value: float) -> None:
        for region in self._open:
            region.peak_mb = max(region.peak_mb, value)

    def _observe(self) -> None:
        current = self._reader.rss_mb()
        peak = self._reader.peak_mb() if self._exact else None
        self._raise_open(max(current, peak) if peak is not None else current)

    def _sample_loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                if not self._open:
                    return
                self._observe()

    @contextmanager
    def region(self) -> Iterator[_Region]:
        """Track the peak during the ``with`` block; the yielded region is final on exit."""
        with self._lock:
            self._observe()
            start = self._reader.rss_mb()
            if self._exact:
                self._reader.reset_peak()
            region = _Region(start_mb=start, peak_mb=start)
            self._open.append(region)
            if not self._exact and (self._thread is None or not self._thread.is_alive()):
                self._stop.clear()
                self._thread = threading.Thread(
                    target=self._sample_loop, name="simperf-memory", daemon=True
                )
                self._thread.start()
        try:
            yield region
        finally:
            with self._lock:
                self._observe()
                self._open.remove(region)
                if not self._open:
                    self._stop.set()


# -- DuckDB work counters --------------------------------------------------------------------
#
# DuckDB profiles only the last statement of a connection, and a streaming result only once it
# has been read to its end. So a statement's profile is read after it returns (finished results)
# or, failing that, when the next statement starts or the region ends; a result still open then
# is run to its end first (DuckDB would discard it there anyway). What cannot be read is counted
# as missing, with the reason, so a region's counters are complete or say they are not.

# Reading an abandoned result to its end, on DuckDB < 2 (no complete()), stops after this many
# rows: the profile is then missing, not paid for with minutes of fetching.
_DRAIN_ROWS = 1_000_000
_DRAIN_CHUNK = 8192


@dataclasses.dataclass(eq=False)  # regions are told apart by identity, not by equal counts
class Counters:
    """DuckDB work counters summed over the statements of a region.

    ``statements`` counts every statement run (a multi-statement script or ``executemany``
    counts each run); ``unprofiled`` those whose work is not in the sums, ``reasons`` why.
    """

    rows_scanned: int = 0
    intermediate_rows: int = 0
    peak_buffer_bytes: int | None = None
    cpu_time_s: float = 0.0
    statements: int = 0
    unprofiled: int = 0
    reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    # The connections that ran statements in the region (by tracker identity).
    sources: set[int] = dataclasses.field(default_factory=set)

    @property
    def connections(self) -> int:
        return len(self.sources)

    @property
    def complete(self) -> bool:
        return self.unprofiled == 0

    def add(self, profile: Mapping[str, Any] | str | StatementCounters) -> None:
        """Count one statement from its profile (DuckDB's JSON, any layout) or its counters."""
        self.statements += 1
        if isinstance(profile, StatementCounters):
            self._sum(profile)
            return
        parsed = parse_profile(profile)
        if parsed.counters is None:
            self.missing(parsed.reason or "its profile has no totals (the result was open)")
        else:
            self._sum(parsed.counters)

    def _sum(self, counters: StatementCounters) -> None:
        self.rows_scanned += counters.rows_scanned
        self.intermediate_rows += counters.intermediate_rows
        self.cpu_time_s += counters.cpu_time_s
        if counters.peak_buffer_bytes is not None:
            self.peak_buffer_bytes = max(self.peak_buffer_bytes or 0, counters.peak_buffer_bytes)

    def missing(self, reason: str, count: int = 1) -> None:
        """``count`` statements of the region whose work is not in the sums, and why."""
        if count <= 0:
            return
        self.unprofiled += count
        self.reasons[reason] = self.reasons.get(reason, 0) + count

    def note(self) -> str | None:
        """``counters incomplete: N of M statements had no profile (why)``; None if complete."""
        return incomplete_note(self.unprofiled, self.statements, self.reasons)


class _ProfileReader:
    """Switches DuckDB's profiler on and off for one connection and reads its last profile."""

    #: Every statement is profiled (``profiling_coverage='ALL'``, DuckDB >= 1.4), so a statement
    #: without a profile lost it. Before 1.4 DDL and SET are never profiled: no profile there
    #: means a statement without a plan, which scans nothing.
    coverage_all = False

    _text: str | None = None
    _parsed: Profile = Profile(ProfileState.NONE)

    def enable(self, con: Any) -> None:
        raise NotImplementedError

    def _parse(self, text: Any) -> Profile:
        """Parse, or the last parse when DuckDB hands out the same text again (the tracker
        reads a profile more than once between statements)."""
        if not isinstance(text, str):
            return parse_profile(text)
        if text != self._text:
            self._text, self._parsed = text, parse_profile(text)
        return self._parsed

    def disable(self, con: Any) -> None:
        _run(con, "PRAGMA disable_profiling")

    def read(self, con: Any) -> Profile:
        raise NotImplementedError

    def absent(self) -> Profile:
        """What "still no profile" means once the statement's result was run to its end."""
        return Profile(ProfileState.UNREADABLE, reason="its result was still open (read in part)")

    def _cover_all(self, con: Any) -> None:
        try:
            _run(con, "SET profiling_coverage = 'ALL'")
        except Exception:  # DuckDB < 1.4 has no such setting
            self.coverage_all = False
        else:
            self.coverage_all = True


class _ApiProfileReader(_ProfileReader):
    """DuckDB >= 1.5: ``get_profiling_information()`` hands the profile out."""

    def enable(self, con: Any) -> None:
        _run(con, "SET enable_profiling = 'no_output'")
        self._cover_all(con)

    def read(self, con: Any) -> Profile:
        try:
            text = _original(con, "get_profiling_information")(con, format="json")
        except Exception as error:  # closed, or profiling was switched off by the user
            return Profile(ProfileState.UNREADABLE, reason=f"no profile: {_short(error)}")
        return self._parse(text)


class _FileProfileReader(_ProfileReader):
    """DuckDB 1.1-1.4: no ``get_profiling_information`` in Python; DuckDB writes each finished
    statement's profile (the same flat JSON as 1.5) to the ``profiling_output`` file."""

    _dir: Path | None = None

    def __init__(self) -> None:
        self.path = self._folder() / f"{uuid.uuid4().hex}.json"

    @classmethod
    def _folder(cls) -> Path:
        if cls._dir is None or not cls._dir.is_dir():
            folder = Path(tempfile.mkdtemp(prefix="simperf-profiles-"))
            atexit.register(shutil.rmtree, folder, True)
            _FileProfileReader._dir = folder
        return cls._dir  # type: ignore[return-value]

    def enable(self, con: Any) -> None:
        self.path.unlink(missing_ok=True)
        quoted = str(self.path).replace("'", "''")
        _run(con, f"SET profiling_output = '{quoted}'")
        _run(con, "SET enable_profiling = 'json'")
        self._cover_all(con)
        self.path.unlink(missing_ok=True)  # the SETs' own profiles

    def disable(self, con: Any) -> None:
        try:
            _run(con, "PRAGMA disable_profiling")
            _run(con, "SET profiling_output = ''")
        finally:
            self.path.unlink(missing_ok=True)

    def absent(self) -> Profile:
        if self.coverage_all:
            return Profile(ProfileState.UNREADABLE, reason="DuckDB wrote no profile for it")
        return Profile(ProfileState.NONE)  # before 1.4: a statement without a plan

    def read(self, con: Any) -> Profile:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            # Nothing written yet: the statement is still open (or, before 1.4, has no plan).
            return Profile(ProfileState.OPEN)
        except OSError as error:
            return Profile(ProfileState.UNREADABLE, reason=f"no profile: {_short(error)}")
        # Left in place: a statement DuckDB does not profile leaves the last one's, which the
        # tracker knows by its signature.
        return self._parse(text)


def profile_reader(con: Any) -> _ProfileReader:
    """The way this connection's DuckDB hands out profiles."""
    if hasattr(con, "get_profiling_information"):
        return _ApiProfileReader()
    return _FileProfileReader()


@dataclasses.dataclass(eq=False)
class _Statement:
    """A statement started inside a region, whose profile has not been read yet."""

    kind: str
    sql: str | None
    runs: int
    sinks: tuple[Counters, ...]
    earlier: int = 0  # statements of a multi-statement call counted before its last
    # The thread that runs it, while its call has not returned (``CounterHub(by_thread=True)``
    # leaves such a statement to that thread instead of reading its result from another).
    running_in: int | None = None
    # Held until the profile is read: ``con.cursor().execute(q).fetchall()`` drops the cursor
    # at once, and DuckDB would close it with the profile unread.
    con: Any = None
    whole: str | None = None  # the text a statement was split from (DuckDB < 1.3 names it so)


class CounterHub:
    """The counting regions open now and the connections whose statements they count.

    One per test (``Simperf``): ``region()`` opens a region; every statement run on any tracked
    connection while it is open is counted in it (and in the regions around it). The profiler
    is switched on for a connection at its first statement in a region, and off when the
    outermost region ends. A lock keeps statements from another thread (dbt runs its models in
    a worker thread) from interleaving with a region opening or closing.

    ``by_thread=True`` is for concurrent regions opened from several threads (the monitor's
    phases run by an orchestrator in parallel): a statement counts in the regions its own thread
    opened, or in all open ones when its thread opened none (a worker thread working for a
    region); and a region's end never reads or drains a statement another thread is still
    running on its connection.
    """

    def __init__(self, *, by_thread: bool = False) -> None:
        self.lock = threading.RLock()
        self.open: list[Counters] = []
        self._trackers: list[DuckDBTracker] = []
        self.by_thread = by_thread
        self._owners: dict[int, int] = {}  # id(region counters) -> thread that opened it

    def sinks(self) -> tuple[Counters, ...]:
        """The open regions a statement run now by the calling thread counts in."""
        if not self.by_thread:
            return tuple(self.open)
        me = threading.get_ident()
        own = tuple(c for c in self.open if self._owners.get(id(c)) == me)
        return own or tuple(self.open)

    @property
    def counting(self) -> bool:
        return bool(self.open)

    def add(self, tracker: DuckDBTracker) -> None:
        with self.lock:
            if tracker not in self._trackers:
                self._trackers.append(tracker)

    def tracker_for(self, con: Any) -> DuckDBTracker | None:
        with self.lock:
            for tracker in self._trackers:
                if tracker.connection is con:
                    return tracker
        return None

    def release(self) -> None:
        """Forget every connection (the test is over): their statements count nowhere now."""
        with self.lock:
            for tracker in self._trackers:
                tracker.alive = False
            self._trackers.clear()

    def discard(self, tracker: DuckDBTracker) -> None:
        with self.lock:
            if tracker in self._trackers:
                self._trackers.remove(tracker)

    @contextmanager
    def region(self) -> Iterator[Counters]:
        """Count the statements run during the block; the counters are final on exit."""
        counters = Counters()
        with self.lock:
            self.open.append(counters)
            if self.by_thread:
                self._owners[id(counters)] = threading.get_ident()
            _OPEN_REGIONS[0] += 1
        try:
            yield counters
        finally:
            with self.lock:
                for tracker in list(self._trackers):
                    if self.by_thread and tracker.running_elsewhere():
                        tracker.leave_running(counters)
                        continue
                    tracker.settle_all()
                    if tracker.connection is None:
                        self._trackers.remove(tracker)  # collected: nothing more to read
                self.open.remove(counters)
                self._owners.pop(id(counters), None)
                _OPEN_REGIONS[0] -= 1
                if not self.open:
                    for tracker in list(self._trackers):
                        if not tracker.running_elsewhere():
                            tracker.stop()


class DuckDBTracker:
    """Profiles one DuckDB connection's statements while a region of its hub is open.

    Each statement (``execute``, ``executemany``, DuckDB 2's relation runs) is counted in the
    regions open when it started. Its profile is read as soon as it is final: when the call
    returns, or when the next statement starts or the region ends, after running a result left
    open to its end (DuckDB discards it at those points anyway). A profile that cannot be read
    is counted as missing with the reason. Profiles that appear without a statement seen to
    start (a relation run on DuckDB 1.x) are counted when they are noticed.
    """

    def __init__(self, con: Any, hub: CounterHub | None = None) -> None:
        self._ref = _weak(con)
        self.hub = hub if hub is not None else CounterHub()
        self._reader: _ProfileReader | None = None
        self._enabled = False
        self._failed: str | None = None  # why profiling could not be switched on
        self._pending: _Statement | None = None
        self._seen: tuple[Any, ...] | None = None
        self.alive = True
        with contextlib.suppress(TypeError):  # a test double without weak references
            _TRACKERS[con] = self
        self.hub.add(self)

    @property
    def connection(self) -> Any:
        return self._ref()

    def move_to(self, hub: CounterHub) -> None:
        """Count this connection in another hub (a connection handed from test to test)."""
        if hub is self.hub:
            return
        with self.hub.lock:
            self._pending = None
            self.hub.discard(self)
        self.hub = hub
        self.alive = True
        with contextlib.suppress(TypeError):
            con = self.connection
            if con is not None:
                _TRACKERS[con] = self
        hub.add(self)

    def counting(self) -> AbstractContextManager[Counters]:
        """A counting region of this tracker's hub (a hub of its own unless one was given)."""
        return self.hub.region()

    # -- statements --------------------------------------------------------------------------

    def statement(
        self,
        kind: str,
        sql: str | None,
        call: Callable[[], Any],
        *,
        replaces_result: bool = False,
        runs: int = 1,
        whole: str | None = None,
    ) -> Any:
        """Run one statement (``call``) and count it in the open regions."""
        hub = self.hub
        if not hub.open:  # the common case outside regions: no lock, no profile
            return call()
        with hub.lock:
            if not hub.open:  # the region closed meanwhile (another thread)
                return call()
            self._begin(kind, sql, runs, replaces_result=replaces_result, whole=whole)
            started = self._pending
            if started is not None:
                started.running_in = threading.get_ident()
        try:
            result = call()
        except BaseException:
            with hub.lock:
                if started is not None:
                    started.running_in = None
                self._abandon()
            raise
        with hub.lock:
            if started is not None:
                started.running_in = None
            self._after()
        return result

    def running_elsewhere(self) -> bool:
        """A statement of this connection is running now in another thread than the caller's."""
        pending = self._pending
        return (
            pending is not None
            and pending.running_in is not None
            and pending.running_in != threading.get_ident()
        )

    def leave_running(self, counters: Counters) -> None:
        """A region ends while another thread's statement it counts still runs: the statement
        is left to its thread (reading it here would race that thread), and the region says
        its counters lack it."""
        pending = self._pending
        if pending is not None and counters in pending.sinks:
            counters.missing("its statement was still running in another thread", pending.runs)

    def execute(self, con: Any, execute: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``con.execute(*args, **kwargs)`` through ``execute`` (the unhooked method), counted.

        A text of several statements is run one statement at a time while a region counts, as
        DuckDB itself runs it (each before the last to its end, the last returned): DuckDB
        profiles only the last statement of one call, and dbt's incremental models are such
        texts (``delete ...; insert ...``).
        """
        sql = _sql_of(args, kwargs)
        parts = _split_statements(con, sql) if self.hub.open and len(args) < 2 else None
        if parts is None or kwargs:
            return self.statement(
                "execute", sql, lambda: execute(con, *args, **kwargs), replaces_result=True
            )
        for part in parts[:-1]:
            self.statement(
                "execute",
                part.query,
                functools.partial(execute, con, part),
                replaces_result=True,
                whole=sql,
            )
            with self.hub.lock:
                self.settle(drain=True)  # run to its end, as DuckDB runs all but the last
        last = parts[-1]
        return self.statement(
            "execute", last.query, lambda: execute(con, last), replaces_result=True, whole=sql
        )

    def _before_untracked_call(self) -> None:
        """Collect what finished so far and make sure the profiler is on, before a call that
        runs statements without a per-statement hook."""
        with self.hub.lock:
            if self.hub.open:
                self.settle(drain=False)
                self.ensure_enabled()
                self.sweep()

    def boundary(self, call: Callable[[], Any]) -> Any:
        """A call that may run a statement DuckDB gives no hook for (``con.sql()`` on 1.x):
        collect what finished before it, and after it, what it ran."""
        if not self.hub.open:
            return call()
        self._before_untracked_call()
        result = call()
        with self.hub.lock:
            self.sweep()
        return result

    def script(self, sql: str | None, call: Callable[[], Any]) -> Any:
        """DuckDB 2's ``_prepare_script``: runs every statement of a script but the last."""
        if not self.hub.open:
            return call()
        self._before_untracked_call()
        result = call()
        with self.hub.lock:
            if not self.hub.open:
                return result
            last = result[1] if isinstance(result, tuple) and len(result) > 1 else None
            if (
                isinstance(sql, str)
                and isinstance(last, str)
                and normalise_sql(last) != normalise_sql(sql)
            ):
                self._count_script(max(1, _statement_count(self.connection, sql) - 1))
        return result

    def closing(self) -> None:
        """The connection is about to close: read what it still owes, then forget it."""
        with self.hub.lock:
            if self.hub.open:
                self.settle(drain=True)
                self.sweep()
            self.alive = False
            self._pending = None
            self.hub.discard(self)

    # -- internals (called with the hub's lock held) -------------------------------------------

    def _begin(
        self,
        kind: str,
        sql: str | None,
        runs: int,
        *,
        replaces_result: bool,
        whole: str | None = None,
    ) -> None:
        self.settle(drain=replaces_result)
        self.ensure_enabled()
        self.sweep()
        sinks = self.hub.sinks()
        for sink in sinks:
            sink.statements += runs
            sink.sources.add(id(self))
        self._pending = _Statement(
            kind=kind, sql=sql, runs=runs, sinks=sinks, whole=whole, con=self.connection
        )
        if self._failed is not None:
            self._resolve(Profile(ProfileState.UNREADABLE, reason=self._failed))

    def _abandon(self) -> None:
        """The statement raised: DuckDB did not run it (or not to its end). It is not counted."""
        pending, self._pending = self._pending, None
        if pending is not None:
            for sink in pending.sinks:
                sink.statements -= pending.runs
        self._remember(self._read())

    def _after(self) -> None:
        if self._pending is None:
            return
        profile = self._fresh()
        if profile.state is ProfileState.OPEN or self._earlier_statement(profile):
            return  # a result still being read: final once it is read or discarded
        self._resolve(profile)

    def settle(self, *, drain: bool) -> None:
        """Read the pending statement's profile; with ``drain``, run an open result to its end
        first (only where DuckDB is about to discard that result anyway)."""
        if self._pending is None:
            return
        profile = self._fresh()
        if profile.state is ProfileState.OPEN or self._earlier_statement(profile):
            if not drain:
                return
            reason = self._drain()
            profile = self._fresh()
            if profile.state is ProfileState.OPEN:
                if reason is not None:
                    profile = Profile(ProfileState.UNREADABLE, reason=reason)
                elif self._reader is not None:
                    profile = self._reader.absent()
        self._resolve(profile)

    def settle_all(self) -> None:
        """At a region's end: settle the pending statement and collect unseen profiles."""
        if not self._enabled and self._pending is None:
            return
        had_pending = self._pending is not None
        self.settle(drain=True)
        self.sweep()
        if (
            not had_pending
            and self._enabled
            and isinstance(self._reader, _ApiProfileReader)
            and self._read().state is ProfileState.OPEN
        ):
            # DuckDB >= 1.5 shows a statement still running that no hook saw start: a
            # relation read in part (``rel.fetchone()`` on DuckDB 1.x).
            for sink in self.hub.sinks():
                sink.statements += 1
                sink.missing("a relation's result was still open (read in part)")

    def _earlier_statement(self, profile: Profile) -> bool:
        """A finished profile of one of the pending call's statements but its last (several
        statements in one ``execute``, the last still open): count it, keep waiting."""
        pending, counters = self._pending, profile.counters
        if pending is None or counters is None or pending.sql is None:
            return False
        text, profiled = normalise_sql(pending.sql), normalise_sql(counters.sql)
        if not profiled or profiled == text or profiled not in text or text.endswith(profiled):
            return False
        self._remember(profile)
        pending.earlier += 1
        for sink in pending.sinks:
            sink._sum(counters)
        return True

    def _resolve(self, profile: Profile) -> None:
        pending, self._pending = self._pending, None
        if pending is None:
            return
        counters = profile.counters
        if counters is None:
            if (
                profile.state is ProfileState.NONE
                and pending.kind == "execute"
                and not self._reader_covers_all()
            ):
                return  # DuckDB < 1.4: a statement without a plan (DDL, SET) scans nothing
            reason = profile.reason or "DuckDB wrote no profile for it"
            for sink in pending.sinks:
                sink.missing(reason, pending.runs)
            return
        self._remember(profile)
        lost, reason = pending.runs - 1, _EXECUTEMANY
        if (
            pending.runs == 1
            and not same_statement(pending.sql, counters.sql)
            and not (pending.whole is not None and same_statement(pending.whole, counters.sql))
        ):
            text = normalise_sql(pending.sql or "")
            if not text.endswith(normalise_sql(counters.sql)):
                for sink in pending.sinks:
                    sink.missing("its profile was another statement's")
                return
            # Several statements in one call: the profile is the last one's.
            extra = max(1, _statement_count(self.connection, text) - 1, pending.earlier)
            for sink in pending.sinks:
                sink.statements += extra
            lost, reason = extra - pending.earlier, _SCRIPT
        for sink in pending.sinks:
            sink._sum(counters)
            sink.missing(reason, lost)

    def _count_script(self, ran: int) -> None:
        """``ran`` statements of a script ran in one call: the profile shows the last."""
        sinks = self.hub.sinks()
        profile = self._fresh()
        for sink in sinks:
            sink.statements += ran
        if profile.counters is not None:
            self._remember(profile)
            for sink in sinks:
                sink._sum(profile.counters)
                sink.missing(_SCRIPT, ran - 1)
        elif self._reader_covers_all():
            for sink in sinks:
                sink.missing(_SCRIPT, ran)

    def sweep(self) -> None:
        """Count a finished profile no statement claimed (a statement run where no hook sees
        it start, e.g. a relation on DuckDB 1.x) in the open regions."""
        if self._pending is not None or not self._enabled or not self.hub.open:
            return
        profile = self._fresh()
        counters = profile.counters
        if counters is None:
            return
        self._remember(profile)
        for sink in self.hub.sinks():
            sink.statements += 1
            sink.sources.add(id(self))
            sink._sum(counters)

    def stop(self) -> None:
        """The outermost region ended: switch the profiler off again."""
        if not self._enabled:
            return
        self._enabled = False
        con = self.connection
        if con is not None and self._reader is not None:
            # The user may have closed the connection inside the region.
            with contextlib.suppress(Exception):
                self._reader.disable(con)

    def ensure_enabled(self) -> None:
        if self._enabled or self._failed is not None:
            return
        con = self.connection
        if con is None:
            self._failed = "the connection was gone"
            return
        if self._reader is None:
            self._reader = profile_reader(con)
        try:
            self._reader.enable(con)
        except Exception as error:
            self._failed = f"DuckDB's profiler could not be switched on: {_short(error)}"
            return
        self._enabled = True
        self._remember(self._read())  # the profile of our own SET statements

    def _reader_covers_all(self) -> bool:
        return self._reader is not None and self._reader.coverage_all

    def _read(self) -> Profile:
        con = self.connection
        if con is None:
            return Profile(
                ProfileState.UNREADABLE,
                reason="the connection was closed before its profile was read",
            )
        if self._reader is None or not self._enabled:
            return Profile(ProfileState.NONE)
        return self._reader.read(con)

    def _fresh(self) -> Profile:
        """The profile if it is one not read before; else ``OPEN`` (nothing new finished)."""
        profile = self._read()
        if profile.counters is not None and profile.counters.signature == self._seen:
            return Profile(ProfileState.OPEN)
        return profile

    def _remember(self, profile: Profile) -> None:
        if profile.counters is not None:
            self._seen = profile.counters.signature

    def _drain(self) -> str | None:
        """Run the connection's open result to its end; a reason when that was not possible."""
        con = self.connection
        if con is None:
            return "the connection was closed before its profile was read"
        complete = getattr(type(con), "complete", None)
        if complete is not None:  # DuckDB 2: runs the result to its end, no rows converted
            try:
                _original(con, "complete")(con)
            except Exception as error:
                return f"its result could not be run to its end: {_short(error)}"
            return None
        fetchmany = _original(con, "fetchmany")
        fetched = 0
        try:
            while fetched <= _DRAIN_ROWS:
                rows = fetchmany(con, _DRAIN_CHUNK)
                if not rows:
                    return None
                fetched += len(rows)
        except Exception:  # no open result: nothing to run to its end
            return None
        return f"its result was left open with over {_DRAIN_ROWS:,} rows unread"


_EXECUTEMANY = "executemany() runs a statement many times; DuckDB profiles only the last run"
_SCRIPT = "several statements in one call; DuckDB profiles only the last"


def _short(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def _weak(con: Any) -> Callable[[], Any]:
    try:
        return weakref.ref(con)
    except TypeError:  # an object without weak references (a test double): hold it

        def strong() -> Any:
            return con

        return strong


def _split_statements(con: Any, sql: str | None) -> list[Any] | None:
    """The statements of a text of several (DuckDB's parser), or None for one or unknown."""
    if sql is None or ";" not in normalise_sql(sql):
        return None
    extract = getattr(type(con), "extract_statements", None)
    if extract is None:
        return None
    try:
        parts = list(extract(con, sql))
    except Exception:  # a syntax error: DuckDB's own execute reports it
        return None
    if len(parts) < 2 or not all(isinstance(getattr(p, "query", None), str) for p in parts):
        return None
    return parts


def _statement_count(con: Any, sql: str) -> int:
    """How many statements a text holds, as DuckDB's parser splits it (2 when unknown)."""
    for name in ("_statement_count", "extract_statements"):
        method = getattr(type(con), name, None) if con is not None else None
        if method is None:
            continue
        try:
            counted = method(con, sql)
        except Exception:
            continue
        return counted if isinstance(counted, int) else len(counted)
    return 2


# -- intercepting connections ------------------------------------------------------------------

# Connection -> its tracker, for every tracked connection of this process. Weak: a connection
# the code under test drops is closed by DuckDB as it would be without pytest-simperf.
_TRACKERS: weakref.WeakKeyDictionary[Any, DuckDBTracker] = weakref.WeakKeyDictionary()


def tracker_of(con: Any) -> DuckDBTracker | None:
    """The tracker of a (raw) connection, if one tracks it."""
    try:
        tracker = _TRACKERS.get(con)
    except TypeError:
        return None
    return tracker if tracker is not None and tracker.alive else None


@dataclasses.dataclass
class _Interception:
    on_connect: Callable[[Any], None]
    adopt: Callable[[Any], bool] | None


class _Patches:
    """What ``intercept_connections`` replaced, to put back exactly; nested uses stack."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.stack: list[_Interception] = []
        self.cls: type | None = None
        self.module: Any = None
        self.saved: dict[str, Any] = {}  # name -> the class's own attribute (or _ABSENT)
        self.originals: dict[str, Any] = {}  # name -> the callable to call through
        self.connect: Any = None
        self.relation: Any = None  # duckdb.DuckDBPyRelation, when its methods are wrapped
        self.relation_saved: dict[str, Any] = {}

    @property
    def current(self) -> _Interception | None:
        return self.stack[-1] if self.stack else None


_ABSENT = object()
_PATCHES = _Patches()
# Counting regions open in this process (all hubs): the relation hooks' fast path.
_OPEN_REGIONS = [0]


def _original(con: Any, name: str) -> Any:
    """The unpatched ``type(con).name`` (call it with ``con`` first)."""
    cls = _PATCHES.cls
    if cls is not None and isinstance(con, cls) and name in _PATCHES.originals:
        return _PATCHES.originals[name]
    return getattr(type(con), name)


def _run(con: Any, sql: str) -> None:
    """Run one of pytest-simperf's own statements, unseen by the hooks."""
    _original(con, "execute")(con, sql)


def _sql_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str | None:
    query = args[0] if args else kwargs.get("query", kwargs.get("sql"))
    if isinstance(query, str):
        return query
    text = getattr(query, "query", None)  # a duckdb.Statement
    return text if isinstance(text, str) else None


def _runs_of(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    params = args[1] if len(args) > 1 else kwargs.get("parameters")
    try:
        return max(1, len(params)) if params is not None else 1
    except TypeError:
        return 2  # unknown length (see _listed): at least one run is not profiled


def _listed(
    args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``executemany``'s parameter sets as a list (an iterator has no length to count its
    runs by; DuckDB reads it to its end either way)."""
    if len(args) > 1 and not hasattr(args[1], "__len__") and hasattr(args[1], "__iter__"):
        return (args[0], list(args[1]), *args[2:]), kwargs
    params = kwargs.get("parameters")
    if params is not None and not hasattr(params, "__len__") and hasattr(params, "__iter__"):
        return args, {**kwargs, "parameters": list(params)}
    return args, kwargs


def _tracked(con: Any) -> DuckDBTracker | None:
    """The tracker counting ``con``'s statements now, adopting an untracked connection (or one
    tracked by an earlier test's hub) when the interception's ``adopt`` wants it."""
    tracker = tracker_of(con)
    if tracker is not None and tracker.hub.open:
        return tracker
    interception = _PATCHES.current
    if interception is not None and interception.adopt is not None and interception.adopt(con):
        return tracker_of(con)
    return tracker


def _sweep_all(*, enable: bool = False) -> None:
    """Collect every tracked connection's newly finished profile (a relation ran); with
    ``enable``, first switch the profiler on where no statement of the region has yet."""
    for tracker in list(_TRACKERS.values()):
        hub = tracker.hub
        if tracker.alive and hub.open:
            with hub.lock:
                if enable:
                    tracker.ensure_enabled()
                tracker.sweep()


def _relation_hook(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not _OPEN_REGIONS[0]:
            return original(self, *args, **kwargs)
        _sweep_all(enable=True)
        result = original(self, *args, **kwargs)
        _sweep_all()
        return result

    return call


def _hook(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    """The replacement of ``DuckDBPyConnection.<name>`` while connections are intercepted."""

    if name in _STATEMENTS:

        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracker = _tracked(self)
            if tracker is None:
                return original(self, *args, **kwargs)
            if name == "execute":
                return tracker.execute(self, original, *args, **kwargs)
            if name == "executemany" and tracker.hub.open:
                args, kwargs = _listed(args, kwargs)
            return tracker.statement(
                "executemany" if name == "executemany" else "execute",
                _sql_of(args, kwargs) if name in ("execute", "executemany") else None,
                lambda: original(self, *args, **kwargs),
                replaces_result=True,
                runs=_runs_of(args, kwargs) if name == "executemany" else 1,
            )

        return run
    if name == "_submit":

        def submit(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracker = tracker_of(self)
            if tracker is None:
                return original(self, *args, **kwargs)
            return tracker.statement(
                "relation", _sql_of(args, kwargs), lambda: original(self, *args, **kwargs)
            )

        return submit
    if name == "_prepare_script":

        def script(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracker = tracker_of(self)
            if tracker is None:
                return original(self, *args, **kwargs)
            return tracker.script(_sql_of(args, kwargs), lambda: original(self, *args, **kwargs))

        return script
    if name == "cursor":

        def cursor(self: Any, *args: Any, **kwargs: Any) -> Any:
            child = original(self, *args, **kwargs)
            interception = _PATCHES.current
            if interception is not None and tracker_of(child) is None:
                interception.on_connect(child)
            return child

        return cursor
    if name in ("close", "__exit__"):

        def close(self: Any, *args: Any, **kwargs: Any) -> Any:
            tracker = tracker_of(self)
            if tracker is not None:
                tracker.closing()
            return original(self, *args, **kwargs)

        return close

    def boundary(self: Any, *args: Any, **kwargs: Any) -> Any:  # see _BOUNDARIES
        tracker = tracker_of(self)
        if tracker is None:
            return original(self, *args, **kwargs)
        return tracker.boundary(lambda: original(self, *args, **kwargs))

    return boundary


# Methods of a connection that run a statement, replacing (discarding) its open result: the
# transaction ones run BEGIN / COMMIT / ROLLBACK / CHECKPOINT (dbt-duckdb calls them).
_STATEMENTS = frozenset({"execute", "executemany", "begin", "commit", "rollback", "checkpoint"})
# Methods that may run a statement of their own, or build a relation that runs later: what
# finished before them is collected, and whatever they ran is collected after them. An open
# result is not run to its end there (DuckDB 2 refuses some of them while a result is open).
_BOUNDARIES = frozenset(
    {
        "sql",
        "query",
        "from_query",
        "table",
        "view",
        "values",
        "table_function",
        "read_csv",
        "from_csv_auto",
        "read_json",
        "read_parquet",
        "from_parquet",
        "from_df",
        "from_arrow",
        "register",
        "unregister",
        "append",
        "create_function",
        "remove_function",
        "install_extension",
        "load_extension",
        "get_table_names",
    }
)
_HOOKED = (
    *sorted(_STATEMENTS),
    *sorted(_BOUNDARIES),
    "cursor",
    "close",
    "__exit__",
    "_submit",  # DuckDB 2: every relation run
    "_prepare_script",  # DuckDB 2: the statements of a script before its last
)


def _install() -> None:
    import duckdb

    cls = duckdb.DuckDBPyConnection
    _PATCHES.cls, _PATCHES.module = cls, duckdb
    _PATCHES.connect = duckdb.connect
    for name in _HOOKED:
        original = getattr(cls, name, None)
        if original is None:
            continue
        _PATCHES.saved[name] = cls.__dict__.get(name, _ABSENT)
        _PATCHES.originals[name] = original
        setattr(cls, name, _hook(name, original))
    # DuckDB 1.x runs a relation in C++ with no hook: sweep for its profile around each of its
    # methods. (DuckDB 2 runs every relation through ``_submit``, hooked above.)
    relation = getattr(duckdb, "DuckDBPyRelation", None)
    if relation is not None and "_submit" not in _PATCHES.originals:
        for name in dir(relation):
            original = getattr(relation, name, None)
            if name.startswith("_") or not callable(original):
                continue
            _PATCHES.relation_saved[name] = relation.__dict__.get(name, _ABSENT)
            setattr(relation, name, _relation_hook(original))
        _PATCHES.relation = relation
    # Not hooked, but called unpatched by pytest-simperf itself.
    for name in ("complete", "fetchmany", "get_profiling_information"):
        if hasattr(cls, name):
            _PATCHES.originals[name] = getattr(cls, name)
    connect = _PATCHES.connect

    @functools.wraps(connect)
    def intercepted_connect(*args: Any, **kwargs: Any) -> Any:
        con = connect(*args, **kwargs)
        interception = _PATCHES.current
        if interception is not None:
            try:
                interception.on_connect(con)
            except BaseException:
                con.close()
                raise
        return con

    duckdb.connect = intercepted_connect


def _uninstall() -> None:
    cls, module = _PATCHES.cls, _PATCHES.module
    try:
        if cls is not None:
            for name, saved in _PATCHES.saved.items():
                if saved is _ABSENT:
                    with contextlib.suppress(AttributeError, TypeError):
                        delattr(cls, name)
                else:
                    setattr(cls, name, saved)
        relation = _PATCHES.relation
        if relation is not None:
            for name, saved in _PATCHES.relation_saved.items():
                if saved is _ABSENT:
                    with contextlib.suppress(AttributeError, TypeError):
                        delattr(relation, name)
                else:
                    setattr(relation, name, saved)
        if module is not None:
            module.connect = _PATCHES.connect
    finally:
        _PATCHES.relation_saved.clear()
        _PATCHES.relation = None
        _PATCHES.saved.clear()
        _PATCHES.originals.clear()
        _PATCHES.cls = _PATCHES.module = _PATCHES.connect = None


@contextmanager
def intercept_connections(
    on_connect: Callable[[Any], None], *, adopt: Callable[[Any], bool] | None = None
) -> Iterator[None]:
    """While active, every DuckDB connection the code opens is handed to ``on_connect``.

    ``duckdb.connect`` is wrapped, and so are the statement methods of
    ``duckdb.DuckDBPyConnection`` itself (not a proxy): the code under test gets real
    connections, so ``isinstance`` checks, ``duckdb.sql(..., connection=con)`` and dbt-duckdb
    work unchanged, and cursors (``con.cursor()``) are handed to ``on_connect`` as they are
    made. Statements of connections with a tracker (``on_connect`` usually makes one) are
    counted in their hub's open regions; ``adopt`` is asked about an untracked connection that
    runs ``execute`` (one opened before, or by ``from duckdb import connect``) and may track it.
    Everything is put back on exit, exceptions included; nested uses stack.
    """
    with _PATCHES.lock:
        if not _PATCHES.stack:
            _install()
        _PATCHES.stack.append(_Interception(on_connect, adopt))
    try:
        yield
    finally:
        with _PATCHES.lock:
            _PATCHES.stack.pop()
            if not _PATCHES.stack:
                _uninstall()


class TrackedConnection:
    """A DuckDB connection whose statements are profiled inside measured regions.

    Everything else is delegated, so it can be used wherever the connection was (but it is not
    a ``duckdb.DuckDBPyConnection``: functions implemented in C++ refuse it; pass ``.raw``).
    """

    def __init__(self, con: Any, tracker: DuckDBTracker) -> None:
        object.__setattr__(self, "_simperf_con", con)
        object.__setattr__(self, "_simperf_tracker", tracker)

    @property
    def simperf_tracker(self) -> DuckDBTracker:
        tracker: DuckDBTracker = object.__getattribute__(self, "_simperf_tracker")
        return tracker

    @property
    def raw(self) -> Any:
        """The underlying ``duckdb.DuckDBPyConnection``."""
        return object.__getattribute__(self, "_simperf_con")

    def __getattr__(self, name: str) -> Any:
        con = object.__getattribute__(self, "_simperf_con")
        if name not in _STATEMENTS and name not in _BOUNDARIES and name != "cursor":
            return getattr(con, name)
        tracker: DuckDBTracker = object.__getattribute__(self, "_simperf_tracker")
        original = _original(con, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "cursor":
                child = original(con, *args, **kwargs)
                return TrackedConnection(child, DuckDBTracker(child, tracker.hub))
            if name in _BOUNDARIES:
                result = tracker.boundary(lambda: original(con, *args, **kwargs))
            elif name == "execute":
                result = tracker.execute(con, original, *args, **kwargs)
            else:
                if name == "executemany" and tracker.hub.open:
                    args, kwargs = _listed(args, kwargs)
                result = tracker.statement(
                    "executemany" if name == "executemany" else "execute",
                    _sql_of(args, kwargs) if name in ("execute", "executemany") else None,
                    lambda: original(con, *args, **kwargs),
                    replaces_result=True,
                    runs=_runs_of(args, kwargs) if name == "executemany" else 1,
                )
            return self if result is con else result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_simperf_con"), name, value)

    def close(self) -> None:
        self.simperf_tracker.closing()
        _original(self.raw, "close")(self.raw)

    def __enter__(self) -> TrackedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<TrackedConnection {self.raw!r}>"


def unwrap(con: Any) -> Any:
    """The raw connection behind a ``TrackedConnection`` (or ``con`` itself)."""
    return con.raw if isinstance(con, TrackedConnection) else con


_SCHEDSTAT = Path("/proc/thread-self/schedstat")


def _read_runqueue_wait() -> float:
    # Fields: time on a CPU, time waiting on a run queue (both ns), timeslices run.
    return int(_SCHEDSTAT.read_bytes().split()[1]) / 1e9


def runqueue_wait_clock() -> Clock | None:
    """Cumulative run-queue wait of the calling thread in seconds, or None where unavailable."""
    try:
        _read_runqueue_wait()
    except (OSError, IndexError, ValueError):
        return None
    return _read_runqueue_wait


@dataclasses.dataclass
class Rounds:
    """What repeated rounds of a callable produced."""

    samples_s: list[float]
    cpu_s: list[float]
    result: Any
    wait_s: list[float] = dataclasses.field(default_factory=list)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Disable the cyclic GC for a round, restoring the caller's setting afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def run_rounds(
    fn: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    rounds: int,
    clock: Clock = time.perf_counter,
    cpu_clock: Clock = time.process_time,
    wait_clock: Clock | None = None,
    max_time_s: float | None = None,
    min_rounds: int = 3,
) -> Rounds:
    """Call ``fn`` ``rounds`` times, timing each call; return samples and the last result.

    ``max_time_s`` caps the total: once the rounds so far say the rest would exceed it, stop
    after at least ``min_rounds`` — a 20 s pipeline does not need seven repetitions to be judged,
    and the verdict's statistics account for the number of samples.
    """
    samples: list[float] = []
    cpu: list[float] = []
    waits: list[float] = []
    result: Any = None
    # A running total: re-summing every sample each round made 40,000 rounds of a trivial
    # function cost seconds (quadratic), more than the function itself.
    spent = 0.0
    gc.collect()
    for index in range(rounds):
        with gc_paused():
            w0 = 0.0 if wait_clock is None else wait_clock()
            cpu0 = cpu_clock()
            t0 = clock()
            result = fn(*args, **kwargs)
            t1 = clock()
            cpu1 = cpu_clock()
            w1 = 0.0 if wait_clock is None else wait_clock()
        samples.append(t1 - t0)
        cpu.append(cpu1 - cpu0)
        if wait_clock is not None:
            waits.append(w1 - w0)
        spent += t1 - t0
        done = index + 1
        if (
            max_time_s is not None
            and min_rounds <= done < rounds
            and spent + (spent / done) > max_time_s
        ):
            break
    return Rounds(samples_s=samples, cpu_s=cpu, result=result, wait_s=waits)


def configure_duckdb(con: Any, threads: int | None) -> None:
    """Pin DuckDB's threads for measured work (None keeps DuckDB's default)."""
    if threads is not None:
        _run(unwrap(con), f"SET threads = {int(threads)}")


def process_cpu_count() -> int:
    """Cores this process may run on (respects taskset/cgroups where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
