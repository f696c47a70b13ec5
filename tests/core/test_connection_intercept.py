"""Every statement of every DuckDB connection in a measured region is counted, or the region
says it is not: connections the code under test opens itself (``intercept_connections``),
statements read with ``fetchone()``, scripts, ``executemany``, threads and relations.

These run on the DuckDB installed (``.ci/duckdb_matrix.sh`` runs them on each version the
package allows); the profile layouts themselves are tested in ``test_duckdb_profile.py``.
"""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from pytest_simperf.calibration import MachineComparison
from pytest_simperf.fixtures import Simperf, TestContext
from pytest_simperf.markers import TestOptions
from pytest_simperf.measure import (
    CounterHub,
    DuckDBTracker,
    MemoryTracker,
    TrackedConnection,
    intercept_connections,
    tracker_of,
)
from pytest_simperf.results import PhaseRecord, TestCollector
from pytest_simperf.stats import Thresholds


class StillMemory:
    """A memory reader that never moves: memory is not what these tests look at."""

    def rss_mb(self):
        return 100.0

    def peak_mb(self):
        return 100.0

    def reset_peak(self):
        return True


def make_simperf(threads=1, warmup=1):
    ticks = iter(range(10**6))
    return Simperf(
        TestContext(
            collector=TestCollector("t.py::test"),
            options=TestOptions(
                thresholds=Thresholds(),
                memory_thresholds=Thresholds(),
                fail_on="MINOR",
                rounds=3,
                warmup=warmup,
            ),
            baseline=None,
            comparability=MachineComparison("same_machine", 1.0, 0.0, "same machine"),
            confirm=False,
            duckdb_threads=threads,
            memory=MemoryTracker(StillMemory()),
            clock=lambda: float(next(ticks)),
            cpu_clock=lambda: float(next(ticks)),
        )
    )


def tables(con, *sizes):
    # Outside the regions that count: what creating them scans differs between versions.
    for size in sizes:
        con.execute(f"CREATE TABLE t{size} AS SELECT range AS i FROM range({size})")


@pytest.fixture
def database(tmp_path):
    """A database file holding t8000 and t16000, for connections opened inside a region."""
    path = tmp_path / "counted.duckdb"
    with duckdb.connect(str(path)) as con:
        tables(con, 8000, 16000)
    return str(path)


def record(simperf, key) -> PhaseRecord:
    (found,) = [r for r in simperf.records if r.key == key]
    return found


def threads_of(con) -> int:
    return int(con.execute("SELECT current_setting('threads')").fetchone()[0])


COUNT = "SELECT count(*) FROM t{} WHERE i % 2 = 0"


# -- the plan gate's own example ---------------------------------------------------------------


