"""A row of the terminal table shows the figures its Δ% was computed from, with the metric named."""

from __future__ import annotations

from pytest_simperf.report.terminal import judged_cells, render_summary


def _phase(**extra):
    phase = {
        "name": "measure",
        "year": None,
        "median_s": 0.0314,
        "baseline_median_s": 0.0452,  # wall, measured under load when the baseline was recorded
        "cpu_s": 0.031,
        "baseline_cpu_s": 0.024,
        "metric": "cpu",
        "value": 0.031,
        "baseline_value": 0.024,
        "change_pct": 29.2,
        "time_metric": "cpu",
        "severity": "MINOR",
        "plan_changed": False,
        "sla_status": None,
        "peak_alloc_mb": 2.0,
    }
    return {**phase, **extra}


def _row(phase, summary_report):
    test = {
        "nodeid": "t.py::test_x",
        "outcome": "failed",
        "comparison": "same_machine",
        "comparison_reason": "same host",
        "growth": [],
        "phases": [phase],
    }
    text = render_summary(summary_report([test]))
    return next(line for line in text.splitlines() if line.startswith("t.py::test_x")).split()


def test_cpu_judged_rows_show_cpu_medians_then_wall_as_secondary(summary_report):
    assert judged_cells(_phase()) == ("cpu", "31.0ms", "24.0ms")
    row = _row(_phase(), summary_report)
    assert row[2:6] == ["cpu", "31.0ms", "24.0ms", "+29.2%"]
    assert row[8] == "31.4ms"  # wall time, secondary
    assert "45.2ms" not in row  # the wall baseline is not what Δ% compares


def test_instruction_judged_rows_show_counts(summary_report):
    phase = _phase(
        metric="instructions", value=2_400_000.0, baseline_value=2_000_000.0, change_pct=20.0
    )
    assert _row(phase, summary_report)[2:6] == ["instructions", "2,400,000", "2,000,000", "+20.0%"]


def test_rows_recorded_before_the_metric_was_named_fall_back_to_the_clock():
    old = _phase(metric=None, value=None, baseline_value=None)
    assert judged_cells(old) == ("cpu", "31.0ms", "24.0ms")
    assert judged_cells({**old, "time_metric": "wall"}) == ("wall", "31.4ms", "45.2ms")
    assert judged_cells({**old, "time_metric": None, "cpu_s": None}) == ("wall", "31.4ms", "45.2ms")
