"""The history database: schema, migration, recording, concurrency, queries and their errors."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from datetime import datetime, timedelta

import duckdb
import pytest

from pytest_simperf import history

T0 = datetime(2026, 11, 2, 8, 0, 0)


def count(path, table):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def test_importing_history_does_not_import_duckdb():
    code = (
        "import sys, pytest_simperf.history, pytest_simperf.history_cli, pytest_simperf.trends;"
        "import pytest_simperf.report.markdown, pytest_simperf.report.html;"
        "print('duckdb' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_record_run_stores_every_table(tmp_path, make_report):
    path = tmp_path / "h" / "history.duckdb"
    report = make_report(started_at=T0, factor=lambda n, c, y: 1.45 if c == "int_hires" else 1.0)
    run_id = history.record_run(path, report)

    assert run_id.startswith("20261102-080000-")
    data = history.load_run(path, run_id)
    run = data["run"]
    assert run["git_commit"] == "3f9c2e1a7b"
    assert run["git_dirty"] is False
    assert run["machine_id"] == "3f2a9c01"
    assert run["machine"]["cores"] == 2
    assert run["calibration_s"] == pytest.approx(0.0123)
    assert run["options"]["fail_on"] == "MINOR"
    assert run["started_at"] == "2026-11-02T08:00:00Z"

    phases = [p for t in report["tests"] for p in t["phases"]]
    assert len(data["performance"]) == len(phases) == 2 * 3 * 5
    stored = {(p["nodeid"], p["phase"], p["year"]): p for p in data["performance"]}
    for test in report["tests"]:
        for phase in test["phases"]:
            row = stored[(test["nodeid"], phase["name"], phase["year"])]
            assert row["median_s"] == pytest.approx(phase["median_s"])
            assert row["samples_s"] == pytest.approx(phase["samples_s"])
            assert row["min_s"] == pytest.approx(min(phase["samples_s"]))
            assert row["rows_per_s"] == pytest.approx(phase["rows_per_s"])
            assert row["sla_status"] == phase["sla_status"]
            assert row["sla_category"] == phase["sla_category"]
            assert row["severity"] == phase["severity"]
            assert row["cumulative_s"] == pytest.approx(phase["cumulative_s"])
            if phase["yoy_change_pct"] is None:
                assert row["yoy_change_pct"] is None
            else:
                assert row["yoy_change_pct"] == pytest.approx(phase["yoy_change_pct"])

    expected = {
        (test["nodeid"], p["name"], p["year"])
        for test in report["tests"]
        for p in test["phases"]
        if p["severity"] in ("MINOR", "MAJOR", "CRITICAL")
    }
    assert expected  # the +45% factor made regressions
    time_regs = [r for r in data["regressions"] if r["metric"] == "wall"]
    assert {(r["nodeid"], r["component"], r["year"]) for r in time_regs} == expected
    assert all(r["status"] == "new" and r["fails_gate"] for r in time_regs)
    assert {s["component"]: s["seconds"] for s in data["sla_definitions"]} == {
        "int_hires": 0.5,
        "fct_yearly_events": 0.6,
        "scd_workforce_state": 1.2,
    }


def test_regression_status_is_ongoing_when_it_regressed_last_time_too(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    slow = make_report(started_at=T0, factor=lambda n, c, y: 1.6 if c == "int_hires" else 1.0)
    history.record_run(path, slow)
    second = history.record_run(
        path, {**slow, "run": {**slow["run"], "started_at": "2026-11-03T08:00:00Z"}}
    )
    regs = history.load_run(path, second)["regressions"]
    assert regs
    assert {r["status"] for r in regs} == {"ongoing"}


def test_fails_gate_follows_fail_on(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    report = make_report(
        started_at=T0, fail_on="CRITICAL", factor=lambda n, c, y: 1.2 if c == "int_hires" else 1.0
    )
    run_id = history.record_run(path, report)
    regs = history.load_run(path, run_id)["regressions"]
    minor = [r for r in regs if r["class"] == "MINOR"]
    assert minor
    assert not any(r["fails_gate"] for r in minor)


def test_report_without_optional_figures_is_recorded(tmp_path):
    report = {
        "schema_version": 1,
        "run": {"started_at": None, "machine": None, "options": None},
        "tests": [
            {
                "nodeid": "t.py::test_a",
                "phases": [{"name": "call", "year": None, "samples_s": [0.2, 0.1, 0.3]}],
            },
            {"nodeid": "t.py::test_b", "phases": []},
        ],
    }
    run_id = history.record_run(tmp_path / "h.duckdb", report)
    data = history.load_run(tmp_path / "h.duckdb", run_id)
    (row,) = data["performance"]
    assert row["median_s"] == pytest.approx(0.2)
    assert row["rounds"] == 3
    assert row["year"] is None
    assert data["regressions"] == []
    (series,) = history.trend(tmp_path / "h.duckdb")
    assert (series["runs"], series["breaches"], series["warnings"]) == (1, 0, 0)
    assert series["trend"] == "insufficient"


@pytest.mark.parametrize(
    ("report", "message"),
    [
        ({"schema_version": 7, "run": {}, "tests": []}, "schema_version 7"),
        ({"schema_version": 1, "tests": []}, "lacks"),
        ([], "mapping"),
        (
            {"schema_version": 1, "run": {"started_at": "yesterday"}, "tests": []},
            "malformed timestamp",
        ),
    ],
)
def test_bad_report_is_refused_and_nothing_is_written(tmp_path, report, message):
    path = tmp_path / "history.duckdb"
    with pytest.raises(history.HistoryError, match=message):
        history.record_run(path, report)
    assert not path.exists()


def test_failed_write_rolls_back_and_keeps_earlier_runs(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    first = history.record_run(path, make_report(started_at=T0))
    with pytest.raises(history.HistoryError, match="already in"):
        history.record_run(path, make_report(started_at=T0 + timedelta(days=1)), run_id=first)
    assert count(path, "runs") == 1
    assert count(path, "performance") == 30


# --------------------------------------------------------------------------------------------
# Schema versions
# --------------------------------------------------------------------------------------------

# The version-1 schema exactly as pytest-simperf 0.1 wrote it: frozen here, independent of the
# migration code, so the test proves a real old file is upgraded.
V1_DDL = [
    "CREATE TABLE simperf_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    """CREATE TABLE runs (run_id VARCHAR PRIMARY KEY, started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP, duration_s DOUBLE, git_commit VARCHAR, git_dirty BOOLEAN,
        machine_id VARCHAR, machine VARCHAR, calibration_s DOUBLE, options VARCHAR,
        exit_status INTEGER, report_schema_version INTEGER)""",
    """CREATE TABLE performance (run_id VARCHAR NOT NULL, nodeid VARCHAR NOT NULL,
        phase VARCHAR NOT NULL, year INTEGER, rounds INTEGER, median_s DOUBLE, min_s DOUBLE,
        max_s DOUBLE, cpu_s DOUBLE, baseline_median_s DOUBLE, change_pct DOUBLE,
        severity VARCHAR, peak_rss_mb DOUBLE, rows BIGINT, rows_per_s DOUBLE,
        sla_seconds DOUBLE, sla_status VARCHAR, sla_category VARCHAR)""",
    """CREATE TABLE regressions (run_id VARCHAR NOT NULL, nodeid VARCHAR NOT NULL,
        component VARCHAR NOT NULL, year INTEGER, metric VARCHAR NOT NULL, baseline DOUBLE,
        current DOUBLE, degradation_pct DOUBLE, class VARCHAR NOT NULL, status VARCHAR NOT NULL)""",
    """CREATE TABLE sla_definitions (run_id VARCHAR NOT NULL, component VARCHAR NOT NULL,
        seconds DOUBLE, warning_seconds DOUBLE, memory_mb DOUBLE)""",
    "INSERT INTO simperf_meta VALUES ('schema_version', '1')",
]


def make_v1_file(path):
    con = duckdb.connect(str(path))
    for statement in V1_DDL:
        con.execute(statement)
    for day in range(3):
        run_id = f"old-{day}"
        con.execute(
            "INSERT INTO runs VALUES "
            "(?, ?, NULL, 40, 'c0ffee', true, 'm1', '{}', 0.01, '{}', 0, 1)",
            [run_id, T0 - timedelta(days=10 - day)],
        )
        for year, median in ((2025, 0.2), (2026, 0.25), (2027, 0.3)):
            con.execute(
                """INSERT INTO performance (run_id, nodeid, phase, year, rounds, median_s,
                    severity, sla_seconds, sla_status) VALUES (?, 't.py::test_x', 'events', ?, 5, ?,
                    'OK', 1.0, 'WITHIN_SLA')""",
                [run_id, year, median],
            )
        con.execute(
            "INSERT INTO regressions VALUES "
            "(?, 't.py::test_x', 'events', 2027, 'time', 0.2, 0.3, 50, 'MAJOR', 'new')",
            [run_id],
        )
        con.execute("INSERT INTO sla_definitions VALUES (?, 'events', 1.0, NULL, NULL)", [run_id])
    con.close()


def test_v1_file_is_migrated_forward_without_losing_rows(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    make_v1_file(path)
    before = {t: count(path, t) for t in ("runs", "performance", "regressions", "sla_definitions")}

    runs = history.list_runs(path)  # a read triggers the migration

    assert [r["run_id"] for r in runs] == ["old-2", "old-1", "old-0"]
    after = {t: count(path, t) for t in before}
    assert after == before
    con = duckdb.connect(str(path), read_only=True)
    version = con.execute("SELECT value FROM simperf_meta WHERE key = 'schema_version'").fetchone()
    backfilled = con.execute(
        "SELECT year, cumulative_s, yoy_change_pct FROM performance "
        "WHERE run_id = 'old-0' ORDER BY year"
    ).fetchall()
    recorded_at = con.execute("SELECT count(*) FROM runs WHERE recorded_at = started_at").fetchone()
    con.close()
    assert version == (str(history.SCHEMA_VERSION),)
    assert backfilled[0] == (2025, pytest.approx(0.2), None)
    assert backfilled[1] == (2026, pytest.approx(0.45), pytest.approx(25.0))
    assert backfilled[2] == (2027, pytest.approx(0.75), pytest.approx(20.0))
    assert recorded_at == (3,)

    # and new runs go on top of the old ones
    history.record_run(path, make_report(started_at=T0))
    assert count(path, "runs") == 4
    assert history.load_run(path, "old-1")["performance"][0]["median_s"] == pytest.approx(0.2)


def test_old_runs_are_test_runs_and_new_columns_round_trip(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    make_v1_file(path)
    report = make_report(started_at=T0)
    report["run"]["kind"] = "production"
    report["run"]["name"] = "nightly five-year simulation"
    phase = report["tests"][0]["phases"][0]
    phase.update(
        metric="instructions",
        value=1.5e9,
        baseline_value=1.0e9,
        instructions=1_500_000_000,
        baseline_instructions=1_000_000_000,
        instructions_change_pct=50.0,
        instructions_severity="MAJOR",
        status="failed",
        rows_in=5000,
        error="ValueError: boom",
    )
    new_id = history.record_run(path, report)

    con = duckdb.connect(str(path), read_only=True)
    kinds = dict(con.execute("SELECT run_id, kind FROM runs").fetchall())
    name = con.execute("SELECT run_name FROM runs WHERE run_id = ?", [new_id]).fetchone()
    stored = con.execute(
        """SELECT metric, value, baseline_value, instructions, baseline_instructions,
            instructions_change_pct, instructions_severity, status, rows_in, error
        FROM performance WHERE run_id = ? AND phase = ? AND year IS NOT DISTINCT FROM ?""",
        [new_id, phase["name"], phase.get("year")],
    ).fetchone()
    con.close()
    assert kinds == {"old-0": "test", "old-1": "test", "old-2": "test", new_id: "production"}
    assert name == ("nightly five-year simulation",)
    assert stored == (
        "instructions",
        1.5e9,
        1.0e9,
        1_500_000_000,
        1_000_000_000,
        50.0,
        "MAJOR",
        "failed",
        5000,
        "ValueError: boom",
    )


def test_file_from_a_newer_version_is_refused_untouched(tmp_path):
    path = tmp_path / "history.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE simperf_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.execute("INSERT INTO simperf_meta VALUES ('schema_version', '99')")
    con.close()
    before = path.read_bytes()
    with pytest.raises(history.HistoryError, match="version 99, newer"):
        history.list_runs(path)
    assert path.read_bytes() == before


def test_a_database_that_is_not_a_history_is_refused(tmp_path, make_report):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    with pytest.raises(history.HistoryError, match="not a pytest-simperf history"):
        history.record_run(path, make_report(started_at=T0))


def test_garbage_file_gives_a_clear_error_and_is_kept(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    path.write_bytes(b"this is not a database" * 500)
    with pytest.raises(history.HistoryError, match="cannot open history"):
        history.record_run(path, make_report(started_at=T0))
    assert path.read_bytes() == b"this is not a database" * 500


# --------------------------------------------------------------------------------------------
# Locks and concurrent writers
# --------------------------------------------------------------------------------------------


class FakeLockError(Exception):
    pass


def test_lock_conflict_is_retried_with_growing_backoff(tmp_path, make_report):
    failures = 4
    calls = []
    sleeps = []

    def connect(path, read_only):
        calls.append(read_only)
        if len(calls) <= failures:
            raise FakeLockError(
                f'IO Error: Could not set lock on file "{path}": Conflicting lock is held'
            )
        return duckdb.connect(path, read_only=read_only)

    run_id = history.record_run(
        tmp_path / "h.duckdb", make_report(started_at=T0), sleep=sleeps.append, connect=connect
    )
    assert len(sleeps) == failures
    assert sleeps[-1] > sleeps[0]  # backoff grows (jitter is at most ±50 %)
    assert history.load_run(tmp_path / "h.duckdb", run_id)["run"]["run_id"] == run_id


def test_lock_held_too_long_gives_up_with_a_clear_error(tmp_path, make_report):
    def connect(path, read_only):
        raise FakeLockError("Could not set lock on file: Conflicting lock is held in pid 42")

    clock = iter(range(1000))
    with pytest.raises(history.HistoryLockedError, match="stayed locked"):
        history._open_with_retry(
            tmp_path / "h.duckdb",
            read_only=False,
            sleep=lambda s: None,
            timeout_s=5,
            connect=connect,
            clock=lambda: float(next(clock)),
        )


WRITER = """
import json, sys, time
from pytest_simperf import history
import duckdb  # imported before the start line so the writers really start together

