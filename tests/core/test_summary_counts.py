"""The summary's last line counts every perf test pytest failed, whatever failed it.

A perf test whose own assertion fails, or whose fixture errors, is never judged: before, it
vanished from the report, and the summary said ``0 failed`` (or that nothing was measured)
right under pytest's own failure.
"""

from __future__ import annotations

import pytest

from pytest_simperf.report.markdown import render_markdown
from pytest_simperf.report.terminal import render_summary

MIXED = """
import pytest

@pytest.fixture
def broken():
    raise RuntimeError("no warehouse today")

@pytest.mark.sla(seconds=1)
def test_ok(simperf):
    simperf.record("load", samples_s=[0.1, 0.1, 0.1])

@pytest.mark.sla(seconds=1)
def test_own_assertion(simperf):
    simperf.record("load", samples_s=[0.1, 0.1, 0.1])
    assert 1 + 1 == 3

def test_setup_error(simperf, broken):
    simperf.record("load", samples_s=[0.1])

def test_not_perf():
    assert False
"""


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_failed_and_errored_perf_tests_are_counted(pytester, run, read_json, workers):
    pytester.makepyfile(test_mod=MIXED)
    result = run("--simperf", "--simperf-json=r.json", *workers)
    result.assert_outcomes(passed=1, failed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*test_mod.py::test_ok*load*",
            "2 performance test(s) failed before being judged (see the failure above): "
            "test_mod.py::test_own_assertion, test_mod.py::test_setup_error",
            "3 performance test(s), 2 failed: test_mod.py::test_own_assertion, "
            "test_mod.py::test_setup_error",
        ]
    )
    tests = {t["nodeid"]: t for t in read_json("r.json")["tests"]}
    # The ordinary test is no perf test: not listed.
    assert sorted(tests) == [
        "test_mod.py::test_ok",
        "test_mod.py::test_own_assertion",
        "test_mod.py::test_setup_error",
    ]
    assert tests["test_mod.py::test_own_assertion"]["outcome"] == "failed"
    assert tests["test_mod.py::test_own_assertion"]["phases"] == []
    assert tests["test_mod.py::test_setup_error"]["outcome"] == "error"
    assert tests["test_mod.py::test_ok"]["outcome"] == "passed"


def test_only_failures_say_what_happened_not_that_nothing_was_measured(pytester, run):
    pytester.makepyfile(
        test_mod="""
        import pytest

        @pytest.mark.sla(seconds=1)
        def test_pipeline(simperf):
            raise RuntimeError("dbt model fct_yearly_events failed")
        """
    )
    result = run("--simperf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "1 performance test(s) failed before being judged (see the failure above): "
            "test_mod.py::test_pipeline",
            "1 performance test(s), 1 failed: test_mod.py::test_pipeline",
        ]
    )
    result.stdout.no_fnmatch_line("*no performance test measured anything*")


def test_a_perf_test_that_passes_without_measuring_is_not_a_failure(pytester, run):
    pytester.makepyfile("def test_idle(simperf):\n    pass\n")
    result = run("--simperf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["no performance test measured anything", "* 0 failed"])
    result.stdout.no_fnmatch_line("*before being judged*")


def test_errors_count_as_failed_in_the_rendered_line(summary_report):
    stub = {
        "nodeid": "t.py::test_x",
        "outcome": "error",
        "baseline_status": "not judged",
        "comparison": "none",
        "comparison_reason": None,
        "growth": [],
        "phases": [],
    }
    text = render_summary(summary_report([stub]))
    assert text.splitlines()[-1] == "1 performance test(s), 1 failed: t.py::test_x"
    # The Markdown summary already counted failed tests; it now sees this one too.
    failed = {**stub, "outcome": "failed"}
    assert "1 test failed" in render_markdown(summary_report([failed])).splitlines()[0]
