"""The regression gate end to end, through pytester: unmeasured and skip rules, new, update,
compare, classes."""

from __future__ import annotations

import json

import pytest

RECORDED = """
import os
import pytest

SCALE = float(os.environ.get("SIMPERF_TEST_SCALE", "1.0"))
BASE = [0.100, 0.102, 0.098, 0.101, 0.099, 0.103, 0.097]

@pytest.mark.sla(seconds=1)
def test_step(simperf):
    samples = [s * SCALE for s in BASE]
    simperf.record("step", samples_s=samples, cpu_s=samples)  # CPU-bound, as DuckDB work is
"""


PERF_AND_PLAIN = """
import pytest

CALLS = []

@pytest.mark.sla(seconds=1)
def test_marked():
    CALLS.append("marked")

def test_fixture(simperf):
    result = simperf.measure(lambda: CALLS.append("measure") or 42)
    assert result == 42
    with simperf.phase("yearly", year=2025) as p:
        CALLS.append("phase")
        p.rows = 3
    simperf.record("elsewhere", samples_s=[0.1])
    with simperf.count_work() as counted:
        CALLS.append("counted block")
    assert (counted.statements, counted.rows_scanned) == (0, None)
    assert simperf.records == []

@pytest.mark.simperf(rounds=3)
def test_simperf_marker():
    CALLS.append("marker")

def test_ordinary():
    pass

def test_zz_each_ran_once():
    assert sorted(CALLS) == ["counted block", "marked", "marker", "measure", "phase"]
"""


def test_perf_tests_run_once_unmeasured_without_simperf(pytester):
    """Without --simperf a perf test is still a test: its body runs once, nothing is measured,
    judged or written, and the summary says so."""
    pytester.makepyfile(PERF_AND_PLAIN)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["pytest-simperf: 3 performance tests selected, run once without measuring*"]
    )
    assert "== pytest-simperf ==" not in result.stdout.str()
    assert not (pytester.path / "baselines").exists()
    assert not (pytester.path / ".simperf").exists()


