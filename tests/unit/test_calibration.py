"""Unit tests of calibration and machine fingerprints; an injected clock, no timing thresholds."""

from __future__ import annotations

import itertools
import platform
import socket
from pathlib import Path

import pytest

from pytest_simperf import calibration
from pytest_simperf.calibration import (
    CalibrationResult,
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


HERE = {"id": "aaa", "host": "aaa", "cpu": "Fast CPU", "cores": 2}
TWIN = {"id": "ccc", "host": "ccc", "cpu": "Fast CPU", "cores": 2}  # same model, another VM


def test_same_host_gates_seconds_unscaled():
    r = compare_machines(HERE, HERE, baseline_cores=2, current_cores=2)
    assert (r.mode, r.scale, r.time_gated, r.memory) == ("same_machine", 1.0, True, True)


def test_same_host_with_other_usable_cores_does_not_judge_memory():
    # taskset -c 0 against both cores: DuckDB's memory depends on the cores it may use.
    r = compare_machines(HERE, HERE, baseline_cores=1, current_cores=2)
    assert r.time_gated
    assert not r.memory
    assert "1 usable cores then, 2 now" in r.reason


@pytest.mark.parametrize("baseline", [TWIN, None, {"id": "old", "cpu": "Fast CPU"}])
def test_another_or_unidentified_host_judges_neither_seconds_nor_memory(baseline):
    # A CPU model string does not identify a host: two VMs with the same string differed x1.25.
    r = compare_machines(baseline, HERE, baseline_cores=2, current_cores=2)
    assert r.mode == "other_machine"
    assert not r.time_gated
    assert not r.memory
    assert r.scale == 1.0
    assert "instruction counts and DuckDB's counters gate" in r.reason


def test_machine_fingerprint_names_the_host(monkeypatch):
    fp = machine_fingerprint()
    assert set(fp) >= {"id", "host", "cpu", "cores", "python", "duckdb", "platform"}
    assert fp["id"] == fp["host"]
    assert len(fp["id"]) == 12
    assert fp == machine_fingerprint()
    # Software versions do not change the host ...
    monkeypatch.setattr(platform, "python_version", lambda: "9.9.9")
    assert machine_fingerprint()["host"] == fp["host"]
    # ... another host name (the same CPU model on another VM) does.
    monkeypatch.setattr(socket, "gethostname", lambda: "elsewhere")
    assert machine_fingerprint()["host"] != fp["host"]


def test_cpu_model_from_cpuinfo_or_platform(tmp_path: Path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Example CPU @ 3.0GHz\n", encoding="utf-8")
    assert calibration._cpu_model(info) == "Example CPU @ 3.0GHz"
    assert calibration._cpu_model(tmp_path / "missing")  # falls back to platform, never empty
