"""pytest-benchmark tests gated by simperf, end to end in subprocesses (plugin loading matters).

Timings come from the fake clock in conftest: ``step`` is what one call of ``work()`` takes.
"""

from __future__ import annotations

import json

import pytest

SUITE = """
import pytest
from fakeclock import CALLS, work


@pytest.fixture
def counted(benchmark):
    start = CALLS[0]
    yield
    expected = 1 if benchmark.disabled else 9  # pedantic(rounds=9); disabled: one plain call
    assert CALLS[0] - start == expected, "the benchmarked function was run again"


@pytest.mark.sla(seconds=1)
def test_call(benchmark):
    assert benchmark(work) == 42


@pytest.mark.sla(seconds=1)
def test_pedantic(benchmark, counted):
    assert benchmark.pedantic(work, rounds=9) == 42


@pytest.mark.sla(seconds=1)
def test_pedantic_iterations(benchmark):
    benchmark.pedantic(work, rounds=5, iterations=4)


@pytest.mark.benchmark(group="rollup")
def test_grouped(benchmark):
    benchmark.extra_info["rows"] = 1000
    benchmark(work)


def test_plain(benchmark):
    benchmark(work)


def test_ordinary():
    pass
"""

SLA_TESTS = ("test_call", "test_pedantic", "test_pedantic_iterations")


def _id(name: str) -> str:
    return f"test_suite.py::{name}"


def test_sla_benchmark_tests_pass_with_their_rounds_as_samples(pytester, bench, report):
    pytester.makepyfile(test_suite=SUITE)
    result = bench("--simperf", "--simperf-json=report.json")
    result.assert_outcomes(passed=6)
    # pytest-benchmark's own table is still there, beside ours.
    result.stdout.fnmatch_lines(["*benchmark: 4 tests*", "*benchmark 'rollup': 1 tests*"])
    result.stdout.fnmatch_lines(["*= pytest-simperf =*"])
    tests = report()
    assert set(tests) == {_id(n) for n in (*SLA_TESTS, "test_grouped", "test_plain")}

    call = tests[_id("test_call")]
    (phase,) = call["phases"]
    assert phase["name"] == "benchmark"
    assert phase["median_s"] == pytest.approx(0.01, rel=0.03)
    assert (phase["sla_status"], phase["sla_category"]) == ("WITHIN_SLA", "EXCELLENT")
    assert phase["severity"] == "NEW"
    # ~100 rounds fit pytest-benchmark's 1 s budget; they arrive as 30 batch medians.
    assert call["benchmark"]["rounds"] > 30
    assert (phase["rounds"], call["benchmark"]["batched"]) == (30, True)

    pedantic = tests[_id("test_pedantic")]
    assert pedantic["phases"][0]["rounds"] == 9
    assert pedantic["benchmark"] == {
        "phase": "benchmark",
        "group": None,
        "rounds": 9,
        "iterations": 1,
        "samples": 9,
        "batched": False,
    }
    # Samples are per call, not per round of 4 iterations.
    iterations = tests[_id("test_pedantic_iterations")]["phases"][0]
    assert iterations["rounds"] == 5
    assert iterations["median_s"] == pytest.approx(0.01, rel=0.03)

    grouped = tests[_id("test_grouped")]["phases"][0]
    assert grouped["name"] == "rollup"
    assert grouped["rows"] == 1000
    assert grouped["rows_per_s"] == pytest.approx(100_000, rel=0.03)
    assert tests[_id("test_plain")]["phases"][0]["sla_status"] is None


def test_without_simperf_every_benchmark_stays_pytest_benchmarks(pytester, bench):
    """Unmeasured by simperf, the sla tests run as plain pytest-benchmark tests; simperf only
    says they were not gated."""
    pytester.makepyfile(test_suite=SUITE)
    result = bench("-rs")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*benchmark: 4 tests*", "*benchmark 'rollup': 1 tests*"])
    result.stdout.fnmatch_lines(["pytest-simperf: 3 performance tests selected, run once*"])
    assert "== pytest-simperf ==" not in result.stdout.str()