def test_unmeasured_perf_test_failures_are_reported(pytester):
    """The point of running them: a wrong assertion or a bad phase name fails a plain pytest."""
    pytester.makepyfile(
        """
        def test_wrong_result(simperf):
            assert simperf.measure(lambda: 1 + 1) == 3

        def test_bad_phase(simperf):
            with simperf.phase("a@b"):
                pass

        def test_bad_record(simperf):
            simperf.record("dbt_model", samples_s=[float("nan")])
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*assert 2 == 3*",
            "*name must be a non-empty string without '@'*",
            "*samples_s[[]0[]] must be a finite number*",
        ]
    )


@pytest.mark.parametrize(
    ("ini", "args"),
    [("", ["--simperf-skip"]), ("simperf_skip = true\n", [])],
    ids=["flag", "ini"],
)
def test_simperf_skip_skips_perf_tests(pytester, ini, args):
    pytester.makeini("[pytest]\n" + ini)
    pytester.makepyfile(PERF_AND_PLAIN.replace("def test_zz_each_ran_once", "def _unused"))
    result = pytester.runpytest("-p", "no:cacheprovider", "-rs", *args)
    result.assert_outcomes(passed=1, skipped=3)
    result.stdout.fnmatch_lines(["*skipped by --simperf-skip (run `pytest --simperf`*"])
    assert "run once without measuring" not in result.stdout.str()


def test_simperf_wins_over_simperf_skip(pytester, run):
    pytester.makeini("[pytest]\nsimperf_skip = true\n")
    pytester.makepyfile(RECORDED)
    run("--simperf").assert_outcomes(passed=1)


def test_simperf_skip_ini_value_is_checked(pytester):
    pytester.makeini("[pytest]\nsimperf_skip = maybe\n")
    pytester.makepyfile("def test_one():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*simperf_skip*maybe*"])


def test_new_baseline_is_reported_not_failed(pytester, run):
    pytester.makepyfile(RECORDED)
    result = run("--simperf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_step*step*NEW*WITHIN_SLA*", "new (no baseline yet*"])
    assert not (pytester.path / "baselines").exists()


def test_update_writes_deterministic_baseline_then_compare_passes(pytester, run):
    pytester.makepyfile(test_mod=RECORDED)
    result = run("--simperf-update-baseline")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["baselines created: 1", "*test_mod.py::test_step"])
    path = pytester.path / "baselines" / "test_mod.json"
    text = path.read_text()
    assert text.endswith("}\n")
    data = json.loads(text)
    assert data["schema_version"] == 1
    entry = data["tests"]["test_step"]
    assert entry["phases"]["step"]["median_s"] == pytest.approx(0.1)
    assert entry["machine"] in data["machines"]
    assert json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n" == text

    result = run("--simperf")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*test_step*step*100.0ms*100.0ms*+0.0%*OK*"])
    assert result.ret == 0


@pytest.mark.parametrize(
    ("scale", "severity", "outcome"),
    [
        (1.0, "OK", "passed"),
        (1.05, "OK", "passed"),
        (1.26, "MINOR", "failed"),
        (1.40, "MAJOR", "failed"),
        (2.0, "CRITICAL", "failed"),
        (0.6, "IMPROVED", "passed"),
    ],
)
def test_regression_classes(pytester, run, monkeypatch, read_json, scale, severity, outcome):
    pytester.makepyfile(test_mod=RECORDED)
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    monkeypatch.setenv("SIMPERF_TEST_SCALE", str(scale))
    result = run("--simperf", "--simperf-json=report.json")
    result.assert_outcomes(**{outcome: 1})
    report = read_json(pytester.path / "report.json")
    (test,) = report["tests"]
    assert test["nodeid"] == "test_mod.py::test_step"
    assert test["outcome"] == outcome
    (phase,) = test["phases"]
    assert phase["severity"] == severity
    assert phase["baseline_median_s"] == pytest.approx(0.1)
    assert phase["change_pct"] == pytest.approx((scale - 1) * 100, abs=0.5)
    assert phase["sla_status"] == "WITHIN_SLA"
    if outcome == "failed":
        assert result.ret == 1
        result.stdout.fnmatch_lines(
            [
                f"*{severity} regression in step: first run: cpu time median*"
                "; confirmation: *supported by both runs*"
                "[[]baseline baselines/test_mod.json*accept it with: "
                "pytest --simperf-update-baseline 'test_mod.py::test_step'"
            ]
        )
    else:
        assert result.ret == 0


@pytest.mark.parametrize(
    ("fail_on", "scale", "outcome"),
    [
        ("MINOR", 1.26, "failed"),
        ("MAJOR", 1.26, "passed"),
        ("MAJOR", 1.4, "failed"),
        ("CRITICAL", 1.4, "passed"),
        ("never", 3.0, "passed"),
        ("critical", 3.0, "failed"),
    ],
)
def test_fail_on_decides_which_class_fails(pytester, run, monkeypatch, fail_on, scale, outcome):
    pytester.makepyfile(test_mod=RECORDED)
    run("--simperf-update-baseline")
    monkeypatch.setenv("SIMPERF_TEST_SCALE", str(scale))
    run("--simperf", f"--simperf-fail-on={fail_on}").assert_outcomes(**{outcome: 1})


def test_fail_on_from_ini_and_cli_wins(pytester, run, monkeypatch):
    pytester.makepyfile(test_mod=RECORDED)
    pytester.makeini("[pytest]\nsimperf_fail_on = CRITICAL\n")
    run("--simperf-update-baseline")
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "1.4")
    run("--simperf").assert_outcomes(passed=1)  # ini: only CRITICAL fails
    run("--simperf", "--simperf-fail-on=MAJOR").assert_outcomes(failed=1)  # CLI wins


def test_custom_thresholds_cli_and_marker(pytester, run, monkeypatch, read_json):
    pytester.makepyfile(
        test_mod=RECORDED
        + """

@pytest.mark.simperf(thresholds=(50, 80, 100))
def test_lenient(simperf):
    simperf.record("step", samples_s=[s * SCALE for s in BASE])
"""
    )
    run("--simperf-update-baseline").assert_outcomes(passed=2)
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "1.4")
    result = run("--simperf", "--simperf-thresholds=5,10,20", "--simperf-json=r.json")
    result.assert_outcomes(passed=1, failed=1)
    tests = {t["nodeid"].split("::")[1]: t for t in read_json(pytester.path / "r.json")["tests"]}
    assert tests["test_step"]["phases"][0]["severity"] == "CRITICAL"  # > 20%
    assert tests["test_lenient"]["phases"][0]["severity"] == "OK"  # < 50%
    assert tests["test_lenient"]["thresholds"] == [50, 80, 100]


def test_sla_breach_fails_even_without_baseline(pytester, run, read_json):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.sla(seconds=0.5)
        def test_slow(simperf):
            simperf.record("load", samples_s=[0.7, 0.71, 0.69])

        @pytest.mark.sla(seconds=1.0, warning=0.6)
        def test_warn(simperf):
            simperf.record("load", samples_s=[0.7, 0.71, 0.69])

        @pytest.mark.sla(seconds=10.0)
        def test_fast(simperf):
            simperf.record("load", samples_s=[0.7, 0.71, 0.69])
        """
    )
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*SLA_BREACH in load: time 0.700 s exceeds the SLA of 0.5 s*"])
    by = {t["nodeid"].split("::")[1]: t["phases"][0] for t in read_json("r.json")["tests"]}
    assert (by["test_slow"]["sla_status"], by["test_slow"]["sla_category"]) == (
        "SLA_BREACH",
        "CRITICAL",
    )
    assert (by["test_warn"]["sla_status"], by["test_warn"]["sla_category"]) == (
        "SLA_WARNING",
        "GOOD",
    )
    assert (by["test_fast"]["sla_status"], by["test_fast"]["sla_category"]) == (
        "WITHIN_SLA",
        "EXCELLENT",
    )


