"""Verdict rules on hand-made records: SLA status/category, counters, memory, multi-year."""

from __future__ import annotations

import pytest

from pytest_simperf.calibration import MachineComparison
from pytest_simperf.markers import EffectiveSla, TestOptions
from pytest_simperf.multiyear import annotate_years, summarize_test
from pytest_simperf.results import PhaseRecord
from pytest_simperf.stats import Thresholds
from pytest_simperf.verdict import fails, judge_phase, judge_sla

SAME = MachineComparison("same_machine", 1.0, 0.0, "same machine")
OPTIONS = TestOptions(Thresholds(), Thresholds(0.25, 0.5, 1.0), "MINOR", 7, 1)


def sla(seconds=None, memory_mb=None, rows_per_second=None, warning=0.8):
    return EffectiveSla(
        seconds=seconds,
        warning_seconds=None if seconds is None else seconds * warning,
        memory_mb=memory_mb,
        warning_memory_mb=None if memory_mb is None else memory_mb * warning,
        rows_per_second=rows_per_second,
        warning=warning,
        source="test",
    )


@pytest.mark.parametrize(
    ("median", "status", "category"),
    [
        (0.4, "WITHIN_SLA", "EXCELLENT"),
        (0.5, "WITHIN_SLA", "EXCELLENT"),
        (0.7, "WITHIN_SLA", "GOOD"),
        (0.85, "SLA_WARNING", "POOR"),
        (1.0, "SLA_WARNING", "POOR"),
        (1.2, "SLA_BREACH", "CRITICAL"),
    ],
)
def test_sla_status_and_category(median, status, category):
    result = judge_sla(PhaseRecord("p", None, [median]), sla(seconds=1.0))
    assert (result.status, result.category) == (status, category)
    assert bool(result.reasons) == (status == "SLA_BREACH")


def test_memory_and_throughput_slas():
    record = PhaseRecord("p", None, [1.0], start_rss_mb=100, peak_rss_mb=700, rows=1000)
    assert judge_sla(record, sla(memory_mb=500)).status == "SLA_BREACH"
    assert judge_sla(record, sla(memory_mb=1000)).category == "GOOD"
    assert judge_sla(record, sla(rows_per_second=2000)).status == "SLA_BREACH"
    assert judge_sla(record, sla(rows_per_second=500)).status == "WITHIN_SLA"
    assert judge_sla(record, None).status is None


def _baseline(**extra):
    return {"median_s": 1.0, "samples_s": [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0], **extra}


def test_no_baseline_is_new():
    verdict = judge_phase(
        PhaseRecord("p", None, [1.0]),
        None,
        options=OPTIONS,
        sla=None,
        comparability=SAME,
        threads_match=True,
    )
    assert verdict.severity == "NEW" and "--simperf-update-baseline" in verdict.why


def test_counters_gate_exactly_even_when_time_is_unchanged():
    record = PhaseRecord(
        "p", None, [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0], rows_scanned=101, intermediate_rows=10
    )
    base = _baseline(rows_scanned=100, intermediate_rows=10)
    verdict = judge_phase(
        record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
    )
    assert verdict.plan_changed and verdict.counter_severity == "MINOR"
    assert verdict.severity == "MINOR" and "rows scanned 100 → 101" in verdict.why
    # Not compared when DuckDB ran with other threads.
    other = judge_phase(
        record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=False
    )
    assert not other.plan_changed and other.counter_severity is None
    fewer = PhaseRecord("p", None, list(base["samples_s"]), rows_scanned=50, intermediate_rows=10)
    assert (
        judge_phase(
            fewer, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
        ).severity
        == "IMPROVED"
    )


def test_memory_regressions_use_their_own_thresholds_and_a_floor():
    samples = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]
    base = _baseline(peak_alloc_mb=200.0)

    def judge(alloc):
        record = PhaseRecord("p", None, samples, start_rss_mb=0.0, peak_rss_mb=alloc)
        return judge_phase(
            record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
        )

    assert judge(240).memory_severity == "OK"  # +20% < 25% memory MINOR
    assert judge(260).memory_severity == "MINOR"
    assert judge(320).memory_severity == "MAJOR"
    assert judge(420).memory_severity == "CRITICAL"
    small = {**base, "peak_alloc_mb": 10.0}
    record = PhaseRecord("p", None, samples, start_rss_mb=0.0, peak_rss_mb=40.0)
    assert (
        judge_phase(
            record, small, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
        ).memory_severity
        == "OK"
    )  # under the 32 MB floor
    big = PhaseRecord("p", None, samples, start_rss_mb=1000.0, peak_rss_mb=1290.0)
    assert (
        judge_phase(
            big, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
        ).memory_severity
        == "OK"
    )  # +90 MB is under 10% of a 1 GB process


