"""Measurement with injected clocks and memory readers: rounds, peaks, counters, the fixture."""

from __future__ import annotations

import dataclasses
import itertools

import duckdb
import pytest

from pytest_simperf.calibration import MachineComparison
from pytest_simperf.fixtures import Simperf, TestContext
from pytest_simperf.markers import TestOptions
from pytest_simperf.measure import (
    DuckDBTracker,
    LinuxMemoryReader,
    MemoryTracker,
    TrackedConnection,
    run_rounds,
)
from pytest_simperf.results import TestCollector
from pytest_simperf.stats import Thresholds


class FakeClock:
    """Each call advances by the next step (seconds)."""

    def __init__(self, steps):
        self.now = 0.0
        self.steps = itertools.cycle(steps)

    def __call__(self):
        self.now += next(self.steps)
        return self.now


class FakeMemory:
    """Scripted RSS; a kernel-style high-water mark that can be reset."""

    def __init__(self, exact=True):
        self.rss = 100.0
        self.hwm = 100.0
        self.exact = exact

    def set(self, value):
        self.rss = value
        self.hwm = max(self.hwm, value)

    def rss_mb(self):
        return self.rss

    def peak_mb(self):
        return self.hwm if self.exact else None

    def reset_peak(self):
        if not self.exact:
            return False
        self.hwm = self.rss
        return True


def test_run_rounds_times_each_call_with_the_injected_clock():
    clock = FakeClock([1.0, 0.25])  # t0 then t1 = t0 + 0.25
    calls = []
    rounds = run_rounds(
        lambda x: calls.append(x) or x * 2,
        (21,),
        {},
        rounds=5,
        clock=clock,
        cpu_clock=FakeClock([0.0, 0.2]),
    )
    assert rounds.samples_s == [0.25] * 5
    assert rounds.cpu_s == pytest.approx([0.2] * 5)
    assert rounds.result == 42 and len(calls) == 5


def test_run_rounds_reads_the_run_queue_wait_around_each_round():
    rounds = run_rounds(
        lambda: None,
        (),
        {},
        rounds=3,
        clock=FakeClock([0.0, 0.5]),
        cpu_clock=FakeClock([0.0, 0.2]),
        wait_clock=FakeClock([0.0, 0.3]),
    )
    assert rounds.wait_s == pytest.approx([0.3] * 3)
    assert run_rounds(lambda: None, (), {}, rounds=2).wait_s == []  # not read unless asked


def test_run_queue_wait_clock_reads_this_threads_schedstat():
    from pytest_simperf.measure import runqueue_wait_clock

    read = runqueue_wait_clock()
    if read is None:
        pytest.skip("no /proc/thread-self/schedstat on this system")
    first = read()
    assert first >= 0.0
    assert read() >= first  # cumulative


def test_run_rounds_stops_early_past_the_time_budget():
    clock = FakeClock([0.0, 10.0])
    rounds = run_rounds(lambda: None, (), {}, rounds=7, clock=clock, max_time_s=30.0)
    assert len(rounds.samples_s) == 3  # minimum kept even though the budget is exceeded


def test_gc_is_disabled_inside_rounds_and_restored():
    import gc

    seen = []
    run_rounds(lambda: seen.append(gc.isenabled()), (), {}, rounds=2)
    assert seen == [False, False] and gc.isenabled()


def test_nested_regions_keep_the_outer_peak():
    mem = FakeMemory()
    tracker = MemoryTracker(mem)
    with tracker.region() as outer:
        mem.set(500.0)  # the outer region peaks here...
        mem.set(200.0)
        with tracker.region() as inner:  # ...and this resets the kernel's mark
            mem.set(300.0)
        mem.set(150.0)
    assert (inner.start_mb, inner.peak_mb) == (200.0, 300.0)
    assert (outer.start_mb, outer.peak_mb) == (100.0, 500.0)


