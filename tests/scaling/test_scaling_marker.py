"""The ``scaling`` marker end to end, through pytester: instances, sizes, fits, verdicts."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import pytest

# A real DuckDB pipeline step over the synthetic workforce: for each active employee, how many
# colleagues share their department and level. Joining a per-group headcount is linear in the
# rows DuckDB touches; the self-join on the two columns (~40 combinations) is quadratic.
SWITCHABLE = '''
import os
import pytest

PEERS_SQL = {
    "linear": """
        SELECT count(*), sum(peers) FROM (
            SELECT c.employee_id, g.headcount - 1 AS peers
            FROM census c
            JOIN (SELECT department, level_id, count(*) AS headcount
                  FROM census WHERE active GROUP BY ALL) g USING (department, level_id)
            WHERE c.active)
    """,
    "quadratic": """
        SELECT count(*), sum(peers) FROM (
            SELECT a.employee_id, count(b.employee_id) AS peers
            FROM census a LEFT JOIN census b
              ON a.department = b.department AND a.level_id = b.level_id
             AND b.active AND b.employee_id <> a.employee_id
            WHERE a.active GROUP BY a.employee_id)
    """,
}


@pytest.mark.workforce(years=1, seed=11)
@pytest.mark.scaling(employees=[500, 1000, 2000, 4000])
def test_peers(simperf, simperf_workforce):
    with simperf.phase("count_peers"):
        simperf_workforce.con.execute(PEERS_SQL[os.environ["SIMPERF_QUERY"]]).fetchall()
'''

# Exact counters injected per size, so verdicts do not depend on this machine. The quadratic
# shape stays below the linear one up to the largest size: every point alone looks improved.
INJECTED = """
import os
import pytest

COST = {"linear": lambda n: 8 * n, "quadratic": lambda n: n * n // 1000}
SHAPE = os.environ.get("SIMPERF_SHAPE", "linear")

@pytest.mark.sla(seconds=1)
@pytest.mark.scaling(employees=[1000, 2000, 4000, 8000]{extra})
def test_grow(simperf, simperf_scaling_size):
    n = simperf_scaling_size
    assert n != int(os.environ.get("SIMPERF_BROKEN_SIZE", "0"))
    simperf.record(
        "step",
        samples_s=[0.010, 0.011, 0.009],
        rows_scanned=n,
        intermediate_rows=COST[SHAPE](n),
    )
"""


def injected(extra: str = "") -> str:
    return INJECTED.replace("{extra}", extra)


def test_instances_get_ids_sizes_and_a_workforce_of_that_size(pytester, run):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(years=2, seed=3)
        @pytest.mark.scaling(employees=[60, "small", 120])
        def test_sizes(simperf, simperf_workforce, request):
            size = int(request.node.callspec.id.removeprefix("scale="))
            assert simperf_workforce.employees == size
            assert (simperf_workforce.years, simperf_workforce.seed) == (2, 3)
            with simperf.phase("count"):
                active = simperf_workforce.con.execute(
                    "SELECT count(*) FROM census WHERE active"
                ).fetchall()[0][0]
            assert active == size
        """
    )
    result = run("--simperf", "-v")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(
        [
            "*test_sizes?scale=60? PASSED*",
            "*test_sizes?scale=120? PASSED*",
            "*test_sizes?scale=1000? PASSED*",
            "scaling test_*.py::test_sizes?scale=*?: NEW",
        ]
    )

    unmeasured = run("-rs")  # each size once, its assertions checked, nothing judged
    unmeasured.assert_outcomes(passed=3)
    assert "scaling test_" not in unmeasured.stdout.str()

    skipped = run("-rs", "--simperf-skip")
    skipped.assert_outcomes(skipped=3)
    skipped.stdout.fnmatch_lines(["*skipped by --simperf-skip*"])


