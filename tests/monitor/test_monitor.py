"""The monitoring API with scripted clocks and memory: what is recorded, judged, alerted, stored."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import threading

import duckdb
import pytest

from pytest_simperf import history, monitor
from pytest_simperf.errors import UsageError
from pytest_simperf.monitor import monitored
from pytest_simperf.options import ComponentSla


def test_a_phase_records_wall_cpu_memory_rows_and_is_stored_as_a_production_run(rig):
    slas = {"fct_yearly_events": ComponentSla(seconds=10)}
    with (
        rig.run(slas=slas) as run,
        run.phase("fct_yearly_events", year=2027, rows_in=5000) as phase,
    ):
        rig.work(4.0, cpu=3.0)
        rig.memory.grow(80)
        rig.memory.shrink(50)
        phase.rows_out = 8000
    (result,) = run.results
    assert (result.wall_s, result.cpu_s) == (4.0, 3.0)
    assert (result.start_rss_mb, result.peak_rss_mb) == (100.0, 180.0)
    assert (result.rows_in, result.rows_out, result.rows_per_s) == (5000, 8000, 2000.0)
    assert (result.sla_status, result.sla_category) == ("WITHIN_SLA", "EXCELLENT")
    assert result.severity == "NEW"
    assert "insufficient history: 0 comparable production runs" in result.regression.why

    stored = history.load_run(rig.history, run.run_id)
    assert stored["run"]["kind"] == "production"
    assert stored["run"]["run_name"] == "nightly"
    assert stored["run"]["machine_id"] == "host-a"
    (row,) = stored["performance"]
    assert row["nodeid"] == "nightly"
    assert (row["phase"], row["year"], row["status"]) == ("fct_yearly_events", 2027, "ok")
    # CPU-bound (3 of 4 s) and alone: a CPU-time figure, as the gate would judge it
    assert (row["median_s"], row["cpu_s"], row["metric"], row["value"]) == (4.0, 3.0, "cpu", 3.0)
    assert (row["rows"], row["rows_in"], row["peak_rss_mb"]) == (8000, 5000, 180.0)
    assert (row["sla_seconds"], row["sla_status"], row["severity"]) == (10.0, "WITHIN_SLA", "NEW")


@pytest.mark.parametrize(
    ("seconds", "status", "category"),
    [
        (4.0, "WITHIN_SLA", "EXCELLENT"),
        (7.0, "WITHIN_SLA", "GOOD"),
        (9.0, "SLA_WARNING", "POOR"),
        (11.0, "SLA_BREACH", "CRITICAL"),
    ],
)
def test_sla_status_and_category_follow_the_plugins_rules(rig, seconds, status, category):
    with rig.run(slas={"scd": ComponentSla(seconds=10)}) as run, run.phase("scd", year=2025):
        rig.work(seconds)
    (result,) = run.results
    assert (result.sla_status, result.sla_category) == (status, category)
    breached = [a for a in rig.alerts if a.kind == "sla_breach"]
    assert len(breached) == (1 if status == "SLA_BREACH" else 0)


def test_a_breach_alerts_by_callback_global_handler_and_log_line(rig, caplog):
    seen: list[monitor.Alert] = []
    monitor.add_alert_handler(seen.append)
    try:
        with (
            caplog.at_level(logging.WARNING, logger="pytest_simperf.monitor"),
            rig.run(slas={"scd": ComponentSla(seconds=1)}) as run,
            run.phase("scd", year=2025),
        ):
            rig.work(3.0)
    finally:
        monitor.remove_alert_handler(seen.append)
    assert [a.level for a in rig.alerts] == ["SLA_BREACH"] == [a.level for a in seen]
    alert = rig.alerts[0]
    assert (alert.run_name, alert.component, alert.year) == ("nightly", "scd", 2025)
    assert "time 3.000 s exceeds the SLA of 1 s" in alert.message
    (record,) = [r for r in caplog.records if r.name == "pytest_simperf.monitor"]
    assert record.levelno == logging.ERROR and "SLA breach" in record.getMessage()
    assert run.problems() == run.results


def test_an_alert_handler_that_raises_is_logged_and_the_pipeline_goes_on(rig, caplog):
    def broken(alert):
        raise RuntimeError("pager down")

    with (
        caplog.at_level(logging.ERROR, logger="pytest_simperf.monitor"),
        rig.run(slas={"scd": ComponentSla(seconds=1)}, on_alert=broken) as run,
    ):
        with run.phase("scd"):
            rig.work(2.0)
        with run.phase("next"):
            rig.work(0.5)
    assert [r.component for r in run.results] == ["next", "scd"]
    assert run.run_id is not None
    assert any("alert handler" in r.getMessage() and r.exc_info for r in caplog.records)


def test_an_exception_is_recorded_as_failed_reraised_and_the_run_still_written(rig):
    class ModelError(Exception):
        pass

    error = ModelError("division by zero in int_hires\nsecond line")

    def pipeline(run):
        with run.phase("int_hires", year=2026):
            rig.work(1.5)
            raise error

    with pytest.raises(ModelError) as caught, rig.run() as run:
        pipeline(run)
    assert caught.value is error
    (result,) = run.results
    assert result.status == "failed"
    assert result.error == "ModelError: division by zero in int_hires"
    assert result.wall_s == 1.5
    assert [a.kind for a in rig.alerts] == ["failure"]
    stored = history.load_run(rig.history, run.run_id)
    assert stored["run"]["exit_status"] == 1
    assert stored["run"]["options"]["error"] == "ModelError: division by zero in int_hires"
    (row,) = stored["performance"]
    assert (row["status"], row["error"], row["severity"]) == (
        "failed",
        "ModelError: division by zero in int_hires",
        None,
    )


def quiet(value):
    return {("events", 2027): value}


def test_a_class_needs_three_comparable_runs_then_a_slowdown_alerts(rig):
    for took in (1.00, 1.02, 0.98):
        run = rig.night(quiet(took))
        assert run.results[0].severity == "NEW"
    assert "insufficient history: 2 comparable production runs, a class needs 3" in (
        run.results[0].regression.why
    )
    run = rig.night(quiet(2.0))
    (result,) = run.results
    assert result.severity == "CRITICAL"
    assert result.regression.reference_s == 1.0
    assert result.regression.reference_runs == 3
    assert result.regression.change_pct == pytest.approx(100.0)
    (alert,) = [a for a in rig.alerts if a.kind == "regression"]
    assert alert.level == "CRITICAL" and "+100.0%" in alert.message
    (row,) = history.load_run(rig.history, run.run_id)["performance"]
    assert (row["severity"], row["baseline_median_s"], row["baseline_value"]) == (
        "CRITICAL",
        1.0,
        1.0,
    )
    assert row["change_pct"] == pytest.approx(100.0)
    (regression,) = history.load_run(rig.history, run.run_id)["regressions"]
    assert (regression["component"], regression["class"]) == ("events", "CRITICAL")


def test_the_reference_runs_own_spread_keeps_one_noisy_value_from_alarming(rig):
    steady, noisy = [1.00, 1.01, 0.99, 1.00, 1.01], [1.0, 1.6, 0.7, 1.3, 0.8]
    for took in steady:
        rig.night(quiet(took), host="steady")
    for took in noisy:
        rig.night(quiet(took), host="noisy")
    on_steady = rig.night(quiet(1.6), host="steady").results[0]
    on_noisy = rig.night(quiet(1.6), host="noisy").results[0]
    assert on_steady.severity in ("MAJOR", "CRITICAL")
    assert on_noisy.severity == "OK"
    assert on_noisy.regression.noise_pct > on_steady.regression.noise_pct


def test_only_the_same_pipeline_component_year_and_host_are_compared(rig):
    for took in (1.0, 1.0, 1.0):
        rig.night({("events", 2027): took, ("events", 2028): took})
    assert rig.night(quiet(3.0), host="host-b").results[0].severity == "NEW"
    assert rig.night(quiet(3.0), name="other").results[0].severity == "NEW"
    assert rig.night({("events", 2029): 3.0}).results[0].severity == "NEW"
    assert rig.night(quiet(3.0)).results[0].severity == "CRITICAL"


def test_failed_phases_are_left_out_of_the_reference(rig):
    for took in (1.0, 1.0):
        rig.night(quiet(took))

    def failing(run):
        with run.phase("events", year=2027):
            rig.work(9.0)
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"), rig.run() as run:
        failing(run)
    assert rig.night(quiet(1.0)).results[0].severity == "NEW"  # two good runs only


def test_the_window_takes_the_last_n_runs(rig):
    config = monitor.MonitorConfig(window=3, min_history=3)
    for took in (5.0, 5.0, 5.0, 1.0, 1.0, 1.0):
        rig.night(quiet(took), config=config)
    result = rig.night(quiet(1.0), config=config).results[0]
    assert result.regression.reference_s == 1.0 and result.severity == "OK"


def test_a_phase_under_20_ms_gets_no_timing_class(rig):
    for took in (0.005, 0.005, 0.005):
        rig.night(quiet(took))
    result = rig.night(quiet(0.015)).results[0]
    assert result.severity == "OK"
    assert "cannot carry a timing class" in result.regression.why


def test_cpu_time_is_judged_where_it_is_the_phases_own_so_a_noisy_wall_clock_cannot_hide_x2(
    rig,
):
    key = ("events", 2027)
    for wall in (1.0, 1.6, 0.7, 1.3, 0.8):  # a loaded machine: wall time all over the place
        rig.night({key: wall}, cpu={key: 0.5})
    result = rig.night({key: 1.4}, cpu={key: 1.0}).results[0]
    assert result.regression.metric == "cpu"
    assert (result.regression.value_s, result.regression.reference_s) == (1.0, 0.5)
    assert result.severity == "CRITICAL"
    (alert,) = [a for a in rig.alerts if a.kind == "regression"]
    assert "+100.0% cpu time (1.000 s vs median 0.500 s" in alert.message


@pytest.mark.parametrize(
    ("cpu", "wait", "metric"),
    [
        (0.2, 0.0, "wall"),  # waits on I/O: little CPU time to compare
        (1.5, 2.5, "cpu"),  # CPU-bound once the time spent waiting for a core is taken out
        (1.5, 0.0, "wall"),
    ],
)
def test_a_phase_is_judged_on_cpu_time_only_when_cpu_bound(rig, cpu, wait, metric):
    with rig.run() as run, run.phase("io", year=2025):
        rig.work(4.0, cpu=cpu, wait=wait)
    (row,) = history.load_run(rig.history, run.run_id)["performance"]
    assert row["metric"] == metric
    assert row["value"] == (cpu if metric == "cpu" else 4.0)


def test_references_without_cpu_time_are_compared_on_wall_time(rig):
    for _ in range(3):  # dbt-style figures: wall time only
        with rig.run() as run:
            run.add("model", year=2025, wall_s=1.0)
    with rig.run() as run, run.phase("model", year=2025):
        rig.work(2.5)
    result = run.results[0]
    assert result.regression.metric == "wall" and result.severity == "CRITICAL"


def test_phases_overlapping_in_threads_keep_no_cpu_time_and_are_judged_on_wall(rig):
    barrier = threading.Barrier(2)

    def asset(run, name):
        with run.phase(name, year=2025):
            barrier.wait(timeout=30)
            barrier.wait(timeout=30)

    with rig.run() as run:
        threads = [threading.Thread(target=asset, args=(run, n)) for n in ("a", "b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        with run.phase("after", year=2025):  # alone again
            rig.work(1.0)
    by_name = {r.component: r for r in run.results}
    assert by_name["a"].cpu_s is None and by_name["b"].cpu_s is None
    assert by_name["a"].regression.metric == "wall"
    assert (by_name["after"].cpu_s, by_name["after"].regression.metric) == (1.0, "cpu")
    stored = {r["phase"]: r for r in history.load_run(rig.history, run.run_id)["performance"]}
    assert stored["a"]["cpu_s"] is None and stored["a"]["metric"] == "wall"


def test_judge_regression_is_monotone_in_the_value():
    from pytest_simperf.stats import Thresholds, slowdown_rank

    reference = [1.0, 1.05, 0.97, 1.02, 0.99]
    ranks = [
        slowdown_rank(monitor.judge_regression(v / 10, reference, thresholds=Thresholds()).severity)
        for v in range(5, 40)
    ]
    assert ranks == sorted(ranks)
    assert ranks[0] == slowdown_rank("IMPROVED") and ranks[-1] == slowdown_rank("CRITICAL")


def test_a_component_entered_twice_in_a_year_is_one_figure_alerted_once(rig):
    with rig.run(slas={"load": ComponentSla(seconds=3)}) as run:
        for took in (2.0, 2.0, 2.0):
            with run.phase("load", year=2025, rows_out=10):
                rig.work(took)
    (result,) = run.results
    assert (result.wall_s, result.parts, result.rows_out) == (6.0, (2.0, 2.0, 2.0), 30)
    assert [a.level for a in rig.alerts] == ["SLA_BREACH"]
    (row,) = history.load_run(rig.history, run.run_id)["performance"]
    assert (row["median_s"], row["rounds"], row["samples_s"]) == (6.0, 3, [2.0, 2.0, 2.0])


def test_a_retry_that_succeeds_makes_the_component_succeed_and_costs_both_attempts(rig):
    with rig.run() as run:
        for attempt, fail in enumerate((True, False)):
            try:
                with run.phase("load", year=2025):
                    rig.work(1.0 + attempt)
                    if fail:
                        raise TimeoutError("lock wait")
            except TimeoutError:
                pass
    (result,) = run.results
    assert (result.status, result.wall_s, result.error) == ("ok", 3.0, "TimeoutError: lock wait")
    assert [a.kind for a in rig.alerts] == ["failure"]  # the failed attempt was announced


def test_yoy_and_cumulative_come_from_the_history(rig):
    run = rig.night({("scd", 2025): 1.0, ("scd", 2026): 1.5, ("scd", 2027): 3.0})
    rows = history.load_run(rig.history, run.run_id)["performance"]
    assert [r["cumulative_s"] for r in rows] == [1.0, 2.5, 5.5]
    assert [r["yoy_change_pct"] for r in rows] == [None, pytest.approx(50.0), pytest.approx(100.0)]


# -- the decorator -----------------------------------------------------------------------------


@monitored("fct_yearly_events", kind="EVENT_GENERATION", year=lambda data, year: year)
def build_events(data, year):
    return [row for row in data if row[1] == year]


def test_the_decorator_records_into_the_current_run_with_rows_from_the_result(rig):
    data = [(i, 2025 + i % 3) for i in range(30)]
    with rig.run() as run:
        assert len(build_events(data, 2026)) == 10
    (result,) = run.results
    assert (result.component, result.year, result.rows_out, result.kind) == (
        "fct_yearly_events",
        2026,
        10,
        "EVENT_GENERATION",
    )
    assert history.load_run(rig.history, run.run_id)["run"]["options"]["component_kinds"] == {
        "fct_yearly_events": "EVENT_GENERATION"
    }


def test_outside_a_run_the_decorated_function_just_runs(rig):
    assert monitor.current_run() is None
    assert len(build_events([(1, 2025)], 2025)) == 1
    assert not rig.history.exists()


def test_the_decorator_counts_rows_only_when_cheap(rig):
    class Relation:  # what a DuckDB relation looks like to cheap_rows: never len()'d
        __module__ = "duckdb"

        def __len__(self):
            raise AssertionError("counting a relation would run its query again")

    class Frame:  # an in-memory frame from an eager library
        __module__ = "pandas.core.frame"

        def __len__(self):
            return 7

    assert monitor.cheap_rows(Relation()) is None
    assert monitor.cheap_rows(Frame()) == 7
    assert monitor.cheap_rows((1, 2)) == 2
    assert monitor.cheap_rows(iter([1])) is None
    assert monitor.cheap_rows({"a": 1}) is None

    @monitored("explicit", rows_out=lambda result: result["n"], rows_in=lambda n: n * 2)
    def step(n):
        return {"n": n}

    with rig.run() as run:
        step(21)
    (result,) = run.results
    assert (result.rows_in, result.rows_out) == (42, 21)


def test_async_functions_are_monitored(rig):
    @monitored("fetch", year=2030)
    async def fetch():
        rig.work(0.25)
        return [1, 2, 3]

    with rig.run() as run:
        assert asyncio.run(fetch()) == [1, 2, 3]
    (result,) = run.results
    assert (result.year, result.wall_s, result.rows_out) == (2030, 0.25, 3)


def test_coroutines_interleaving_in_one_thread_keep_no_cpu_time(rig):
    @monitored("fetch")
    async def fetch(name, started, other_started):
        started.set()
        await other_started.wait()  # both phases are open together, in one thread
        rig.work(0.5)
        return [name]

    async def both():
        a, b = asyncio.Event(), asyncio.Event()
        return await asyncio.gather(fetch("a", a, b), fetch("b", b, a))

    with rig.run() as run:
        asyncio.run(both())
    (result,) = run.results  # one component: the two entries are one figure
    assert sorted(result.parts) == [0.5, 1.0] and result.cpu_s is None  # b ran inside a
    assert result.regression.metric == "wall"


# -- threads -----------------------------------------------------------------------------------


def test_concurrent_phases_from_threads_each_get_their_own_figures_and_counters(tmp_path):
    """Four assets run at once (a barrier holds every phase open together), each on its own
    cursor scanning a table of its own size: rows out, status and DuckDB's exact counters stay
    with the phase that did the work. Real clocks: no figure here depends on timing."""
    con = duckdb.connect()
    sizes = {"a": 1000, "b": 2000, "c": 3000, "d": 4000}
    for name, size in sizes.items():
        con.execute(f"CREATE TABLE t_{name} AS SELECT range AS i FROM range({size})")
    barrier = threading.Barrier(len(sizes))
    errors: list[BaseException] = []

    @monitored("asset", year=lambda name, cursor: 2025 + "abcd".index(name))
    def asset(name, cursor):
        barrier.wait(timeout=30)
        rows = cursor.execute(f"SELECT i FROM t_{name} WHERE i >= 0").fetchall()
        barrier.wait(timeout=30)  # every phase is still open while the others count
        if name == "d":
            raise RuntimeError("asset d failed")
        return rows

    def worker(name, cursor):
        try:
            asset(name, cursor)
        except RuntimeError as exc:
            errors.append(exc)

    with monitor.run(
        "parallel", history=tmp_path / "h.duckdb", config=monitor.MonitorConfig()
    ) as run:
        cursors = {name: run.track(con.cursor()) for name in sizes}
        threads = [threading.Thread(target=worker, args=(n, cursors[n])) for n in sizes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    assert [str(e) for e in errors] == ["asset d failed"]
    by_year = {r.year: r for r in run.results}
    assert sorted(by_year) == [2025, 2026, 2027, 2028]
    for name, size in sizes.items():
        result = by_year[2025 + "abcd".index(name)]
        assert result.rows_scanned == size, name
        if name == "d":
            assert result.status == "failed" and result.rows_out is None
        else:
            assert (result.status, result.rows_out) == ("ok", size)
    stored = history.load_run(tmp_path / "h.duckdb", run.run_id)["performance"]
    assert [(r["year"], r["rows_scanned"]) for r in stored] == [
        (2025, 1000),
        (2026, 2000),
        (2027, 3000),
        (2028, 4000),
    ]


def test_a_phase_ending_while_another_threads_statement_runs_leaves_that_statement_alone(
    tmp_path,
):
    """Thread A's query is held inside DuckDB, reading a named pipe nobody has written yet,
    while thread B's phase ends: B's end must not read or drain A's connection (that would race
    A), and both phases still count exactly their own work. Opening the pipe for writing
    returns only once DuckDB has opened it for reading: the order is certain, nothing sleeps."""
    fifo = tmp_path / "rows.csv"
    os.mkfifo(fifo)
    con = duckdb.connect()
    con.execute("CREATE TABLE a AS SELECT range AS i FROM range(500)")
    con.execute("CREATE TABLE b AS SELECT range AS i FROM range(700)")
    failures: list[BaseException] = []
    query = (
        f"SELECT count(*) FROM read_csv('{fifo}', header=true, columns={{'i': 'BIGINT'}}) AS x "
        "JOIN a USING (i)"
    )
    counted: list[int] = []

    def thread_a(run, cursor):
        try:
            with run.phase("a", year=2025):
                counted.append(cursor.execute(query).fetchall()[0][0])
        except BaseException as exc:
            failures.append(exc)

    with monitor.run("held", history=tmp_path / "h.duckdb", config=monitor.MonitorConfig()) as run:
        a, b = run.track(con.cursor()), run.track(con.cursor())
        reader = threading.Thread(target=thread_a, args=(run, a))
        reader.start()
        with fifo.open("w") as pipe:  # returns once A's statement is inside DuckDB
            assert a.simperf_tracker.running_elsewhere()
            with run.phase("b", year=2025):
                b.execute("SELECT i FROM b WHERE i % 7 <> 100").fetchall()
            pipe.write("i\n1\n2\n3\n")
        reader.join(timeout=60)
    assert not failures and counted == [3]
    by_name = {r.component: r for r in run.results}
    assert by_name["b"].rows_scanned == 700 and by_name["b"].counters_note is None
    # 500 rows of table a and the pipe's 3, complete: read by A's own thread once it finished
    # (read from B's, DuckDB refuses: "connection is busy with another call")
    assert (by_name["a"].rows_scanned, by_name["a"].counters_note) == (503, None)


def test_a_worker_thread_finds_the_only_active_run_and_activate_picks_one_of_several(rig):
    @monitored("job")
    def job():
        rig.work(1.0)

    with rig.run() as run:
        worker = threading.Thread(target=job)
        worker.start()
        worker.join()
    assert [r.component for r in run.results] == ["job"]

    def in_two():
        with second.activate():
            job()

    with rig.run(name="one") as first, rig.run(name="two") as second:
        inside_two = threading.Thread(target=in_two)
        inside_two.start()
        inside_two.join()
        unclaimed = threading.Thread(target=job)  # two active runs: no guess, just runs
        unclaimed.start()
        unclaimed.join()
    assert first.results == [] and [r.component for r in second.results] == ["job"]


# -- history and configuration -----------------------------------------------------------------


def test_a_history_that_cannot_be_written_is_logged_not_raised(rig, tmp_path, caplog):
    folder = tmp_path / "a-folder.duckdb"
    folder.mkdir()
    with (
        caplog.at_level(logging.ERROR, logger="pytest_simperf.monitor"),
        monitor.run("x", history=folder, instruments=rig.instruments()) as run,
        run.phase("step"),
    ):
        rig.work(1.0)
    assert run.run_id is None
    assert "a-folder.duckdb" in run.history_error
    assert any("could not be written" in r.getMessage() for r in caplog.records)


def test_history_path_from_argument_env_config_or_beside_pyproject(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text("[tool.simperf.monitor]\nwindow = 7\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(monitor.HISTORY_ENV, raising=False)
    assert monitor.run("x").history_path == tmp_path / ".simperf" / "history.duckdb"
    monkeypatch.setenv(monitor.HISTORY_ENV, str(tmp_path / "env.duckdb"))
    assert monitor.run("x").history_path == tmp_path / "env.duckdb"
    assert monitor.run("x", history=tmp_path / "arg.duckdb").history_path == (
        tmp_path / "arg.duckdb"
    )
    monkeypatch.delenv(monitor.HISTORY_ENV)
    (tmp_path / "pyproject.toml").write_text('[tool.simperf.monitor]\nhistory = "h/p.duckdb"\n')
    assert monitor.run("x").history_path == tmp_path / "h" / "p.duckdb"


def test_config_is_read_from_the_same_keys_as_the_plugin(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        "[tool.pytest.ini_options]\n"
        'simperf_thresholds = "10,20,40"\n'
        'simperf_sla = ["int_hires = 30 warning=20"]\n'
        "[tool.simperf.sla]\n"
        "fct_yearly_events = 300\n"
        "[tool.simperf.monitor]\n"
        "window = 8\nmin_history = 4\nfail_on = 'critical'\n"
    )
    config = monitor.load_config(tmp_path)
    assert config.slas["fct_yearly_events"].seconds == 300
    assert config.slas["int_hires"].warning_seconds == 20
    assert (config.thresholds.minor, config.thresholds.critical) == (0.10, 0.40)
    assert (config.window, config.min_history, config.fail_on) == (8, 4, "CRITICAL")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.simperf.monitor]\nwindo = 3\n", r"unknown key\(s\) \['windo'\]"),
        ("[tool.simperf.monitor]\nwindow = 2\n", r"min_history \(3\) exceeds window \(2\)"),
        ("[tool.simperf.monitor]\nwindow = 0\n", "window must be a whole number ≥ 1"),
        ("[tool.simperf.monitor]\nfail_on = 'BAD'\n", "fail_on: expected one of"),
        ("[tool.simperf.monitor]\nthresholds = '5,3,1'\n", r"\[tool.simperf.monitor\] thresh"),
        ("[tool.simperf.sla]\nx = -1\n", r"\[tool.simperf.sla\] x"),
        ("[tool.simperf\n", "cannot parse TOML"),
    ],
)
def test_bad_config_is_one_clear_error_naming_the_file(tmp_path, text, message):
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(UsageError, match=message) as caught:
        monitor.load_config(tmp_path / "pyproject.toml")
    assert "pyproject.toml" in str(caught.value)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.phase(""), "component must be a non-empty name"),
        (lambda r: r.phase("a@b"), "without '@'"),
        (lambda r: r.phase("x", year="2027"), "year must be an int"),
        (lambda r: r.phase("x", rows_in=-1), "rows_in must be a whole number"),
        (lambda r: r.add("x", wall_s=float("nan")), "wall_s must be a finite number"),
    ],
)
def test_bad_calls_are_usage_errors_naming_the_call(rig, call, message):
    with rig.run() as run, pytest.raises(UsageError, match=message), call(run):
        pass


def test_rows_may_be_any_integer_type_and_a_bad_one_is_left_out_with_a_log_line(rig, caplog):
    class Int64:  # numpy's integers are not int, but are integers
        def __index__(self):
            return 12

    with rig.run() as run:
        with run.phase("a", rows_in=Int64()) as phase:
            phase.rows_out = Int64()
        with (
            caplog.at_level(logging.ERROR, logger="pytest_simperf.monitor"),
            run.phase("b") as phase,
        ):
            phase.rows_out = 2.5  # set inside the block: logged, the phase still recorded
    by_name = {r.component: r for r in run.results}
    assert (by_name["a"].rows_in, by_name["a"].rows_out) == (12, 12)
    assert by_name["b"].rows_out is None and by_name["b"].status == "ok"
    assert any("rows_out must be a whole number" in r.getMessage() for r in caplog.records)


def test_bad_run_arguments_are_usage_errors(rig):
    with pytest.raises(UsageError, match="name must be a non-empty string"):
        monitor.run("")
    with pytest.raises(UsageError, match="on_alert must be callable"):
        monitor.run("x", on_alert="pager")
    with pytest.raises(UsageError, match="is not running"), monitor.run("x").phase("y"):
        pass
    run = rig.run()
    with run:
        pass
    with pytest.raises(UsageError, match="is entered once"), run:
        pass


def test_importing_the_monitor_imports_neither_duckdb_pytest_nor_dbt():
    code = (
        "import sys; import pytest_simperf.monitor; "
        "print(sorted(m for m in ('duckdb', 'pytest', 'dbt') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