def test_sampled_memory_without_os_high_water_mark():
    mem = FakeMemory(exact=False)
    tracker = MemoryTracker(mem, sample_interval_s=1e-4)
    assert not tracker.exact
    with tracker.region() as region:
        mem.set(180.0)
    assert region.peak_mb == 180.0  # observed on exit even if no sample ran


@pytest.mark.skipif(not LinuxMemoryReader.available(), reason="needs Linux VmHWM/clear_refs")
def test_known_allocation_is_reported_within_ten_percent():
    tracker = MemoryTracker(LinuxMemoryReader())
    size_mb = 400
    with tracker.region() as region:
        block = bytearray(size_mb * 1024 * 1024)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        del block
    assert region.peak_mb - region.start_mb == pytest.approx(size_mb, rel=0.10)


def test_duckdb_counters_are_exact_and_summed_per_region():
    con = duckdb.connect()
    con.execute("create table t as select range as i from range(50000)")
    tracker = DuckDBTracker(con)
    tracked = TrackedConnection(con, tracker)
    with tracker.counting() as counters:
        tracked.execute("select count(*) from t where i % 2 = 0").fetchall()
        tracked.execute("select sum(i) from t").fetchall()
    assert counters.statements == 2
    assert counters.rows_scanned == 100000
    assert counters.peak_buffer_bytes > 0
    with tracker.counting() as again:
        tracked.sql("select count(*) from t where i > 10").fetchall()
    assert again.rows_scanned == 50000
    # Outside a region nothing is profiled, and the proxy behaves like the connection.
    assert tracked.execute("select 42").fetchone() == (42,)
    assert tracked.raw is con


def _context(clock=None, baseline=None, confirm=True, rounds=5, collector=None):
    return TestContext(
        collector=collector or TestCollector("t.py::test"),
        options=TestOptions(
            thresholds=Thresholds(),
            memory_thresholds=Thresholds(),
            fail_on="MINOR",
            rounds=rounds,
            warmup=1,
        ),
        baseline=baseline,
        comparability=MachineComparison("same_machine", 1.0, 0.0, "same machine"),
        confirm=confirm,
        duckdb_threads=1,
        memory=MemoryTracker(FakeMemory()),
        clock=clock or FakeClock([0.0, 0.1]),
        cpu_clock=FakeClock([0.0, 0.05]),
    )


def test_measure_warms_up_then_times_rounds():
    calls = []
    simperf = Simperf(_context())
    result = simperf.measure(lambda: calls.append(1) or [1, 2, 3])
    (record,) = simperf.records
    assert record.name == "measure" and record.samples_s == pytest.approx([0.1] * 5)
    assert len(calls) == 6  # one warm-up + five rounds
    assert result == [1, 2, 3] and record.rows == 3
    simperf.measure(lambda: None)
    assert [r.name for r in simperf.records] == ["measure", "measure_2"]


def test_measure_inside_phase_gives_the_phase_its_rounds():
    simperf = Simperf(_context(clock=FakeClock([0.05])))
    for year in (2025, 2026):
        with simperf.phase("events", year=year, rows=1000):
            simperf.measure(lambda: None)
    assert [(r.key, len(r.samples_s), r.rows) for r in simperf.records] == [
        ("events@2025", 5, 1000),
        ("events@2026", 5, 1000),
    ]
    assert simperf.records[0].samples_s == pytest.approx([0.05] * 5)
    assert simperf.records[0].rows_per_s == pytest.approx(20000)


def test_phase_once_per_year_yields_one_record_per_year_and_repeats_accumulate():
    simperf = Simperf(_context(clock=FakeClock([0.0, 0.5])))
    for year in (2025, 2026, 2027):
        with simperf.phase("snapshot", year=year):
            pass
    with simperf.phase("snapshot", year=2025):
        pass
    keys = {r.key: r.samples_s for r in simperf.records}
    assert keys == {
        "snapshot@2025": [0.5, 0.5],
        "snapshot@2026": [0.5],
        "snapshot@2027": [0.5],
    }