def test_scaling_wrapper_runs_outside_the_core_wrapper(request):
    impls = request.config.pluginmanager.hook.pytest_runtest_call.get_hookimpls()
    names = [impl.plugin_name for impl in impls]
    ours = names.index("pytest_simperf.scaling_plugin")
    core = [
        i
        for i, impl in enumerate(impls)
        if getattr(impl.plugin, "__name__", None) == "pytest_simperf.plugin"
    ]
    assert len(core) == 1
    # pluggy calls the last implementation first: the outermost wrapper comes last.
    assert impls[ours].wrapper
    assert impls[core[0]].wrapper
    assert ours > core[0]


def test_switching_linear_to_quadratic_fails_as_scaling_regression(
    pytester, run, monkeypatch, read_json
):
    pytester.makepyfile(test_peers_mod=SWITCHABLE)
    monkeypatch.setenv("SIMPERF_QUERY", "linear")
    recorded = run("--simperf-update-baseline", "--simperf-json=record.json")
    recorded.assert_outcomes(passed=4)
    anchor = "test_peers_mod.py::test_peers[scale=4000]"
    (test,) = [
        t for t in read_json(pytester.path / "record.json")["tests"] if t["nodeid"] == anchor
    ]
    metrics = test["scaling"]["metrics"]
    assert metrics["intermediate_rows"]["fit"]["class"] == "linear"
    assert metrics["rows_scanned"]["fit"]["class"] == "linear"

    baseline = read_json(pytester.path / "baselines" / "test_peers_mod.json")["tests"]
    assert baseline["test_peers[scale=4000]"]["scaling"]["fits"]["intermediate_rows"]["class"] == (
        "linear"
    )
    assert all("scaling" not in baseline[f"test_peers[scale={n}]"] for n in (500, 1000, 2000))

    same = run("--simperf")
    same.assert_outcomes(passed=4)
    same.stdout.fnmatch_lines(["scaling test_peers_mod.py::test_peers?scale=*?: OK"])

    monkeypatch.setenv("SIMPERF_QUERY", "quadratic")
    result = run("--simperf", "--simperf-json=report.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [
            "*CRITICAL scaling regression in intermediate_rows of "
            "test_peers_mod.py::test_peers?scale=*?: linear (exponent *) → quadratic "
            "(exponent *): growth class got worse*accept it with: "
            "pytest --simperf-update-baseline 'test_peers_mod.py::test_peers'"
        ]
    )
    report = read_json(pytester.path / "report.json")
    (test,) = [t for t in report["tests"] if t["nodeid"] == anchor]
    assert test["outcome"] == "failed"
    assert test["severity"] == "CRITICAL"
    assert test["scaling"]["metrics"]["intermediate_rows"]["fit"]["class"] == "quadratic"
    assert test["scaling"]["metrics"]["intermediate_rows"]["verdict"]["baseline_class"] == (
        "linear"
    )


def test_growth_regression_fails_even_when_every_point_is_fine(
    pytester, run, monkeypatch, read_json
):
    pytester.makepyfile(test_mod=injected())
    run("--simperf-update-baseline").assert_outcomes(passed=4)
    monkeypatch.setenv("SIMPERF_SHAPE", "quadratic")
    result = run("--simperf", "--simperf-json=r.json", "--junitxml=junit.xml")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "FAILED test_mod.py::test_grow[[]scale=8000[]] - pytest-simperf:*",
        ]
    )
    report = read_json(pytester.path / "r.json")
    by_id = {t["nodeid"]: t for t in report["tests"]}
    for n in (1000, 2000, 4000):
        point = by_id[f"test_mod.py::test_grow[scale={n}]"]
        assert point["severity"] == "IMPROVED"
        assert point["sla_status"] == "WITHIN_SLA"
    anchor = by_id["test_mod.py::test_grow[scale=8000]"]
    assert anchor["phases"][0]["severity"] == "OK"
    assert anchor["severity"] == "CRITICAL"
    assert anchor["outcome"] == "failed"
    (reason,) = anchor["failed_reasons"]
    assert reason.startswith("CRITICAL scaling regression in intermediate_rows")

    junit = ElementTree.parse(pytester.path / "junit.xml")
    (case,) = [c for c in junit.iter("testcase") if c.get("name") == "test_grow[scale=8000]"]
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["simperf_scaling_severity"] == "CRITICAL"
    assert json.loads(props["simperf_scaling"])["intermediate_rows"]["class"] == "quadratic"


