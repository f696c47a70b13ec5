"""Which figure a phase's class rests on (verdict.gate_figures), and that Δ% is its change."""

from __future__ import annotations

import pytest

from pytest_simperf.calibration import MachineComparison
from pytest_simperf.markers import TestOptions
from pytest_simperf.results import PhaseRecord
from pytest_simperf.stats import Thresholds
from pytest_simperf.verdict import judge_phase

SAME = MachineComparison("same_machine", 1.0, 0.0, "same machine")
OTHER = MachineComparison("other_machine", 1.0, 0.0, "another host", memory=False)
OPTIONS = TestOptions(Thresholds(), Thresholds(0.25, 0.5, 1.0), "MINOR", 7, 1)
WALL = [1.0, 1.01, 0.99, 1.0, 1.02, 0.98, 1.0]
CPU = [0.9 * x for x in WALL]
ENV = {"python": "3.11", "duckdb": "1.1", "threads": "1"}


def _baseline(**extra):
    return {
        "median_s": 1.0,
        "samples_s": WALL,
        "cpu_s": 0.9,
        "cpu_samples_s": CPU,
        "session_cpu_medians": [0.9, 0.9, 0.9],
        "session_cpu_spread": 0.0,
        **extra,
    }


def _judge(record, baseline, comparability=SAME, env=None):
    verdict = judge_phase(
        record,
        baseline,
        options=OPTIONS,
        sla=None,
        comparability=comparability,
        threads_match=True,
        instruction_env=env,
    )
    return verdict, verdict.to_json()


def _check_consistent(entry):
    if entry["baseline_value"]:
        assert entry["change_pct"] == pytest.approx(
            (entry["value"] / entry["baseline_value"] - 1) * 100
        )


def test_cpu_bound_time_regression_is_judged_on_cpu_time():
    # wall time doubled (a neighbour's load), CPU time +60%: the class is CPU time's
    record = PhaseRecord("p", None, [2 * x for x in WALL], cpu_s=[1.6 * x for x in CPU])
    verdict, entry = _judge(record, _baseline())
    assert verdict.severity == "CRITICAL"
    assert (entry["metric"], entry["severity"]) == ("cpu", "CRITICAL")
    assert entry["value"] == pytest.approx(1.44) and entry["baseline_value"] == pytest.approx(0.9)
    assert entry["change_pct"] == pytest.approx(60.0)
    _check_consistent(entry)


def test_a_plan_change_names_the_counter_that_moved():
    record = PhaseRecord(
        "p", None, list(WALL), cpu_s=list(CPU), rows_scanned=1000, intermediate_rows=900
    )
    verdict, entry = _judge(record, _baseline(rows_scanned=1000, intermediate_rows=300))
    assert verdict.severity == "CRITICAL"  # intermediate rows ×3; time unchanged
    assert (entry["metric"], entry["value"], entry["baseline_value"]) == (
        "intermediate_rows",
        900,
        300,
    )
    assert entry["change_pct"] == pytest.approx(200.0)


def test_instructions_come_before_time_when_both_give_the_class():
    record = PhaseRecord(
        "p", None, [1.8 * x for x in WALL], cpu_s=[1.8 * x for x in CPU], instructions=1_900_000
    )
    baseline = _baseline(instructions=1_000_000, instructions_env=ENV)
    verdict, entry = _judge(record, baseline, env=ENV)
    assert verdict.severity == "CRITICAL" and verdict.time is not None
    assert verdict.time.severity == "CRITICAL"
    assert entry["metric"] == "instructions"
    assert entry["change_pct"] == pytest.approx(90.0)
    assert entry["time_change_pct"] == pytest.approx(80.0)  # kept as a secondary figure


def test_ok_phases_name_time_where_gated_and_counters_elsewhere():
    record = PhaseRecord("p", None, list(WALL), cpu_s=list(CPU), rows_scanned=1000)
    _, entry = _judge(record, _baseline(rows_scanned=1000))
    assert (entry["severity"], entry["metric"]) == ("OK", "cpu")
    _check_consistent(entry)
    # on another host time is reported, not judged: the counters decided
    far = PhaseRecord(
        "p", None, [3 * x for x in WALL], cpu_s=[3 * x for x in CPU], rows_scanned=1000
    )
    _, entry = _judge(far, _baseline(rows_scanned=1000), comparability=OTHER)
    assert (entry["severity"], entry["metric"], entry["change_pct"]) == ("OK", "rows_scanned", 0.0)
    assert entry["time_gated"] is False and entry["time_change_pct"] == pytest.approx(200.0)


def test_no_baseline_names_wall_time_without_a_change():
    _, entry = _judge(PhaseRecord("p", None, list(WALL), cpu_s=list(CPU)), None)
    assert (entry["severity"], entry["metric"], entry["value"]) == ("NEW", "wall", 1.0)
    assert entry["baseline_value"] is None and entry["change_pct"] is None
