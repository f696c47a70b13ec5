"""`simperf trend` and `simperf compare` follow the gate's metric, not wall time.

The two cases of issue 15, item 6, as histories: on a loaded machine wall time jumps for
identical code (compare called it "+124.7% CRITICAL"), and a real CPU-time slowdown over the last
four of eleven runs hid behind one wall-time spike (trend said "stable").
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from pytest_simperf import history
from pytest_simperf.cli import main

T0 = datetime(2026, 11, 2, 8, 0, 0)
ONE = {"step": 0.2}
ONE_TEST = ("tests/perf/test_pipeline.py::test_steps",)
YEARS = (2025, 2026)


def _record(path, make_report, i, *, wall=1.0, cpu=1.0, metric="cpu", seed=None):
    """Run ``i``: true work ×``cpu``; wall time ×``wall`` on top (a neighbour's load)."""
    report = make_report(
        started_at=T0 + timedelta(hours=i),
        seed=i if seed is None else seed,
        noise=0.01,
        tests=ONE_TEST,
        components=ONE,
        years=YEARS,
        slas={},
        metric=metric,
        factor=lambda n, c, y: wall * cpu,
        cpu_factor=lambda n, c, y: 1 / wall,
    )
    return history.record_run(path, report)


def test_compare_of_identical_code_under_load_is_ok_on_cpu_time(tmp_path, make_report, capsys):
    path = tmp_path / "h.duckdb"
    quiet = _record(path, make_report, 0, seed=1)
    loaded = _record(path, make_report, 1, wall=2.247, seed=1)
    result = history.compare_runs(path, quiet, loaded)
    for phase in result["phases"]:
        assert phase["metric"] == "cpu" and phase["metric_recorded"]
        assert phase["class"] == "OK"
        assert phase["change_pct"] == pytest.approx(0.0, abs=1e-6)
        assert phase["wall_change_pct"] == pytest.approx(124.7, abs=0.1)  # secondary, shown
    assert main(["compare", quiet, loaded, "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert "CRITICAL" not in out
    assert out.count(" cpu ") == len(YEARS)
    assert "+124.7%" in out  # the wall change, in its own column


def test_trend_finds_the_cpu_slowdown_a_wall_spike_hid(tmp_path, make_report, capsys):
    path = tmp_path / "h.duckdb"
    ids = []
    for i in range(11):
        ids.append(
            _record(path, make_report, i, wall=3.0 if i == 5 else 1.0, cpu=1.6 if i >= 7 else 1.0)
        )
    rows = history.trend(path)
    assert len(rows) == len(YEARS)
    for row in rows:
        assert row["metric"] == "cpu"
        assert row["trend"] == "degrading"
        assert row["step"]["run_id"] == ids[7], row["why"]
        assert row["step"]["change_pct"] == pytest.approx(60, abs=5)
    assert main(["trend", "--history", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{len(YEARS)} series: {len(YEARS)} degrading" in out
    assert f"at run {ids[7]}" in out


def test_rows_from_before_the_metric_fall_back_to_cpu_then_wall(tmp_path, make_report):
    path = tmp_path / "h.duckdb"
    a = _record(path, make_report, 0, metric=None, seed=1)
    b = _record(path, make_report, 1, metric=None, wall=2.0, seed=1)
    (first, *_) = history.compare_runs(path, a, b)["phases"]
    assert (first["metric"], first["metric_recorded"], first["class"]) == ("cpu", False, "OK")
    for row in history.trend(path):
        assert row["metric"] == "cpu"

    # without CPU time recorded: wall time, and said so
    report = make_report(
        started_at=T0 + timedelta(hours=5), tests=ONE_TEST, components=ONE, years=YEARS, metric=None
    )
    for phase in report["tests"][0]["phases"]:
        phase["cpu_s"] = None
    c = history.record_run(path, report)
    (first, *_) = history.compare_runs(path, b, c)["phases"]
    assert (first["metric"], first["metric_recorded"]) == ("wall", False)
    assert first["change_pct"] == pytest.approx(first["wall_change_pct"])
    assert {row["metric"] for row in history.trend(path)} == {"wall"}


def test_a_series_follows_its_latest_judged_metric(tmp_path, make_report):
    """A plan change makes rows scanned the judged figure: the series follows it end to end."""
    path = tmp_path / "h.duckdb"
    for i in range(8):
        report = make_report(
            started_at=T0 + timedelta(hours=i),
            seed=i,
            tests=ONE_TEST,
            components=ONE,
            years=(None,),
            slas={},
        )
        (phase,) = report["tests"][0]["phases"]
        scanned = 30_000 if i < 6 else 90_000
        phase.update(rows_scanned=scanned, baseline_rows_scanned=30_000)
        if i >= 6:
            phase.update(
                metric="rows_scanned", value=scanned, baseline_value=30_000, change_pct=200.0
            )
        history.record_run(path, report)
    (row,) = history.trend(path)
    assert row["metric"] == "rows_scanned"
    assert (row["min"], row["max"], row["latest"]) == (30_000, 90_000, 90_000)


def test_report_of_a_run_from_before_the_metric_says_which_clock_it_shows(
    tmp_path, make_report, capsys
):
    path = tmp_path / "h.duckdb"
    run_id = _record(path, make_report, 0, metric=None)
    assert main(["report", run_id, "--history", str(path)]) == 0
    out = capsys.readouterr().out
    phases = [line for line in out.splitlines() if "step@" in line]
    assert len(phases) == len(YEARS)
    assert all(" cpu* " in line for line in phases), out
    assert "* recorded before the history named the judged metric" in out
