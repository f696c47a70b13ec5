"""The first line of a perf failure says why: `-r` summaries, CI annotations and JUnit show it.

Through pytester for what pytest does with the line, directly for the pure helper.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from pytest_simperf.report.reasons import failure_headline

RECORDED = """
import os
import pytest

SCALE = float(os.environ.get("SIMPERF_TEST_SCALE", "1.0"))
BASE = [0.100, 0.102, 0.098, 0.101, 0.099, 0.103, 0.097]

@pytest.mark.sla(seconds=1)
def test_step(simperf):
    samples = [s * SCALE for s in BASE]
    simperf.record("step", year=2026, samples_s=samples, cpu_s=samples)
"""


def test_regression_reason_on_the_failed_line_and_in_junit(pytester, run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # pytest trims the `-r` line to the terminal width
    pytester.makepyfile(test_mod=RECORDED)
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "1.4")
    result = run("--simperf", "-rf", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    headline = "pytest-simperf: MAJOR step@2026 +40.0% cpu time"
    result.stdout.fnmatch_lines(
        [
            # The failure itself: the headline, then the full reasons as before.
            headline,
            "  MAJOR regression in step@2026: first run: cpu time median*",
            f"FAILED test_mod.py::test_step - {headline}",
        ]
    )
    (failure,) = ET.parse(pytester.path / "junit.xml").getroot().iter("failure")
    assert failure.get("message", "").startswith(headline)


def test_sla_breach_reason_on_the_failed_line(pytester, run, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.sla(seconds=2)
        def test_slow(simperf):
            simperf.record("load", samples_s=[2.1, 2.12, 2.08])
        """
    )
    result = run("--simperf", "-rf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_sla_breach_reason_on_the_failed_line.py::test_slow - "
            "pytest-simperf: SLA_BREACH load time 2.1 s > 2 s"
        ]
    )


def _phase(**fields):
    phase = {
        "name": "fct_yearly_events",
        "year": 2026,
        "severity": "OK",
        "sla_status": None,
        "time_severity": None,
        "instructions_severity": None,
        "counter_severity": None,
        "memory_severity": None,
    }
    phase.update(fields)
    return phase


def _report(*phases, fail_on="MINOR", status="compared"):
    return {"phases": list(phases), "fail_on": fail_on, "baseline_status": status}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {
                "severity": "MAJOR",
                "time_severity": "MAJOR",
                "change_pct": 38.84,
                "time_metric": "cpu",
            },
            "MAJOR fct_yearly_events@2026 +38.8% cpu time",
        ),
        (
            # Deterministic gates first: instructions decided even though time agrees.
            {
                "severity": "MINOR",
                "instructions_severity": "MINOR",
                "instructions_change_pct": 21.0,
                "time_severity": "MINOR",
                "change_pct": 17.0,
                "time_metric": "wall",
            },
            "MINOR fct_yearly_events@2026 +21.0% instructions",
        ),
        (
            {
                "severity": "CRITICAL",
                "counter_severity": "CRITICAL",
                "time_severity": "OK",
                "rows_scanned": 2000,
                "baseline_rows_scanned": 1000,
                "intermediate_rows": 10,
                "baseline_intermediate_rows": 10,
            },
            "CRITICAL fct_yearly_events@2026 +100.0% rows scanned",
        ),
        (
            {"severity": "MAJOR", "memory_severity": "MAJOR", "memory_change_pct": 60.0},
            "MAJOR fct_yearly_events@2026 +60.0% memory",
        ),
        (
            {
                "sla_status": "SLA_BREACH",
                "median_s": 0.5,
                "sla_seconds": 1.0,
                "peak_alloc_mb": 612.4,
                "sla_memory_mb": 500,
            },
            "SLA_BREACH fct_yearly_events@2026 memory 612 MB > 500 MB",
        ),
    ],
)
def test_headline_names_the_class_phase_change_and_metric(fields, expected):
    assert failure_headline(_report(_phase(**fields)), ["the full reason"]) == expected


def test_headline_follows_the_session_order_and_counts_the_rest():
    # One phase both over its SLA and slower than its baseline: the breach is listed first.
    both = _phase(
        name="load",
        year=None,
        sla_status="SLA_BREACH",
        median_s=3.0,
        sla_seconds=2.0,
        severity="MAJOR",
        time_severity="MAJOR",
        change_pct=35.0,
        time_metric="wall",
    )
    report = _report(both)
    assert failure_headline(report, ["breach", "regression"]) == (
        "SLA_BREACH load time 3 s > 2 s (+1 more)"
    )


def test_a_class_below_fail_on_or_while_recording_is_not_the_reason():
    minor = _phase(severity="MINOR", time_severity="MINOR", change_pct=20.0, time_metric="cpu")
    failures = ["baseline file baselines/x.json: not valid JSON\nline 2"]
    assert failure_headline(_report(minor, fail_on="MAJOR"), failures) == (
        "baseline file baselines/x.json: not valid JSON"
    )
    assert failure_headline(_report(minor, status="recorded"), failures).startswith("baseline file")