# What instruction counts depend on (valgrind.instruction_env); the host is not part of it.
ENV = {
    "allocator": "malloc",
    "arch": "x86_64",
    "isa": "v3",
    "python": "CPython 3.11",
    "python_build": "b",
    "duckdb": "2.0.1",
    "duckdb_threads": "1",
}
OTHER = MachineComparison(
    "other_machine", 1.0, 0.0, "baselines recorded on another host", memory=False
)


def test_time_from_another_host_is_reported_not_judged():
    # x2 slower here than the baseline's host: a slower laptop, not a regression to claim.
    record = PhaseRecord("p", None, [5.0] * 7, start_rss_mb=100.0, peak_rss_mb=900.0)
    verdict = judge_phase(
        record, _baseline(), options=OPTIONS, sla=None, comparability=OTHER, threads_match=True
    )
    assert verdict.time is None and verdict.severity == "OK"
    assert verdict.time_info is not None and verdict.time_info.change_pct > 100
    data = verdict.to_json()
    assert data["time_gated"] is False
    assert data["change_pct"] == pytest.approx(verdict.time_info.change_pct)
    assert data["memory_severity"] is None  # process memory is not judged across hosts
    assert "time not judged (another host)" in verdict.why


def test_counters_and_instructions_still_gate_across_hosts():
    env = ENV
    base = {**_baseline(), "rows_scanned": 1000, "instructions": 1_000_000, "instructions_env": env}
    record = PhaseRecord("p", None, [5.0] * 7, rows_scanned=1000, instructions=1_400_000)
    verdict = judge_phase(
        record,
        base,
        options=OPTIONS,
        sla=None,
        comparability=OTHER,
        threads_match=True,
        instruction_env=env,
    )
    assert verdict.severity == "MAJOR"
    data = verdict.to_json()
    assert data["instructions_severity"] == "MAJOR"
    assert data["instructions_change_pct"] == pytest.approx(40.0)
    assert data["baseline_instructions"] == 1_000_000
    assert verdict.why.startswith("instructions 1,000,000 → 1,400,000 (+40.0%)")


def test_instructions_from_another_duckdb_are_not_compared():
    env = ENV
    base = {**_baseline(), "instructions": 1_000_000, "instructions_env": env}
    record = PhaseRecord("p", None, [1.0] * 7, instructions=3_000_000)
    verdict = judge_phase(
        record,
        base,
        options=OPTIONS,
        sla=None,
        comparability=SAME,
        threads_match=True,
        instruction_env={**env, "duckdb": "2.1.0"},
    )
    assert verdict.instructions.severity is None
    assert verdict.severity == "OK"
    assert "duckdb 2.0.1 → 2.1.0" in verdict.why


def test_single_short_run_cannot_carry_a_timing_verdict():
    record = PhaseRecord("p", None, [0.003])
    verdict = judge_phase(
        record,
        {"median_s": 0.001, "samples_s": [0.001]},
        options=OPTIONS,
        sla=None,
        comparability=SAME,
        threads_match=True,
    )
    assert verdict.severity == "OK" and verdict.time.too_noisy


@pytest.mark.parametrize(
    ("severity", "fail_on", "expected"),
    [
        ("MINOR", "MINOR", True),
        ("MINOR", "MAJOR", False),
        ("CRITICAL", "never", False),
        ("IMPROVED", "MINOR", False),
        ("NEW", "MINOR", False),
        ("MAJOR", "MAJOR", True),
    ],
)
def test_fails(severity, fail_on, expected):
    assert fails(severity, fail_on) is expected


def _phase(name, year, median, rss):
    return {
        "name": name,
        "year": year,
        "median_s": median,
        "peak_rss_mb": rss,
        "sla_status": None,
        "sla_category": None,
    }


def test_year_over_year_cumulative_and_growth_flags():
    phases = [
        _phase("events", 2025 + i, t, m)
        for i, (t, m) in enumerate([(1.0, 100), (1.1, 115), (1.25, 130), (1.4, 150), (1.6, 170)])
    ]
    phases.append(_phase("flat", 2025, 1.0, 100))
    flags = annotate_years(phases, growth_pct=10.0)
    assert phases[1]["yoy_change_pct"] == pytest.approx(10.0)
    assert phases[4]["cumulative_s"] == pytest.approx(6.35)
    assert phases[1]["yoy_memory_change_pct"] == pytest.approx(15.0)
    assert {(f["metric"], f["flag"]) for f in flags} == {
        ("time", "rising_every_year"),
        ("memory", "growing"),
    }


def test_noisy_flat_years_are_not_flagged():
    times = [1.0, 1.03, 0.98, 1.02, 0.99]
    phases = [_phase("events", 2025 + i, t, 100 + i) for i, t in enumerate(times)]
    assert annotate_years(phases, growth_pct=10.0) == []


