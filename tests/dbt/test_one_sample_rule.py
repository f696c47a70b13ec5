"""No class from one dbt sample: a dbt phase's time is classed only with enough samples a side;
its exact counters always gate."""

from __future__ import annotations

import pytest

from pytest_simperf.calibration import MachineComparison
from pytest_simperf.dbt.plugin import TIME_MIN_SAMPLES
from pytest_simperf.markers import TestOptions
from pytest_simperf.results import PhaseRecord
from pytest_simperf.stats import Thresholds
from pytest_simperf.verdict import judge_phase, wants_confirmation

SAME = MachineComparison("same_machine", 1.0, 0.0, "same machine")
OPTIONS = TestOptions(Thresholds(), Thresholds(0.25, 0.5, 1.0), "MINOR", 7, 1)
DBT_META = {"source": "dbt", "time_min_samples": TIME_MIN_SAMPLES}


def model(samples, rows_scanned=1000, meta=DBT_META):
    return PhaseRecord(
        "stg_config",
        2026,
        list(samples),
        source="record",
        rows_scanned=rows_scanned,
        intermediate_rows=None if rows_scanned is None else 2 * rows_scanned,
        meta=dict(meta),
    )


def baseline(samples, sessions=1, rows_scanned=1000):
    entry = {
        "median_s": sorted(samples)[len(samples) // 2],
        "samples_s": list(samples),
        "rows_scanned": rows_scanned,
        "intermediate_rows": 2 * rows_scanned,
    }
    if sessions > 1:
        entry["session_medians"] = [entry["median_s"]] * sessions
        entry["session_spread"] = 0.05
    return entry


def judge(record, base):
    return judge_phase(
        record, base, options=OPTIONS, sla=None, comparability=SAME, threads_match=True
    )


@pytest.mark.parametrize("slowdown", [1.5, 2.65, 10.0])
def test_one_sample_of_a_model_gets_no_time_class_and_asks_no_rerun(slowdown):
    record, base = model([0.05 * slowdown]), baseline([0.05])
    verdict = judge(record, base)
    assert verdict.severity == "OK"
    assert verdict.time is not None and verdict.time.severity == "OK"
    assert verdict.time.change_pct == pytest.approx(100 * (slowdown - 1))  # still shown
    assert "too few samples to class its time; DuckDB's exact counters gate it" in verdict.why
    assert not wants_confirmation(record, base, OPTIONS, SAME)


def test_the_counters_of_that_one_run_still_gate_exactly():
    verdict = judge(model([0.05], rows_scanned=5000), baseline([0.05]))
    assert verdict.severity == "CRITICAL"
    assert verdict.counter_severity == "CRITICAL"


def test_enough_samples_a_side_give_time_its_class_again():
    slow = [0.15, 0.152, 0.149, 0.151, 0.15]
    verdict = judge(model(slow), baseline([0.05, 0.051, 0.049, 0.05, 0.0505]))
    assert len(slow) == TIME_MIN_SAMPLES
    assert verdict.time.severity == "CRITICAL"


def test_a_baseline_recorded_over_sessions_does_not_class_one_sample_either():
    """A noise floor learned from three sessions did not contain one dbt run's swings (a
    confirmed MAJOR in 1 of 5 unchanged sessions, benchmarks/bench_dbt_gate.py)."""
    verdict = judge(model([0.5]), baseline([0.05], sessions=3))
    assert verdict.time.severity == "OK"
    assert "too few samples to class its time" in verdict.why


def test_phases_not_asking_for_samples_keep_the_one_sample_rule():
    verdict = judge(model([0.5], meta={}), baseline([0.05]))
    assert verdict.time.severity == "CRITICAL"


def test_every_phase_the_dbt_fixture_times_asks_for_the_samples(tmp_path, shipped_project):
    """dbt_total, dbt_parse and Python steps (timed with simperf.phase) carry the same rule as
    the model phases (recorded from run results)."""
    from contextlib import contextmanager

    from pytest_simperf.dbt.plugin import SimperfDbt
    from pytest_simperf.dbt.runner import DbtProject, DbtRequest

    class Phases:
        def __init__(self):
            self.records: list[PhaseRecord] = []

        @contextmanager
        def phase(self, name, *, year):
            yield
            self.records.append(PhaseRecord(name, year, [0.1]))

    simperf = Phases()
    project = DbtProject(shipped_project, tmp_path / "db.duckdb", tmp_path / "w")
    fixture = SimperfDbt(project, workforce=None, simperf=simperf)
    with project.around_run(DbtRequest("build", 2026, step="staging")):
        pass
    with project.around_parse(DbtRequest("build", 2026)):
        pass
    with project.around_step(DbtRequest("python", 2027, rebuild=True, step="checks")):
        pass
    assert fixture.project is project
    assert [(r.key, r.meta) for r in simperf.records] == [
        ("dbt_total:staging@2026", {"time_min_samples": TIME_MIN_SAMPLES}),
        ("dbt_parse@2026", {"time_min_samples": TIME_MIN_SAMPLES}),
        ("checks:rebuild@2027", {"time_min_samples": TIME_MIN_SAMPLES}),
    ]