@pytest.mark.parametrize("how", ["track", "intercept"])
def test_a_statement_read_with_fetchone_is_counted_8000_then_16000(how):
    simperf = make_simperf()
    with simperf.intercept_connections() if how == "intercept" else _nothing():
        raw = duckdb.connect()
        con = simperf.track(raw) if how == "track" else raw
        tables(con, 8000, 16000)
        for size in (8000, 16000):
            with simperf.phase(f"plan_{size}"):
                assert con.execute(COUNT.format(size)).fetchone() == (size // 2,)
    small, large = record(simperf, "plan_8000"), record(simperf, "plan_16000")
    assert (small.rows_scanned, large.rows_scanned) == (8000, 16000)
    assert small.counters_complete and large.counters_complete
    assert "counters_note" not in small.meta


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def test_measure_counts_fetchone_statements_of_the_warm_up():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tables(con, 8000)
        simperf.measure(lambda: con.execute(COUNT.format(8000)).fetchone())
    (rec,) = simperf.records
    assert rec.rows_scanned == 8000 and rec.counters_complete


# -- connections the code under test opens -----------------------------------------------------


def test_intercepted_connections_are_real_connections_with_threads_pinned():
    simperf = make_simperf(threads=1)
    with simperf.intercept_connections():
        con = duckdb.connect()
        assert type(con) is duckdb.DuckDBPyConnection
        assert isinstance(con, duckdb.DuckDBPyConnection)
        con.execute("SET threads = 3")  # the database's setting; pinned again below
        cursor = con.cursor()
        assert isinstance(cursor, duckdb.DuckDBPyConnection)
        assert threads_of(cursor) == 1  # each new connection and cursor is pinned
        # C++ functions take them: no proxy in the way.
        assert duckdb.execute("SELECT 42", connection=con).fetchall() == [(42,)]
        assert tracker_of(con) is not None and tracker_of(cursor) is not None


def test_threads_are_left_alone_when_the_setting_is_auto():
    simperf = make_simperf(threads=None)
    default = threads_of(duckdb.connect())
    with simperf.intercept_connections():
        assert threads_of(duckdb.connect()) == default


def test_duckdb_is_restored_on_exit_even_after_an_error():
    cls = duckdb.DuckDBPyConnection
    before = (duckdb.connect, dict(cls.__dict__))
    simperf = make_simperf()

    def fail_inside():
        with simperf.intercept_connections():
            assert duckdb.connect is not before[0]
            with simperf.intercept_connections():  # nested: the outer one still holds
                pass
            assert duckdb.connect is not before[0]
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        fail_inside()
    assert duckdb.connect is before[0]
    assert dict(cls.__dict__) == before[1]


def test_a_failing_on_connect_closes_the_connection_and_raises():
    opened = []

    def refuse(con):
        opened.append(con)
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"), intercept_connections(refuse):
        duckdb.connect()
    with pytest.raises(duckdb.Error):
        opened[0].execute("SELECT 1")  # closed


def test_every_connection_and_cursor_of_a_region_is_counted(database):
    simperf = make_simperf()
    with simperf.intercept_connections():
        first = duckdb.connect()
        tables(first, 8000)
        with simperf.phase("both"):
            first.execute(COUNT.format(8000)).fetchall()
            second = duckdb.connect(database)  # opened inside the region
            second.cursor().execute(COUNT.format(16000)).fetchall()  # a cursor dropped at once
    both = record(simperf, "both")
    assert both.rows_scanned == 8000 + 16000
    assert both.counters_complete
    assert both.meta["duckdb_connections"] == 2  # first, and the cursor of second


def test_a_connection_opened_before_is_adopted_in_a_region():
    early = duckdb.connect()  # not intercepted: e.g. a module-level connection
    early.execute("SET threads = 2")
    tables(early, 8000)
    simperf = make_simperf(threads=1)
    with simperf.intercept_connections():
        early.execute(COUNT.format(8000)).fetchall()  # outside a region: left alone
        assert tracker_of(early) is None
        with simperf.phase("adopted"):
            early.execute(COUNT.format(8000)).fetchall()
        assert threads_of(early) == 1
    assert record(simperf, "adopted").rows_scanned == 8000


def test_statements_of_another_thread_are_counted(database):
    simperf = make_simperf()

    def worker():  # as dbt runs its models
        con = duckdb.connect(database)
        con.execute(COUNT.format(8000)).fetchall()
        con.close()

    with simperf.intercept_connections(), simperf.phase("threaded"):
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert record(simperf, "threaded").rows_scanned == 8000


def test_a_connection_closed_in_the_region_is_counted_first(database):
    simperf = make_simperf()
    with simperf.intercept_connections(), simperf.phase("closed"):
        with duckdb.connect(database) as con:
            con.execute(COUNT.format(8000))  # not read: run to its end before closing
        other = duckdb.connect(database)
        other.execute(COUNT.format(16000)).fetchone()
        other.close()
    rec = record(simperf, "closed")
    assert rec.rows_scanned == 8000 + 16000 and rec.counters_complete


def test_outside_regions_nothing_is_profiled_or_counted():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tables(con, 8000)
        with simperf.phase("inside"):
            con.execute(COUNT.format(8000)).fetchall()
        profiling = con.execute("SELECT current_setting('enable_profiling')").fetchone()[0]
        assert profiling in (None, "", "NULL")
        con.execute(COUNT.format(8000)).fetchall()
    (rec,) = simperf.records
    assert rec.rows_scanned == 8000


def test_a_nested_interception_leaves_the_outer_one_its_connections():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        with simperf.intercept_connections():  # the plugin's, and the test's own
            pass
        assert tracker_of(con) is not None
    assert tracker_of(con) is None


def test_after_the_test_its_connections_count_nowhere():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
    assert tracker_of(con) is None
    tables(con, 8000)  # still a working connection
    later = make_simperf()
    with later.intercept_connections(), later.phase("later"):
        con.execute(COUNT.format(8000)).fetchall()  # adopted by the test now running
    assert record(later, "later").rows_scanned == 8000


# -- what DuckDB profiles only in part ---------------------------------------------------------


def test_a_script_of_several_statements_is_counted_statement_by_statement():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tables(con, 8000, 16000)
        with simperf.phase("script"):
            rows = con.execute(
                "CREATE TABLE copy AS SELECT * FROM t8000 WHERE i % 80 = 0; " + COUNT.format(16000)
            ).fetchall()
        assert rows == [(8000,)]  # the last statement's result, as DuckDB returns it
        assert con.execute("SELECT count(*) FROM copy").fetchone() == (100,)
    rec = record(simperf, "script")
    assert rec.rows_scanned == 8000 + 16000 and rec.counters_complete


def test_executemany_is_counted_as_incomplete_and_says_why():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        con.execute("CREATE TABLE t (i INTEGER)")
        with simperf.phase("many"):
            con.executemany("INSERT INTO t VALUES (?)", [[1], [2], [3]])
    rec = record(simperf, "many")
    assert not rec.counters_complete
    note = rec.meta["counters_note"]
    assert note.startswith("counters incomplete: ")
    assert " of 3 statements had no profile" in note and "executemany" in note
    assert rec.meta["counters_statements"] == 3
    assert rec.meta["counters_unprofiled"] in (2, 3)  # 3 where DuckDB profiles none of them


def test_executemany_counts_the_runs_of_an_iterator_too():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        con.execute("CREATE TABLE t (i INTEGER)")
        with simperf.phase("many"):
            con.executemany("INSERT INTO t VALUES (?)", ([i] for i in range(4)))
        assert con.execute("SELECT count(*) FROM t").fetchone() == (4,)
    rec = record(simperf, "many")
    assert rec.meta["counters_statements"] == 4 and not rec.counters_complete


def test_ddl_set_and_transactions_do_not_make_counters_incomplete():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        with simperf.phase("ddl"):
            con.execute("CREATE TABLE t (i INTEGER)")
            con.execute("SET threads = 1")
            con.begin()
            con.execute("INSERT INTO t SELECT range FROM range(10)")
            con.commit()
            con.execute("DROP TABLE t")
    rec = record(simperf, "ddl")
    assert rec.counters_complete, rec.meta.get("counters_note")


def test_a_failed_statement_is_not_counted():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tables(con, 8000)
        with simperf.phase("failed"):
            with pytest.raises(duckdb.Error):
                con.execute("SELECT nope FROM t8000")
            con.execute(COUNT.format(8000)).fetchall()
    rec = record(simperf, "failed")
    assert rec.rows_scanned == 8000 and rec.counters_complete


def test_a_result_left_open_is_run_to_its_end_and_counted():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tables(con, 16000)
        with simperf.phase("open"):
            assert con.execute("SELECT i FROM t16000 ORDER BY i").fetchone() == (0,)
    rec = record(simperf, "open")
    assert rec.rows_scanned == 16000 and rec.counters_complete


def test_relations_run_twice_are_counted_twice():
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tables(con, 8000)
        relation = con.sql(COUNT.format(8000))
        with simperf.phase("relation"):
            assert relation.fetchall() == [(4000,)]
            assert relation.fetchall() == [(4000,)]
    rec = record(simperf, "relation")
    assert rec.rows_scanned == 2 * 8000 and rec.counters_complete


def test_a_tracker_on_its_own_counts_like_before():
    con = duckdb.connect()
    tables(con, 8000)
    tracker = DuckDBTracker(con)
    tracked = TrackedConnection(con, tracker)
    with tracker.counting() as counters:
        tracked.execute(COUNT.format(8000)).fetchone()
        tracked.execute("SELECT sum(i) FROM t8000").fetchall()
    assert counters.statements == 2 and counters.complete
    assert counters.rows_scanned == 2 * 8000
    # a cursor of a tracked connection is tracked too
    hub = CounterHub()
    tracked = TrackedConnection(con, DuckDBTracker(con, hub))
    cursor = tracked.cursor()
    assert isinstance(cursor, TrackedConnection)
    with hub.region() as counters:
        cursor.execute(COUNT.format(8000)).fetchall()
    assert counters.rows_scanned == 8000


def test_incomplete_notes_of_repeats_add_up():
    first = PhaseRecord(name="p", year=None, samples_s=[1.0])
    first.mark_counters_incomplete(1, 4, {"why": 1})
    again = PhaseRecord(name="p", year=None, samples_s=[1.0])
    again.mark_counters_incomplete(2, 5, {"why": 1, "other": 1})
    clean = PhaseRecord(name="p", year=None, samples_s=[1.0])
    first.merge(again)
    first.merge(clean)
    assert not first.counters_complete
    assert first.meta["counters_note"] == (
        "counters incomplete: 3 of 9 statements had no profile: other (1); why (2)"
    )
    clean.merge(first)
    assert not clean.counters_complete and clean.meta["counters_unprofiled"] == 3


def test_interception_costs_no_statement_outside_regions():
    # Not a timing threshold: counts that outside a region no profile is read at all.
    simperf = make_simperf()
    with simperf.intercept_connections():
        con = duckdb.connect()
        tracker = tracker_of(con)
        assert tracker is not None
        reads = []
        original = tracker._read
        tracker._read = lambda: reads.append(1) or original()
        start = time.perf_counter()
        for _ in range(50):
            con.execute("SELECT 1").fetchall()
        assert time.perf_counter() >= start
    assert reads == []


def test_count_work_counts_a_block_without_making_it_a_phase():
    """For integrations that time regions themselves (dbt's node events): the block's exact
    counters, and no phase recorded for it."""
    simperf = make_simperf()
    con = simperf.track(duckdb.connect())
    tables(con, 8000, 16000)
    with simperf.count_work() as small:
        assert con.execute(COUNT.format(8000)).fetchone() == (4000,)
    with simperf.count_work() as large:
        con.execute(COUNT.format(16000)).fetchall()
    assert (small.rows_scanned, large.rows_scanned) == (8000, 16000)
    assert (small.statements, large.statements) == (1, 1)
    assert simperf.records == []
