"""``simperf import-benchmark`` on runs pytest-benchmark really saved, then gating on them."""

from __future__ import annotations

import json

from pytest_simperf.calibration import machine_fingerprint
from pytest_simperf.cli import main

BEFORE = """
import pytest
from fakeclock import work


def test_sum(benchmark):
    benchmark(work)


class TestRollup:
    @pytest.mark.benchmark(group="rollup")
    def test_rollup(self, benchmark):
        benchmark.pedantic(work, rounds=12)


def test_old_name(benchmark):
    benchmark(work)
"""

# The same suite after adoption: an SLA added, one test renamed since the run was saved.
AFTER = """
import pytest
from fakeclock import work


@pytest.mark.sla(seconds=1)
def test_sum(benchmark):
    benchmark(work)


class TestRollup:
    @pytest.mark.benchmark(group="rollup")
    def test_rollup(self, benchmark):
        benchmark.pedantic(work, rounds=12)


def test_new_name(benchmark):
    benchmark(work)
"""

IMPORTED = ("test_suite.py::TestRollup::test_rollup", "test_suite.py::test_sum")


def test_saved_runs_become_baselines_that_gate(pytester, bench, report, capsys):
    pytester.makepyfile(test_suite=BEFORE)
    saved = bench("--benchmark-json=saved.json", "--benchmark-autosave")
    saved.assert_outcomes(passed=3)
    (autosaved,) = (pytester.path / ".benchmarks").glob("*/0001_*.json")
    pytester.makepyfile(test_suite=AFTER)
    root = ["--rootdir", str(pytester.path)]

    # The autosaved run holds summaries only (no --benchmark-save-data): one sample each.
    assert main(["import-benchmark", str(autosaved), *root]) == 1  # one name listed
    out = capsys.readouterr().out
    assert "created: 2" in out
    assert "this machine: seconds will be compared directly" in out
    assert (
        "test_suite.py::test_old_name: no test 'test_old_name' in test_suite.py "
        "(renamed or removed?)" in out
    )
    stored = json.loads((pytester.path / "baselines" / "test_suite.json").read_text())
    assert set(stored["tests"]) == {"test_sum", "TestRollup::test_rollup"}
    assert set(stored["tests"]["TestRollup::test_rollup"]["phases"]) == {"rollup"}
    sum_entry = stored["tests"]["test_sum"]
    assert sum_entry["imported_from"]["samples"] == "median only"
    assert len(sum_entry["phases"]["benchmark"]["samples_s"]) == 1
    # Recorded here, so the fingerprint rebuilt from machine_info is this machine's.
    assert sum_entry["machine"] == machine_fingerprint()["id"]

    unchanged = bench("--simperf", "--simperf-json=report.json")
    unchanged.assert_outcomes(passed=3)
    tests = report()
    for nodeid in IMPORTED:
        assert (tests[nodeid]["baseline_status"], tests[nodeid]["severity"]) == ("compared", "OK")
    assert tests["test_suite.py::test_new_name"]["severity"] == "NEW"

    # Existing baselines are kept unless --replace; the JSON run carries every round.
    assert main(["import-benchmark", "saved.json", *root, "--dry-run"]) == 1
    assert "kept: 2" in capsys.readouterr().out
    before = (pytester.path / "baselines" / "test_suite.json").read_bytes()
    assert main(["import-benchmark", str(pytester.path / "saved.json"), *root]) == 1
    assert "kept: 2" in capsys.readouterr().out
    assert (pytester.path / "baselines" / "test_suite.json").read_bytes() == before
    assert main(["import-benchmark", str(pytester.path / "saved.json"), *root, "--replace"]) == 1
    assert "replaced: 2" in capsys.readouterr().out
    stored = json.loads((pytester.path / "baselines" / "test_suite.json").read_text())
    assert len(stored["tests"]["test_sum"]["phases"]["benchmark"]["samples_s"]) == 30
    assert len(stored["tests"]["TestRollup::test_rollup"]["phases"]["rollup"]["samples_s"]) == 12

    slower = bench("--simperf", "--simperf-json=report.json", step=0.03)
    slower.assert_outcomes(passed=1, failed=2)
    tests = report()
    for nodeid in IMPORTED:
        assert tests[nodeid]["severity"] == "CRITICAL"
        assert tests[nodeid]["outcome"] == "failed"
