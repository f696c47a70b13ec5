"""A row of the terminal table shows the figures its Δ% was computed from, with the clock named."""

from __future__ import annotations

from pytest_simperf.report.terminal import judged_seconds, render_summary


def _phase(**extra):
    phase = {
        "name": "measure",
        "year": None,
        "median_s": 0.0314,
        "baseline_median_s": 0.0452,  # wall, measured under load when the baseline was recorded
        "cpu_s": 0.031,
        "baseline_cpu_s": 0.024,
        "change_pct": 29.2,
        "time_metric": "cpu",
        "severity": "MINOR",
        "plan_changed": False,
        "sla_status": None,
        "peak_alloc_mb": 2.0,
    }
    return {**phase, **extra}


def _report(phase):
    return {
        "run": {
            "options": {
                "thresholds": [15, 30, 50],
                "fail_on": "MINOR",
                "rounds": 7,
                "quick": False,
                "update_baseline": False,
            },
            "duckdb_threads": 1,
        },
        "tests": [
            {
                "nodeid": "t.py::test_x",
                "outcome": "failed",
                "comparison": "same_machine",
                "comparison_reason": "same host",
                "growth": [],
                "phases": [phase],
            }
        ],
        "baselines": {},
    }


def test_cpu_judged_rows_show_cpu_medians_not_wall():
    assert judged_seconds(_phase()) == ("cpu", 0.031, 0.024)
    text = render_summary(_report(_phase()))
    row = next(line for line in text.splitlines() if line.startswith("t.py::test_x"))
    assert row.split()[2:6] == ["cpu", "31.0ms", "24.0ms", "+29.2%"]
    assert "45.2ms" not in text


def test_wall_judged_or_unjudged_rows_show_wall():
    assert judged_seconds(_phase(time_metric="wall")) == ("wall", 0.0314, 0.0452)
    assert judged_seconds(_phase(time_metric=None, cpu_s=None)) == ("wall", 0.0314, 0.0452)
