"""Noise notes: one per component, years collapsed, advice that matches what the data shows."""

from __future__ import annotations

import pytest

from pytest_simperf.report.terminal import noise_notes, render_summary
from pytest_simperf.stats import Thresholds, compare_times, noise_tips

T = Thresholds()
YEARS = range(2025, 2030)


def _phase(name, year, margin, tips, *, gated=True):
    return {
        "name": name,
        "year": year,
        "too_noisy": True,
        "time_gated": gated,
        "noise_margin_pct": margin,
        "noise_tips": list(tips),
        "advice": f"noise alone can move this measurement by ±{margin:.0f}% …",
    }


def test_one_line_per_component_with_its_years_and_margin_range():
    tips = noise_tips(within=0.01, drift=0.07, n_min=7, current_s=0.3, sessions=1)
    phases = [_phase("fct_yearly_events", y, 18 + i, tips) for i, y in enumerate(YEARS)]
    phases += [_phase("int_hires", 2026, 16.2, tips), _phase("int_hires", 2028, 16.4, tips)]
    lines = noise_notes([{"nodeid": "t.py::test_sim", "phases": phases}], 15)
    assert len(lines) == 2
    events, hires = lines
    assert events.startswith("noisy   t.py::test_sim fct_yearly_events@2025–2029: ")
    assert "±18–22%" in events
    assert events.endswith("or raise the MINOR threshold to at least 22%")
    assert events.count("pool more recording sessions") == 1
    assert hires.startswith("noisy   t.py::test_sim int_hires@2026,2028: ")
    assert "±16%, more than the MINOR threshold 15%" in hires


def test_pooled_baselines_are_not_told_to_pool_more():
    for sessions in (3, 5):
        tips = noise_tips(within=0.01, drift=0.07, n_min=21, current_s=0.3, sessions=sessions)
        text = " ".join(tips)
        assert "pool more" not in text and "--simperf-add-baseline-session" not in text
        assert f"measured over the {sessions} recording sessions already pooled" in text
        assert "--simperf-instructions" in text
    # two sessions: the drift is still the assumed prior (it is measured from three), and the
    # note says so, naming the one session that would replace the assumption
    two = " ".join(noise_tips(within=0.01, drift=0.07, n_min=21, current_s=0.3, sessions=2))
    assert "still assumed" in two and "the baseline pools 2" in two
    assert "one more `pytest --simperf-add-baseline-session`" in two
    assert "pool more recording sessions" not in two
    single = " ".join(noise_tips(within=0.01, drift=0.07, n_min=7, current_s=0.3, sessions=1))
    assert "pool more recording sessions" in single


def test_within_run_jitter_on_short_rounds_says_so():
    tips = " ".join(noise_tips(within=0.09, drift=0.07, n_min=5, current_s=0.004, sessions=3))
    assert "jitter between the rounds" in tips
    assert "longer" in tips and "raise the rounds (now 5" in tips
    assert "pool" not in tips and "sessions" not in tips


def test_compare_times_advice_follows_the_sessions_pooled():
    base = [0.100, 0.101, 0.099, 0.100, 0.102, 0.098, 0.100]
    cur = [0.110, 0.111, 0.109, 0.110, 0.112, 0.108, 0.110]
    one = compare_times(base, cur, thresholds=T, history_spread=0.08, sessions=1)
    three = compare_times(base, cur, thresholds=T, history_spread=0.08, sessions=3)
    assert one.too_noisy and three.too_noisy
    assert "--simperf-add-baseline-session" in (one.advice or "")
    assert "--simperf-add-baseline-session" not in (three.advice or "")
    assert three.tips and (three.advice or "").endswith(
        f"or raise the MINOR threshold to at least {int(three.margin_pct) + 1}%"
    )


def test_phases_not_time_gated_here_get_no_time_advice():
    tips = noise_tips(within=0.01, drift=0.07, n_min=7, current_s=0.3, sessions=1)
    phases = [_phase("step", y, 20, tips, gated=False) for y in YEARS]
    assert noise_notes([{"nodeid": "t.py::test_x", "phases": phases}], 15) == []


@pytest.mark.parametrize("years", [[None], [2025]])
def test_render_summary_prints_the_grouped_note(years, summary_report):
    tips = noise_tips(within=0.01, drift=0.07, n_min=7, current_s=0.3, sessions=1)
    phases = [
        {
            **_phase("step", y, 20, tips),
            "median_s": 0.3,
            "change_pct": 1.0,
            "severity": "OK",
            "plan_changed": False,
            "sla_status": None,
            "peak_alloc_mb": None,
        }
        for y in years
    ]
    report = summary_report(
        [
            {
                "nodeid": "t.py::test_x",
                "outcome": "passed",
                "comparison": "same_machine",
                "growth": [],
                "phases": phases,
            }
        ]
    )
    noisy = [line for line in render_summary(report).splitlines() if line.startswith("noisy")]
    assert len(noisy) == 1
    assert noisy == noise_notes(report["tests"], 15)


def test_phases_unclassed_by_rule_share_one_line_per_test():
    """A dbt test's rebuild phases (two samples a side) get no time class by rule: forty
    separate noise notes would bury the real ones, so they are counted on one line."""
    rule = "time classes need 5 samples a side (rounds=5)"
    phases = [
        {**_phase(f"model_{i}:rebuild", 2027, 50 + i, (rule,)), "time_unclassed": rule}
        for i in range(12)
    ]
    tips = noise_tips(within=0.01, drift=0.07, n_min=7, current_s=0.3, sessions=1)
    phases.append(_phase("fct_yearly_events", 2026, 19, tips))
    lines = noise_notes([{"nodeid": "t.py::test_dbt", "phases": phases}], 15)
    assert len(lines) == 2
    timing, noisy = lines
    assert timing == (
        "timing  t.py::test_dbt: 12 phases timed but not classed on time: "
        f"{rule}; DuckDB's exact counters and memory still gate them"
    )
    assert noisy.startswith("noisy   t.py::test_dbt fct_yearly_events@2026: ")


def test_verdict_marks_few_sample_phases_unclassed():
    from pytest_simperf import verdict
    from pytest_simperf.stats import TimeComparison

    first = TimeComparison(
        severity="MAJOR",
        ratio=1.4,
        change_pct=40.0,
        p_value=None,
        noise_pct=5.0,
        borderline=False,
        too_noisy=False,
        advice=None,
        why="median 0.14 s vs baseline 0.10 s",
    )

    class Record:
        rows_scanned = 10

    out = verdict._unclassed_few_samples(first, Record(), {"rows_scanned": 10}, 5)  # type: ignore[arg-type]
    assert out.severity == "OK"
    assert out.unclassed == "time classes need 5 samples a side (rounds=5)"
    assert "DuckDB's exact counters gate it" in out.why
