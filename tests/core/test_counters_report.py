"""A region whose DuckDB counters miss statements says so in every report, and is not gated."""

from __future__ import annotations

USER_CODE = """
import duckdb
import pytest


def load(rows):
    # The code under test opens its own connection: simperf tracks it without being told.
    con = duckdb.connect()
    con.execute("CREATE TABLE t (i INTEGER)")
    con.executemany("INSERT INTO t VALUES (?)", [[i] for i in range(rows)])
    return con.execute("SELECT count(*) FROM t WHERE i % 2 = 0").fetchone()[0]


@pytest.mark.sla(seconds=10)
def test_load(simperf):
    with simperf.phase("load"):
        assert load(50) == 25
"""


def test_incomplete_counters_are_said_not_gated(pytester, run, read_json):
    pytester.makepyfile(test_mod=USER_CODE)
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(passed=1)
    (phase,) = read_json(pytester.path / "r.json")["tests"][0]["phases"]
    assert phase["counters_complete"] is False
    assert "executemany" in phase["counters_note"]
    assert phase["counter_severity"] is None
    assert "(not gated on counters)" in phase["why"]
    result.stdout.fnmatch_lines(["counted test_mod.py::test_load load: counters incomplete*"])


THREADS = """
import duckdb
import pytest

# DuckDB's own default here (one thread a core), read before any perf test runs.
DEFAULT = duckdb.connect().execute("SELECT current_setting('threads')").fetchone()[0]


@pytest.mark.sla(seconds=10)
def test_no_fixture():
    con = duckdb.connect()
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == 1


@pytest.mark.sla(seconds=10)
@pytest.mark.simperf(track_connections=False)
def test_opted_out():
    con = duckdb.connect()
    assert con.execute("SELECT current_setting('threads')").fetchone()[0] == DEFAULT
"""


def test_connections_of_a_marked_test_without_the_fixture_are_pinned(pytester, run):
    pytester.makepyfile(test_threads=THREADS)
    run("--simperf").assert_outcomes(passed=2)
