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
- DuckDB counters come from its profiler (``enable_profiling='no_output'``) read after each
  statement on a tracked connection. They are deterministic, so ``measure()`` reads them in the
  warm-up round only and times the other rounds with the profiler off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

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


@dataclasses.dataclass(eq=False)  # regions are told apart by identity, not by equal counts
class Counters:
    """DuckDB work counters summed over the statements of a region."""

    rows_scanned: int = 0
    intermediate_rows: int = 0
    peak_buffer_bytes: int = 0
    cpu_time_s: float = 0.0
    statements: int = 0

    def add(self, profile: dict[str, Any]) -> None:
        query = profile.get("query", {})
        system = profile.get("system", {})
        self.rows_scanned += int(query.get("total_rows_scanned", 0) or 0)
        self.intermediate_rows += int(query.get("total_intermediate_rows", 0) or 0)
        self.cpu_time_s += float(query.get("cpu_time", 0.0) or 0.0)
        self.peak_buffer_bytes = max(
            self.peak_buffer_bytes, int(system.get("peak_buffer_memory", 0) or 0)
        )
        self.statements += 1


class DuckDBTracker:
    """Reads DuckDB's profiler after each statement of a tracked connection.

    DuckDB profiles only the last statement, and a streaming result is profiled once it is
    consumed; so the profile of statement N is read when statement N+1 starts, and at the end of
    the region. A signature of the last profile read avoids counting a statement twice.
    """

    def __init__(self, con: Any) -> None:
        self._con = con
        self._sinks: list[Counters] = []
        self._last: tuple[Any, ...] | None = None

    @property
    def connection(self) -> Any:
        return self._con

    def _profile(self) -> dict[str, Any] | None:
        try:
            text = self._con.get_profiling_information(format="json")
        except Exception:  # profiling off or connection closed: nothing to read
            return None
        try:
            data = json.loads(text)
        except (TypeError, ValueError):
            return None
        return data if isinstance(data, dict) and "query" in data else None

    def harvest(self) -> None:
        """Add the last statement's profile to every open region (once)."""
        if not self._sinks:
            return
        profile = self._profile()
        if profile is None:
            return
        query = profile["query"]
        signature = (query.get("sql"), query.get("total_time"), query.get("cpu_time"))
        if signature == self._last:
            return
        self._last = signature
        for sink in self._sinks:
            sink.add(profile)

    @contextmanager
    def counting(self) -> Iterator[Counters]:
        """Profile statements run during the block; yields counters filled on exit."""
        counters = Counters()
        first = not self._sinks
        if first:
            self._con.execute("SET enable_profiling='no_output'")
            base = self._profile()
            if base is not None:
                query = base["query"]
                self._last = (query.get("sql"), query.get("total_time"), query.get("cpu_time"))
        self._sinks.append(counters)
        try:
            yield counters
        finally:
            self.harvest()
            self._sinks.remove(counters)
            if not self._sinks:
                # The user may have closed the connection inside the region.
                with contextlib.suppress(Exception):
                    self._con.execute("PRAGMA disable_profiling")


_INTERCEPTED = frozenset({"execute", "executemany", "sql", "query", "from_query"})


class TrackedConnection:
    """A DuckDB connection whose statements are profiled inside measured regions.

    Everything else is delegated, so it can be used wherever the connection was.
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
        attr = getattr(con, name)
        if name not in _INTERCEPTED:
            return attr
        tracker: DuckDBTracker = object.__getattribute__(self, "_simperf_tracker")

        def call(*args: Any, **kwargs: Any) -> Any:
            tracker.harvest()
            result = attr(*args, **kwargs)
            return self if result is con else result

        return call

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(object.__getattribute__(self, "_simperf_con"), name, value)

    def __enter__(self) -> TrackedConnection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.raw.close()

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
        done = index + 1
        if max_time_s is not None and done >= min_rounds and done < rounds:
            spent = sum(samples)
            if spent + (spent / done) > max_time_s:
                break
    return Rounds(samples_s=samples, cpu_s=cpu, result=result, wait_s=waits)


def configure_duckdb(con: Any, threads: int | None) -> None:
    """Pin DuckDB's threads for measured work (None keeps DuckDB's default)."""
    if threads is not None:
        unwrap(con).execute(f"SET threads = {int(threads)}")


def process_cpu_count() -> int:
    """Cores this process may run on (respects taskset/cgroups where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