def test_summary():
    phases = [_phase("a", None, 1.0, 1), _phase("b", 2025, 3.0, 1), _phase("b", 2026, 2.0, 1)]
    phases[1]["sla_status"], phases[1]["sla_category"] = "SLA_BREACH", "CRITICAL"
    summary = summarize_test(phases, slowest=2)
    assert summary == {
        "total_s": 6.0,
        "sla_breaches": 1,
        "poor_or_critical": ["b"],
        "slowest": ["b@2025", "b@2026"],
    }


WALL = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]


def test_cpu_bound_regions_are_judged_on_cpu_time():
    base = {"median_s": 1.0, "samples_s": WALL, "cpu_samples_s": [w * 0.9 for w in WALL]}
    # A neighbour's load: wall time ×1.6, the process's own CPU time unchanged.
    contended = PhaseRecord("p", None, [w * 1.6 for w in WALL], cpu_s=[w * 0.9 for w in WALL])
    verdict = judge_phase(
        contended, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
    )
    assert verdict.severity == "OK"
    assert verdict.to_json()["time_metric"] == "cpu"
    assert verdict.why.startswith("cpu time")
    slower = PhaseRecord("p", None, [w * 1.6 for w in WALL], cpu_s=[w * 1.26 for w in WALL])
    assert (
        judge_phase(
            slower, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
        ).severity
        == "MAJOR"
    )


def test_waiting_regions_are_judged_on_wall_time():
    base = {"median_s": 1.0, "samples_s": WALL, "cpu_samples_s": [w * 0.1 for w in WALL]}
    record = PhaseRecord("p", None, [w * 1.6 for w in WALL], cpu_s=[w * 0.1 for w in WALL])
    verdict = judge_phase(
        record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
    )
    assert verdict.to_json()["time_metric"] == "wall"
    assert verdict.severity == "CRITICAL"


def test_a_region_recorded_under_load_is_still_called_cpu_bound():
    # Recorded at a load of 5 on 2 cores: CPU is 40% of wall, the rest was spent queued for a
    # core. Subtracting the run-queue wait shows the region never waited for anything else.
    base = {
        "median_s": 1.0,
        "samples_s": WALL,
        "cpu_samples_s": [w * 0.4 for w in WALL],
        "runq_wait_s": 0.58,
    }
    record = PhaseRecord("p", None, [w * 1.3 for w in WALL], cpu_s=[w * 0.4 for w in WALL])
    verdict = judge_phase(
        record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
    )
    assert verdict.to_json()["time_metric"] == "cpu"
    assert verdict.severity == "OK"
    # Without the run-queue figure the same baseline reads as a waiting region.
    base.pop("runq_wait_s")
    assert (
        judge_phase(
            record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
        ).to_json()["time_metric"]
        == "wall"
    )


CPU = [0.100, 0.101, 0.099, 0.100, 0.102, 0.098, 0.100]


def _cpu_baseline(session_medians):
    from pytest_simperf.baseline import _relative_spread

    return {
        "median_s": 0.1,
        "samples_s": CPU,
        "cpu_samples_s": CPU,
        "session_cpu_medians": session_medians,
        "session_cpu_spread": _relative_spread(session_medians),
    }


def _judge_cpu(base, factor):
    record = PhaseRecord("p", None, [c * factor for c in CPU], cpu_s=[c * factor for c in CPU])
    return judge_phase(
        record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
    )


def test_one_recording_session_assumes_drift_between_sessions():
    # +16%: past MINOR and significant within the session, but a single recording session
    # cannot tell it from the drift of a session's median (assumed ±5%).
    single = _cpu_baseline([0.1])
    verdict = _judge_cpu(single, 1.16)
    assert verdict.severity == "OK"
    assert "drift ±5.0% assumed: 1 recording session" in verdict.why
    assert verdict.time is not None and verdict.time.too_noisy
    assert "--simperf-add-baseline-session" in (verdict.time.advice or "")
    assert _judge_cpu(single, 1.26).severity == "MINOR"
    assert _judge_cpu(single, 1.6).severity == "CRITICAL"


def test_pooled_sessions_that_agree_narrow_the_margin():
    steady = _cpu_baseline([0.1, 0.1005, 0.0995, 0.1002, 0.0998])
    verdict = _judge_cpu(steady, 1.2)
    assert verdict.severity == "MINOR"
    assert "from 5 sessions" in verdict.why
    single = _judge_cpu(_cpu_baseline([0.1]), 1.2).time
    assert verdict.time is not None and single is not None
    assert verdict.time.margin_pct < single.margin_pct - 4
    # Sessions that disagree widen it beyond the prior.
    unsteady = _cpu_baseline([0.1, 0.11, 0.09, 0.105, 0.095])
    assert _judge_cpu(unsteady, 1.22).severity == "OK"