path, report_file, run_id = sys.argv[1:]
report = json.loads(open(report_file).read())
waited = []

def sleep(seconds):
    if not waited:
        print("waiting", flush=True)  # the parent holds the file until every writer waits
    waited.append(seconds)
    time.sleep(seconds)

history.record_run(path, report, run_id=run_id, sleep=sleep)
print(f"recorded after {len(waited)} retries", flush=True)
"""


def test_concurrent_writers_are_all_recorded(tmp_path, make_report):
    """Writers that find the file locked wait and retry; none is lost.

    The test holds the write lock itself until every writer has hit it, so contention is certain,
    then lets them all go at once, so they also contend with each other.
    """
    path = tmp_path / "history.duckdb"
    history.record_run(path, make_report(started_at=T0 - timedelta(days=1)), run_id="first")
    writers = 4
    processes = []
    for i in range(writers):
        report_file = tmp_path / f"report-{i}.json"
        report_file.write_text(
            json.dumps(make_report(started_at=T0 + timedelta(minutes=i), seed=i))
        )
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", WRITER, str(path), str(report_file), f"writer-{i}"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    holder = duckdb.connect(str(path))  # holds the lock: every writer must wait
    try:
        for p in processes:
            assert p.stdout is not None
            assert p.stdout.readline().strip() == "waiting", p.stderr.read() if p.stderr else ""
    finally:
        holder.close()
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0] * writers, outputs
    assert sorted(r["run_id"] for r in history.list_runs(path)) == ["first"] + [
        f"writer-{i}" for i in range(writers)
    ]
    assert count(path, "performance") == (writers + 1) * 30
    assert count(path, "sla_definitions") == (writers + 1) * 3


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def test_missing_and_empty_history_errors(tmp_path):
    with pytest.raises(history.HistoryNotFoundError, match="pytest --simperf"):
        history.list_runs(tmp_path / "nope.duckdb")
    with history.open_history(tmp_path / "empty.duckdb", write=True):
        pass
    with pytest.raises(history.EmptyHistoryError, match="no runs yet"):
        history.trend(tmp_path / "empty.duckdb")


def test_run_references(shared_history):
    path, ids = shared_history.path, shared_history.run_ids
    with history.open_history(path) as con:
        assert history.resolve_run(con, path, None) == ids[-1]
        assert history.resolve_run(con, path, "latest~2") == ids[-3]
        assert history.resolve_run(con, path, ids[5][:-2]) == ids[5]
        with pytest.raises(history.UnknownRunError, match="no run 'nope'"):
            history.resolve_run(con, path, "nope")
        with pytest.raises(history.UnknownRunError, match="ambiguous"):
            history.resolve_run(con, path, "2")
        with pytest.raises(history.UnknownRunError, match="only 24 runs"):
            history.resolve_run(con, path, "latest~24")


def test_trend_finds_the_step_at_the_right_run(shared_history):
    rows = history.trend(shared_history.path)
    assert len(rows) == 2 * 3 * 5
    stepped = [r for r in rows if r["step"]]
    assert [(r["nodeid"], r["phase"], r["year"]) for r in stepped] == [
        ("tests/perf/test_pipeline.py::test_yearly_events", "fct_yearly_events", 2029)
    ]
    (row,) = stepped
    assert row["trend"] == "degrading"
    assert row["step"]["run_id"] == shared_history.run_ids[shared_history.step_run]
    assert row["step"]["change_pct"] == pytest.approx(60, abs=10)
    assert {r["trend"] for r in rows if not r["step"]} == {"stable"}
    assert all(r["runs"] == 24 for r in rows)


def test_trend_window_and_pattern(shared_history):
    path = shared_history.path
    recent = history.trend(path, days=5.5)
    assert {r["runs"] for r in recent} == {6}
    only = history.trend(path, pattern="*test_yearly_events::fct_yearly_events@2029")
    assert [(r["phase"], r["year"]) for r in only] == [("fct_yearly_events", 2029)]
    hires = history.trend(path, pattern="int_hires")
    assert {r["phase"] for r in hires} == {"int_hires"}
    assert len(hires) == 10
    with pytest.raises(history.PatternError, match="unclosed"):
        history.trend(path, pattern="test_[abc")
    with pytest.raises(history.PatternError, match="no test or phase matches 'zzz'"):
        history.trend(path, pattern="zzz")
    with pytest.raises(history.EmptyHistoryError, match="last 1 days"):
        history.trend(path, days=1, now=shared_history.started[-1] + timedelta(days=30))


def test_sla_compliance_counts_statuses(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    for day, factor in enumerate((1.0, 1.0, 3.0)):  # the third run breaches fct_yearly_events
        history.record_run(
            path,
            make_report(
                started_at=T0 + timedelta(days=day),
                seed=day,
                factor=lambda n, c, y, f=factor: f if c == "fct_yearly_events" else 1.0,
            ),
        )
    rows = {r["component"]: r for r in history.sla_compliance(path)}
    events = rows["fct_yearly_events"]
    assert events["runs"] == 3
    assert events["measurements"] == 3 * 2 * 5
    assert events["within"] + events["warnings"] + events["breaches"] == 30
    assert events["breaches"] >= 8  # 3× base: most years of both tests exceed 0.6 s
    assert events["compliance_pct"] == pytest.approx((30 - events["breaches"]) / 30 * 100)
    assert events["last_breach"] == "2026-11-04T08:00:00Z"
    assert rows["int_hires"]["breaches"] == 0
    assert rows["int_hires"]["compliance_pct"] == 100.0
    assert next(iter(rows)) == "fct_yearly_events"  # worst first


def test_compare_runs(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    a = history.record_run(path, make_report(started_at=T0, seed=1, noise=0.0))
    b_report = make_report(
        started_at=T0 + timedelta(days=1),
        seed=2,
        noise=0.0,
        factor=lambda n, c, y: 1.4 if (c, y) == ("int_hires", 2026) else 1.0,
    )
    b_report["tests"][0]["phases"].pop()  # a phase that disappeared
    b = history.record_run(path, b_report)
    result = history.compare_runs(path, a, b)
    changed = {(r["nodeid"], r["phase"], r["year"]): r for r in result["phases"]}
    hires = [r for k, r in changed.items() if k[1:] == ("int_hires", 2026)]
    assert {r["class"] for r in hires} == {"MAJOR"}
    assert all(r["change_pct"] == pytest.approx(40.0) for r in hires)
    others = [r for k, r in changed.items() if k[1:] != ("int_hires", 2026)]
    assert {r["class"] for r in others} == {"OK"}
    assert len(result["only_in_a"]) == 1
    assert result["only_in_b"] == []


def test_classify_change_respects_noise_and_thresholds():
    assert history.classify_change(20.0, 25.0, [15, 30, 50]) == "OK"
    assert history.classify_change(20.0, 5.0, [15, 30, 50]) == "MINOR"
    assert history.classify_change(55.0, 5.0, [15, 30, 50]) == "CRITICAL"
    assert history.classify_change(-20.0, 5.0, [15, 30, 50]) == "IMPROVED"
    assert history.classify_change(None, 5.0, [15, 30, 50]) == "NEW"


def test_run_to_report_round_trips_the_figures(tmp_path, make_report):
    report = make_report(started_at=T0, factor=lambda n, c, y: 1.5 if c == "int_hires" else 1.0)
    path = tmp_path / "history.duckdb"
    run_id = history.record_run(path, report)
    rebuilt = history.run_to_report(history.load_run(path, run_id))
    assert rebuilt["run"]["git_commit"] == report["run"]["git_commit"]
    assert {t["nodeid"] for t in rebuilt["tests"]} == {t["nodeid"] for t in report["tests"]}
    original = {
        (t["nodeid"], p["name"], p["year"]): p for t in report["tests"] for p in t["phases"]
    }
    for test in rebuilt["tests"]:
        for phase in test["phases"]:
            source = original[(test["nodeid"], phase["name"], phase["year"])]
            assert phase["severity"] == source["severity"]
            assert phase["median_s"] == pytest.approx(source["median_s"])
    assert rebuilt["sla_definitions"] == report["sla_definitions"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("test_yearly_events::fct*", 5),
        ("fct_yearly_events@2029", 2),
        ("test_workforce_snapshots::*@2025", 3),
        ("tests/perf/test_pipeline.py::test_yearly_events::int_hires@2026", 1),
        ("int_hires@202[67]", 4),
    ],
)
def test_patterns_match_anywhere_in_the_series_key(shared_history, pattern, expected):
    rows = history.trend(shared_history.path, pattern=pattern)
    assert len(rows) == expected
    glob = history.validate_pattern(pattern)
    assert all(
        fnmatch.fnmatchcase(history.series_key(r["nodeid"], r["phase"], r["year"]), glob)
        for r in rows
    )
