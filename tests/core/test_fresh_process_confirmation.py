"""A time regression is claimed only when a fresh interpreter agrees (a slow process is slow in
every round, and a rerun inside it shares that luck)."""

from __future__ import annotations

# The first process to run the test is "unlucky" (x1.6 in every round); any later process is not.
LUCK = """
import pathlib
import pytest

BASE = [0.100, 0.102, 0.098, 0.101, 0.099, 0.103, 0.097]
MARK = pathlib.Path(__file__).with_name("ran-once")

@pytest.mark.sla(seconds=1)
def test_step(simperf):
    import os
    slow = os.environ.get("SIMPERF_UNLUCKY") == "1" and not MARK.exists()
    MARK.write_text("x")
    factor = float(os.environ.get("SIMPERF_TEST_SCALE", "1.0")) * (1.6 if slow else 1.0)
    samples = [s * factor for s in BASE]
    simperf.record("step", samples_s=samples, cpu_s=samples)
"""


def _record(pytester, run):
    pytester.makepyfile(test_mod=LUCK)
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    (pytester.path / "ran-once").unlink()


def test_a_slow_process_alone_does_not_fail_the_test(pytester, run, monkeypatch, read_json):
    _record(pytester, run)
    monkeypatch.setenv("SIMPERF_UNLUCKY", "1")
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*confirming a slowdown of test_mod.py::test_step in a fresh*"])
    (test,) = read_json(pytester.path / "r.json")["tests"]
    (phase,) = test["phases"]
    assert phase["severity"] == "OK"
    assert "the confirmation does not support the first run's slowdown" in phase["why"]
    assert read_json(pytester.path / "r.json")["run"]["confirm_runs"] == 1


def test_a_regression_every_process_sees_is_claimed(pytester, run, monkeypatch, read_json):
    _record(pytester, run)
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "1.6")
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(failed=1)
    (phase,) = read_json(pytester.path / "r.json")["tests"][0]["phases"]
    assert phase["severity"] == "CRITICAL"
    assert "supported by both runs" in phase["why"]


def test_quick_mode_claims_without_a_fresh_process(pytester, run, monkeypatch, read_json):
    _record(pytester, run)
    monkeypatch.setenv("SIMPERF_UNLUCKY", "1")
    result = run("--simperf", "--simperf-quick", "--simperf-json=r.json")
    result.assert_outcomes(failed=1)
    assert read_json(pytester.path / "r.json")["run"]["confirm_runs"] == 0


def test_no_claim_when_the_confirmation_cannot_run(pytester, run, monkeypatch, read_json):
    _record(pytester, run)
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "1.6")
    # A python that does not exist: the fresh process cannot start, so nothing is claimed.
    monkeypatch.setattr("sys.executable", str(pytester.path / "no-such-python"))
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(passed=1)
    (phase,) = read_json(pytester.path / "r.json")["tests"][0]["phases"]
    assert phase["severity"] == "OK"
    assert "not claimed: the fresh-process confirmation failed" in phase["why"]