def test_phase_that_raises_records_nothing():
    simperf = Simperf(_context())
    with pytest.raises(ValueError), simperf.phase("x"):
        raise ValueError
    assert simperf.records == []


@pytest.mark.parametrize("name", ["", "a@b", 3])
def test_bad_phase_names(name):
    with pytest.raises(Exception, match="name must be"), Simperf(_context()).phase(name):
        pass


def test_rounds_are_extended_in_process_when_the_first_rounds_would_fail():
    # A rerun inside the process adds rounds; only a fresh process confirms (session).
    baseline = {"phases": {"measure": {"median_s": 0.1, "samples_s": [0.1, 0.1, 0.1, 0.1, 0.1]}}}
    same = Simperf(_context(clock=FakeClock([0.0, 0.1]), baseline=baseline))
    same.measure(lambda: None)
    assert len(same.records[0].samples_s) == 5
    slow = Simperf(_context(clock=FakeClock([0.0, 0.2]), baseline=baseline))
    calls = []
    slow.measure(lambda: calls.append(1))
    assert slow.records[0].samples_s == pytest.approx([0.2] * 10)
    assert slow.records[0].confirm_samples_s is None
    # warm-up + 5 rounds, then a fresh warm-up before the 5 extra rounds
    assert len(calls) == 12
    off = Simperf(_context(clock=FakeClock([0.0, 0.2]), baseline=baseline, confirm=False))
    off.measure(lambda: None)
    assert len(off.records[0].samples_s) == 5


class FakeRequests:
    """Stands in for valgrind's client requests: each dump reports the instructions 'run' since
    the last one, which the test sets through ``work``."""

    def __init__(self):
        self.log = []
        self.pending = 0

    def start(self):
        self.log.append("start")
        self.pending = 0

    def stop(self):
        self.log.append("stop")

    def dump(self, name):
        self.log.append((name, self.pending))
        self.pending = 0


def test_counting_child_counts_one_execution_after_warm_up_and_nests_phases():
    from pytest_simperf.valgrind import RegionCounter

    requests = FakeRequests()
    counter = RegionCounter(requests)
    simperf = Simperf(dataclasses.replace(_context(), counter=counter))
    calls = []

    def work():
        calls.append(1)
        requests.pending += 100

    with simperf.phase("events", year=2025):
        simperf.measure(work)  # the phase's own region is dropped: measure() counts it
    with simperf.phase("snapshot", year=2025):
        requests.pending += 7
    assert len(calls) == 2  # one warm-up, one counted execution; no timed rounds
    labels = sorted(label.split("\x00")[1] for label in counter.regions.values())
    assert labels == ["events@2025", "snapshot@2025"]
    assert requests.log.count("start") == requests.log.count("stop")
    dumps = [entry for entry in requests.log if isinstance(entry, tuple)]
    assert [count for _, count in dumps if count] == [100, 7]


def test_record_validates_samples():
    simperf = Simperf(_context())
    with pytest.raises(Exception, match="samples_s must be non-empty"):
        simperf.record("x", samples_s=[])
    simperf.record("dbt_model", year=2025, samples_s=[1.5], rows=10)
    assert simperf.records[0].source == "record"


def test_track_pins_threads_and_profiles_phases():
    con = duckdb.connect()
    simperf = Simperf(_context())
    tracked = simperf.track(con)
    assert tracked.execute("select current_setting('threads')").fetchone() == (1,)
    tracked.execute("create table t as select range as i from range(1000)")
    with simperf.phase("scan"):
        tracked.execute("select count(*) from t where i % 2 = 0").fetchall()
    (record,) = simperf.records
    assert (record.rows_scanned, record.intermediate_rows) == (1000, 501)
    assert simperf.track(tracked) is tracked