def test_component_sla_from_pyproject_and_marker_precedence(pytester, run, read_json):
    pytester.makepyprojecttoml(
        """
        [tool.simperf.sla]
        scd_workforce_state = 0.5
        fct_yearly_events = { seconds = 2.0, warning_seconds = 0.6 }
        """
    )
    pytester.makepyfile(
        """
        import pytest

        def test_config(simperf):
            simperf.record("scd_workforce_state", samples_s=[0.7])
            simperf.record("fct_yearly_events", year=2025, samples_s=[0.7])
            simperf.record("other", samples_s=[100.0])

        @pytest.mark.sla(seconds=1.0, phase="scd_workforce_state")
        def test_marker_wins(simperf):
            simperf.record("scd_workforce_state", samples_s=[0.7])
        """
    )
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(passed=1, failed=1)
    tests = {t["nodeid"].split("::")[1]: t for t in read_json("r.json")["tests"]}
    phases = {p["name"]: p for p in tests["test_config"]["phases"]}
    assert phases["scd_workforce_state"]["sla_status"] == "SLA_BREACH"
    assert phases["scd_workforce_state"]["sla_source"] == "component SLA 'scd_workforce_state'"
    assert phases["fct_yearly_events"]["sla_status"] == "SLA_WARNING"
    assert phases["other"]["sla_status"] is None
    (marked,) = tests["test_marker_wins"]["phases"]
    assert marked["sla_status"] == "WITHIN_SLA"
    assert marked["sla_source"] == "sla(phase='scd_workforce_state') marker"


def test_sla_without_fixture_times_the_whole_call(pytester, run, read_json):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.sla(seconds=60)
        def test_whole():
            sum(range(1000))
        """
    )
    run("--simperf", "--simperf-json=r.json").assert_outcomes(passed=1)
    (phase,) = read_json("r.json")["tests"][0]["phases"]
    assert (phase["name"], phase["source"], phase["rounds"]) == ("call", "call", 1)
    assert phase["median_s"] > 0


def test_stale_entries_are_reported_and_removed_only_on_update(pytester, run):
    pytester.makepyfile(
        test_mod=RECORDED
        + """

def test_other(simperf):
    simperf.record("x", samples_s=[0.1, 0.1, 0.1])