def test_max_class_fails_without_any_baseline(pytester, run, monkeypatch):
    pytester.makepyfile(test_mod=injected(', max_class="linear"'))
    monkeypatch.setenv("SIMPERF_SHAPE", "quadratic")
    result = run("--simperf")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        ["*scaling: intermediate_rows of *: quadratic (exponent 2.00) exceeds max_class=linear*"]
    )
    monkeypatch.setenv("SIMPERF_SHAPE", "linear")
    run("--simperf").assert_outcomes(passed=4)


def test_instances_run_out_of_order_are_judged_after_the_run(pytester, run, monkeypatch, read_json):
    pytester.makepyfile(test_mod=injected())
    run("--simperf-update-baseline").assert_outcomes(passed=4)
    monkeypatch.setenv("SIMPERF_SHAPE", "quadratic")
    # The largest size first: the group is complete only after the loop.
    ids = [f"test_mod.py::test_grow[scale={n}]" for n in (8000, 1000, 2000, 4000)]
    result = run("--simperf", "--simperf-json=r.json", *ids)
    assert result.ret == 1
    result.assert_outcomes(passed=4)  # each point alone is within its SLA and no worse
    result.stdout.fnmatch_lines(
        ["*FAILED after the run: CRITICAL scaling regression in intermediate_rows*"]
    )
    report = read_json(pytester.path / "r.json")
    (test,) = [t for t in report["tests"] if t["nodeid"] == ids[0]]
    assert test["outcome"] == "failed"
    assert test["scaling"]["status"] == "fitted"
    assert report["run"]["exit_status"] == 1


def test_partial_selection_gives_no_fit_and_no_failure(pytester, run):
    pytester.makepyfile(test_mod=injected())
    result = run("--simperf", "-k", "1000 or 8000")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*no growth fit: only 2 of the 4 sizes were selected*"])


def test_failed_instance_gives_no_fit(pytester, run, monkeypatch):
    pytester.makepyfile(test_mod=injected())
    monkeypatch.setenv("SIMPERF_BROKEN_SIZE", "2000")
    result = run("--simperf")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*no growth fit: no measurement at size 2,000*"])


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "@pytest.mark.scaling(employees=[1, 2])\ndef test_x(simperf_scaling_size):\n    pass\n",
            "*test_bad.py::test_x: scaling(employees=...): need at least 3 distinct sizes*",
        ),
        (
            "@pytest.mark.scaling(employees=[1, 2, 3], metric='memory')\n"
            "def test_x(simperf_scaling_size):\n    pass\n",
            "*test_bad.py::test_x: scaling(metric=...) got 'memory'*",
        ),
        (
            "@pytest.mark.scaling(employees=[1, 2, 3])\ndef test_x(simperf):\n    pass\n",
            "*test_bad.py::test_x: a scaling test must use the simperf_workforce fixture*",
        ),
    ],
    ids=["too-few-sizes", "unknown-metric", "no-size-fixture"],
)
def test_bad_marker_is_a_collection_error_naming_the_test(pytester, run, source, message):
    pytester.makepyfile(test_bad="import pytest\n\n" + source)
    result = run("--simperf")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(["*pytest-simperf: invalid marker: " + message.lstrip("*")])


def test_size_fixture_outside_a_scaling_test_is_an_error(pytester, run):
    pytester.makepyfile("def test_x(simperf_scaling_size):\n    pass\n")
    result = run()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*only available in tests marked @pytest.mark.scaling*"])


def test_marker_is_documented_in_markers_help(pytester):
    result = pytester.runpytest("--markers")
    result.stdout.fnmatch_lines(["*scaling(employees, metric='auto', max_class=None*"])