def test_simperf_skip_skips_sla_benchmarks(pytester, bench):
    pytester.makepyfile(test_suite=SUITE)
    result = bench("-rs", "--simperf-skip")
    result.assert_outcomes(passed=3, skipped=3)
    result.stdout.fnmatch_lines(["*benchmark: 1 tests*", "*benchmark 'rollup': 1 tests*"])
    result.stdout.fnmatch_lines(["*skipped by --simperf-skip*"])
    assert "pytest-simperf" not in result.stdout.str()


def test_breaching_benchmarks_fail_naming_the_sla(pytester, bench, report):
    pytester.makepyfile(test_suite=SUITE)
    result = bench("--simperf", "--simperf-json=report.json", step=2.0)
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(["*SLA_BREACH in benchmark: time 2.0* s exceeds the SLA of 1 s*"])
    tests = report()
    for name in SLA_TESTS:
        assert tests[_id(name)]["outcome"] == "failed"
        assert tests[_id(name)]["sla_status"] == "SLA_BREACH"
    assert tests[_id("test_plain")]["outcome"] == "passed"


def test_regression_against_baseline_is_classed_and_fails(pytester, bench, report):
    pytester.makepyfile(test_suite=SUITE)
    recorded = bench("--simperf-update-baseline", "-k", "call or plain or pedantic")
    recorded.assert_outcomes(passed=4, deselected=2)
    stored = json.loads((pytester.path / "baselines" / "test_suite.json").read_text())
    assert set(stored["tests"]) == {"test_call", "test_plain", "test_pedantic", *SLA_TESTS[2:]}
    assert set(stored["tests"]["test_call"]["phases"]) == {"benchmark"}

    unchanged = bench("--simperf", "--simperf-json=report.json", "-k", "call or plain or pedantic")
    unchanged.assert_outcomes(passed=4, deselected=2)
    assert {t["severity"] for t in report().values()} == {"OK"}

    slower = bench(
        "--simperf", "--simperf-json=report.json", "-k", "call or plain or pedantic", step=0.03
    )
    slower.assert_outcomes(failed=4, deselected=2)
    slower.stdout.fnmatch_lines(
        [
            "*CRITICAL regression in benchmark: first run: wall time median 0.030 s vs baseline"
            " 0.010 s (+*%)*; confirmation: *supported by both runs*"
        ]
    )
    tests = report()
    assert {t["severity"] for t in tests.values()} == {"CRITICAL"}
    # Still within the 1 s SLA: the class, not the SLA, fails them.
    assert tests[_id("test_call")]["sla_status"] == "WITHIN_SLA"


def test_disabled_benchmarks_get_no_verdict_and_write_no_baseline(pytester, bench):
    pytester.makepyfile(test_suite=SUITE)
    result = bench("--simperf-update-baseline", "--benchmark-disable", step=2.0)
    # pytest-benchmark ran each function once, untimed: no SLA breach is claimed from it.
    result.assert_outcomes(passed=6, warnings=5)
    result.stdout.fnmatch_lines(
        ["*BenchmarkDisabledWarning: pytest-simperf: pytest-benchmark is disabled*"]
    )
    assert not (pytester.path / "baselines").exists()


CORE_ONLY = """
import sys
import pytest


@pytest.mark.sla(seconds=1)
def test_core(simperf):
    simperf.record("step", samples_s=[0.1, 0.11, 0.09])


def test_registry(request):
    hooks = request.config.pluginmanager.get_plugin("simperf-benchcompat")
    print("BENCHCOMPAT", hooks is not None, "pytest_benchmark" in sys.modules)
"""


@pytest.mark.parametrize(
    ("args", "loaded"), [(("-p", "no:benchmark"), "False False"), ((), "True True")]
)
def test_without_pytest_benchmark_nothing_loads_and_core_is_unaffected(
    pytester, bench, report, args, loaded
):
    pytester.makepyfile(test_core=CORE_ONLY)
    result = bench(*args, "--simperf", "-s", "--simperf-json=report.json", timer=False)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([f"*BENCHCOMPAT {loaded}*"])
    assert report()["test_core.py::test_core"]["phases"][0]["sla_status"] == "WITHIN_SLA"
    assert "benchmark" not in report()["test_core.py::test_core"]