"""
    )
    run("--simperf-update-baseline").assert_outcomes(passed=2)
    pytester.makepyfile(test_mod=RECORDED)  # test_other deleted
    result = run("--simperf")
    result.stdout.fnmatch_lines(["stale baseline entries*: 1", "*test_mod.py::test_other"])
    path = pytester.path / "baselines" / "test_mod.json"
    assert "test_other" in json.loads(path.read_text())["tests"]  # compare mode: untouched
    result = run("--simperf-update-baseline")
    result.stdout.fnmatch_lines(["stale entries removed: 1", "*test_mod.py::test_other"])
    assert "test_other" not in json.loads(path.read_text())["tests"]


def test_deselected_tests_are_not_stale(pytester, run):
    pytester.makepyfile(
        test_mod=RECORDED
        + """

def test_other(simperf):
    simperf.record("x", samples_s=[0.1, 0.1, 0.1])
"""
    )
    run("--simperf-update-baseline").assert_outcomes(passed=2)
    result = run("--simperf-update-baseline", "-k", "test_step")
    result.assert_outcomes(passed=1)
    assert "stale baseline entries" not in result.stdout.str()
    data = json.loads((pytester.path / "baselines" / "test_mod.json").read_text())
    assert set(data["tests"]) == {"test_step", "test_other"}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"schema_version": 1, "tests": {', "is not valid JSON (line 1"),
        ('{"schema_version": 99, "tests": {}}', "unknown schema_version 99"),
        ('{"tests": {}}', "missing or invalid schema_version"),
        (
            '{"schema_version": 1, "tests": {"t": {"phases": {"x": {"median_s": "a"}}}}}',
            "invalid median_s",
        ),
    ],
)
def test_corrupt_baseline_fails_clearly_and_is_never_overwritten(pytester, run, content, message):
    pytester.makepyfile(test_mod=RECORDED)
    path = pytester.path / "baselines" / "test_mod.json"
    path.parent.mkdir()
    path.write_text(content)
    for mode in ("--simperf", "--simperf-update-baseline"):
        result = run(mode)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"*baseline file {path}: *{message}*"])
        assert path.read_text() == content
    assert result.ret == 1


def test_json_report_shape(pytester, run, read_json):
    pytester.makepyfile(test_mod=RECORDED)
    run("--simperf-update-baseline")
    run("--simperf", "--simperf-json=out/report.json").assert_outcomes(passed=1)
    report = read_json(pytester.path / "out" / "report.json")
    assert report["schema_version"] == 1
    assert report["run"]["options"]["fail_on"] == "MINOR"
    (test,) = report["tests"]
    assert {"nodeid", "outcome", "phases", "severity", "sla_status", "summary"} <= set(test)
    (phase,) = test["phases"]
    for key in (
        "name",
        "year",
        "median_s",
        "baseline_median_s",
        "change_pct",
        "severity",
        "sla_status",
    ):
        assert key in phase
    assert test["summary"]["total_s"] == pytest.approx(0.1, rel=0.05)


def test_exit_code_zero_when_all_pass_and_nonzero_on_failure(pytester, run, monkeypatch):
    pytester.makepyfile(test_mod=RECORDED)
    assert run("--simperf-update-baseline").ret == 0
    assert run("--simperf").ret == 0
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "2")
    assert run("--simperf").ret == 1


def test_plan_regression_from_duckdb_counters(pytester, run, monkeypatch, read_json):
    pytester.makepyfile(
        test_mod="""
        import os
        import pytest

        ROWS = int(os.environ.get("ROWS", "100000"))

        def test_query(simperf, duckdb_con):
            duckdb_con.execute(f"create table t as select range as i from range({ROWS})")
            with simperf.phase("scan"):
                duckdb_con.execute("select count(*) from t where i % 3 = 0").fetchall()
        """
    )
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    base = json.loads((pytester.path / "baselines" / "test_mod.json").read_text())
    assert base["tests"]["test_query"]["phases"]["scan"]["rows_scanned"] == 100000
    run("--simperf").assert_outcomes(passed=1)
    monkeypatch.setenv("ROWS", "200000")
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(failed=1)
    (phase,) = read_json("r.json")["tests"][0]["phases"]
    assert phase["plan_changed"] is True
    assert phase["counter_severity"] == "CRITICAL"
    assert phase["rows_scanned"] == 200000
    result.stdout.fnmatch_lines(["*plan changed: rows scanned 100,000 → 200,000 (+100.0%)*"])


def test_failure_in_test_body_is_not_judged(pytester, run):
    pytester.makepyfile(
        """
        def test_boom(simperf):
            simperf.record("x", samples_s=[0.1])
            raise RuntimeError("user bug")
        """
    )
    result = run("--simperf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*RuntimeError: user bug*"])
    assert "regression in" not in result.stdout.str()


def test_junit_properties(pytester, run):
    pytester.makepyfile(test_mod=RECORDED)
    run("--simperf-update-baseline")
    run("--simperf", "--junitxml=junit.xml").assert_outcomes(passed=1)
    xml = (pytester.path / "junit.xml").read_text()
    assert '<property name="simperf_severity" value="OK"' in xml
    assert '<property name="simperf_sla_status" value="WITHIN_SLA"' in xml
    assert 'name="simperf_phases"' in xml


def test_add_baseline_session_pools_sessions_and_widens_the_margin(
    pytester, run, monkeypatch, read_json
):
    pytester.makepyfile(test_mod=RECORDED)
    run("--simperf-update-baseline")
    for scale in ("1.2", "0.85"):  # two more recording sessions, the machine drifting
        monkeypatch.setenv("SIMPERF_TEST_SCALE", scale)
        run("--simperf-add-baseline-session").assert_outcomes(passed=1)
    entry = read_json(pytester.path / "baselines" / "test_mod.json")["tests"]["test_step"]
    phase = entry["phases"]["step"]
    assert len(phase["samples_s"]) == 21
    assert phase["session_medians"] == pytest.approx([0.1, 0.12, 0.085])
    assert phase["session_spread"] > 0.1
    # +22% is within what these sessions showed between themselves: not claimed.
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "1.22")
    result = run("--simperf", "--simperf-json=r.json")
    result.assert_outcomes(passed=1)
    (checked,) = read_json("r.json")["tests"][0]["phases"]
    assert checked["severity"] == "OK"
    assert checked["too_noisy"] is True
    # A doubling is still far past that noise.
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "2.0")
    run("--simperf").assert_outcomes(failed=1)


WALL_ONLY = RECORDED.replace(", cpu_s=samples)  # CPU-bound, as DuckDB work is", ")")


@pytest.mark.parametrize(("scale", "outcome"), [(1.22, "passed"), (1.5, "failed")])
def test_one_session_wall_baseline_assumes_drift_and_says_how_to_narrow_it(
    pytester, run, monkeypatch, read_json, scale, outcome
):
    pytester.makepyfile(test_mod=WALL_ONLY)
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    monkeypatch.setenv("SIMPERF_TEST_SCALE", str(scale))
    result = run("--simperf", "--simperf-json=report.json")
    result.assert_outcomes(**{outcome: 1})
    (phase,) = read_json(pytester.path / "report.json")["tests"][0]["phases"]
    assert phase["time_metric"] == "wall"
    assert "drift ±8.0% assumed: 1 recording session" in phase["why"]
    assert phase["too_noisy"]
    result.stdout.fnmatch_lines(["noisy*--simperf-add-baseline-session*"])


def test_update_says_when_an_entry_pools_fewer_than_three_sessions(pytester, run, read_json):
    pytester.makepyfile(test_mod=RECORDED)
    first = run("--simperf-update-baseline")
    first.stdout.fnmatch_lines(["note: 1 recorded test(s) pool fewer than 3 sessions*"])
    run("--simperf-add-baseline-session").stdout.fnmatch_lines(["note: 1 recorded test(s)*"])
    third = run("--simperf-add-baseline-session", "--simperf-json=report.json")
    assert "pool fewer than 3 sessions" not in third.stdout.str()
    assert read_json(pytester.path / "report.json")["baselines"]["few_sessions"] == []
    entry = read_json(pytester.path / "baselines" / "test_mod.json")["tests"]["test_step"]
    assert len(entry["phases"]["step"]["session_cpu_medians"]) == 3
