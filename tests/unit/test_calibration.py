"""Unit tests of calibration and machine fingerprints; an injected clock, no timing thresholds."""

from __future__ import annotations

import itertools
import platform
from pathlib import Path

import pytest

from pytest_simperf import calibration
from pytest_simperf.calibration import (
    CalibrationResult,
    calibration_scale,
    compare_machines,
    machine_fingerprint,
    run_calibration,
)


class ScriptedClock:
    """A clock that advances by scripted steps: (DuckDB time, Python time) per round."""

    def __init__(self, rounds):
        steps = []
        for duck, py in rounds:
            steps += [1.0, duck, py]  # 1.0: the gap before the round is not timed
        self._times = itertools.accumulate(steps)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return next(self._times)


def test_run_calibration_takes_medians_of_rounds():
    clock = ScriptedClock(
        [(0.01, 0.004), (0.011, 0.005), (0.05, 0.004), (0.01, 0.006), (0.012, 0.004)]
    )
    result = run_calibration(clock=clock, rounds=5)
    assert clock.calls == 15
    assert len(result.samples_s) == 5
    assert result.samples_s[2] == pytest.approx(0.054)
    assert result.score_s == pytest.approx(0.016)  # one slow round does not move it
    assert result.duckdb_s == pytest.approx(0.011)
    assert result.python_s == pytest.approx(0.004)
    assert result.spread > 0


def test_run_calibration_needs_a_round():
    with pytest.raises(ValueError, match="at least one round"):
        run_calibration(rounds=0)


def test_calibration_result_round_trips():
    result = CalibrationResult(0.015, (0.014, 0.015, 0.016), 0.010, 0.005)
    assert CalibrationResult.from_dict(result.to_dict()) == result
    old = CalibrationResult.from_dict({"score_s": 0.02})
    assert old.samples_s == (0.02,)
    assert old.spread == 0.0


def test_calibration_scale():
    assert calibration_scale(0.010, 0.020) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="positive"):
        calibration_scale(0.0, 0.01)


def cal(score, spread=0.0, duck_share=0.7, duck_factor=1.0):
    samples = (score * (1 - spread), score, score * (1 + spread))
    duck = score * duck_share * duck_factor
    return CalibrationResult(score, samples, duck, score * (1 - duck_share))


HERE = {"id": "aaa", "cpu": "Fast CPU"}
THERE = {"id": "bbb", "cpu": "Slow CPU"}


def test_same_machine_within_the_deadband_is_compared_unscaled():
    r = compare_machines(HERE, cal(0.010), HERE, cal(0.0105))
    assert (r.mode, r.scale, r.scale_uncertainty) == ("same_machine", 1.0, 0.0)
    assert "within" in r.reason


def test_same_machine_at_another_speed_is_rescaled():
    r = compare_machines(HERE, cal(0.010), HERE, cal(0.013))
    assert r.mode == "same_machine"
    assert r.scale == pytest.approx(1.3)
    assert r.scale_uncertainty >= calibration.CALIBRATION_REPRODUCIBILITY
    assert "rescaled" in r.reason


def test_same_machine_with_noisy_calibration_is_compared_unscaled():
    r = compare_machines(HERE, cal(0.010), HERE, cal(0.013, spread=0.2))
    assert (r.mode, r.scale) == ("same_machine", 1.0)
    assert "too noisy" in r.reason


def test_other_machine_with_a_trustworthy_calibration_is_calibrated():
    r = compare_machines(HERE, cal(0.010), THERE, cal(0.020, duck_factor=1.05))
    assert r.mode == "calibrated"
    assert r.scale == pytest.approx(2.0)
    assert "another machine" in r.reason


def test_unknown_baseline_machine_with_calibration_is_calibrated():
    r = compare_machines(None, cal(0.010), HERE, cal(0.011))
    assert r.mode == "calibrated"
    assert "unknown machine" in r.reason


@pytest.mark.parametrize(
    ("baseline_machine", "base", "current", "why"),
    [
        (THERE, cal(0.010), cal(0.050), "beyond ×4"),
        (THERE, cal(0.010), cal(0.020, duck_factor=1.6), "disagree"),
        (THERE, cal(0.010, spread=0.1), cal(0.020), "baseline calibration too noisy"),
        (THERE, None, cal(0.020), "no calibration on the baseline"),
        (THERE, cal(0.010), None, "no calibration on this run"),
        (None, None, cal(0.011), "unknown machine"),
    ],
)
def test_untrustworthy_cross_machine_falls_back_to_counters(baseline_machine, base, current, why):
    r = compare_machines(baseline_machine, base, HERE, current)
    assert (r.mode, r.scale) == ("counters_only", 1.0)
    assert why in r.reason
    assert r.reason.endswith("only deterministic counters gate")


def test_machine_fingerprint_fields_and_stable_id(monkeypatch):
    fp = machine_fingerprint()
    assert set(fp) >= {"id", "cpu", "cores", "python", "duckdb", "platform"}
    assert len(fp["id"]) == 12
    assert fp == machine_fingerprint()
    # Software versions do not change the hardware id ...
    monkeypatch.setattr(platform, "python_version", lambda: "9.9.9")
    assert machine_fingerprint()["id"] == fp["id"]
    # ... a different CPU does.
    monkeypatch.setattr(calibration, "_cpu_model", lambda: "Another CPU")
    assert machine_fingerprint()["id"] != fp["id"]


def test_cpu_model_from_cpuinfo_or_platform(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU @ 3.0GHz\n", encoding="utf-8")
    assert calibration._cpu_model(info) == "Example CPU @ 3.0GHz"
    assert calibration._cpu_model(tmp_path / "missing")  # falls back to platform, never empty
