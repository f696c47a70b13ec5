"""The ``simperf_dbt`` fixture end to end: pytest runs of the shipped project at small scale.

Runs go through a subprocess: dbt loads a compiled extension (dbt_extractor) that cannot be
imported twice in one process, which pytester's in-process runs would do.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


def use_shipped_project(pytester: pytest.Pytester, shipped: Path, sla: str) -> None:
    """Point simperf_dbt at the shipped project, with ``sla`` as the component SLA lines."""
    pytester.makepyprojecttoml(
        f"""
        [tool.pytest.ini_options]
        simperf_dbt_project = "{shipped.as_posix()}"

        [tool.simperf.sla]
        {sla}
        """
    )


@pytest.fixture
def project(pytester: pytest.Pytester, shipped_project: Path) -> pytest.Pytester:
    """A pytester dir whose pyproject points simperf_dbt at the shipped project."""
    use_shipped_project(pytester, shipped_project, "fct_workforce_snapshot = 1000")
    return pytester


def phases_of(report: dict) -> dict[str, dict]:
    (test,) = report["tests"]
    return {
        (p["name"] if p["year"] is None else f"{p['name']}@{p['year']}"): p for p in test["phases"]
    }


def test_each_model_and_year_becomes_a_phase(project, run, read_json, shipped_models):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=300, years=2, seed=3)
        def test_pipeline(simperf, simperf_dbt):
            built = simperf_dbt.run_years()
            assert [inv.year for inv in built] == simperf_dbt.simulation_years == [2025, 2026]
            assert [inv.full_refresh for inv in built] == [True, False]
            simperf_dbt.rebuild_year(2025, rounds=2)
            assert simperf_dbt.query("select count(*) from census")[0][0] >= 300
        """
    )
    result = run("--simperf", "--simperf-json=report.json", subprocess=True)
    result.assert_outcomes(passed=1)
    # Progress, one line per year (pytest's output here is not a terminal).
    result.stdout.fnmatch_lines(
        [
            "simperf_dbt: 2025 (1/2) built: 12 models in * s",
            "simperf_dbt: 2026 (2/2) built: 12 models in * s",
            "simperf_dbt: rebuild of 2025, round 1/2 built: 12 models in * s",
            "simperf_dbt: rebuild of 2025, round 2/2 built: 12 models in * s",
        ]
    )
    phases = phases_of(read_json(project.path / "report.json"))
    for year in (2025, 2026):
        for name in (*shipped_models, "dbt_total", "dbt_overhead", "dbt_parse"):
            assert f"{name}@{year}" in phases, f"{name}@{year} not recorded"
        # Parsing is a figure of its own: once per year's vars; the rebuilds reuse 2025's.
        assert len(phases[f"dbt_parse@{year}"]["samples_s"]) == 1
        assert phases[f"dbt_parse@{year}"]["median_s"] > 0
    # Two rebuilds of 2025 are phases of their own, apart from the first build of 2025.
    assert len(phases["fct_yearly_events@2025"]["samples_s"]) == 1
    assert len(phases["fct_yearly_events@2026"]["samples_s"]) == 1
    for name in (*shipped_models, "dbt_total", "dbt_overhead"):
        assert len(phases[f"{name}:rebuild@2025"]["samples_s"]) == 2, name
        assert f"{name}:rebuild@2026" not in phases
    assert "dbt_parse:rebuild@2025" not in phases
    # Each model's own DuckDB work, counted between dbt's NodeStart and NodeFinished: exact
    # counters per model, year and rebuild for the plan gate.
    for key in [f"{name}@{year}" for name in shipped_models for year in (2025, 2026)]:
        assert phases[key]["rows_scanned"] is not None, key
        assert phases[key]["counters_complete"], (key, phases[key]["counters_note"])
    assert phases["fct_yearly_events:rebuild@2025"]["intermediate_rows"] > 0
    assert (
        phases["int_workforce_state@2026"]["rows_scanned"]
        > phases["stg_census@2026"]["rows_scanned"]
    )
    events = phases["fct_yearly_events@2026"]
    assert events["rows"] > 300  # this year's events: a raise for nearly everyone, and more
    assert events["rows_per_s"] > 0
    total, overhead = phases["dbt_total@2026"], phases["dbt_overhead@2026"]
    model_time = sum(phases[f"{name}@2026"]["median_s"] for name in shipped_models)
    assert total["median_s"] > model_time
    assert 0 < overhead["median_s"] < total["median_s"]
    assert phases["fct_workforce_snapshot@2026"]["sla_status"] == "WITHIN_SLA"


def test_fixture_without_simperf_runs_dbt_in_its_own_folder(project, run, shipped_project):
    before = sorted(p.name for p in shipped_project.iterdir())
    project.makepyfile(
        f"""
        import json
        import pytest
        from pathlib import Path

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        def test_table_census(simperf_dbt, tmp_path_factory):
            (inv,) = simperf_dbt.run_years()
            assert simperf_dbt.simperf is None  # nothing recorded without the simperf fixture
            assert inv.result("fct_yearly_events").status == "success"
            base = tmp_path_factory.getbasetemp()
            assert simperf_dbt.path.is_relative_to(base)
            assert simperf_dbt.project.target_path.is_relative_to(base)
            assert simperf_dbt.project_dir == Path({str(shipped_project)!r})
            profile = json.loads((simperf_dbt.project.profiles_dir / "profiles.yml").read_text())
            output = profile["simperf_workforce"]["outputs"]["simperf"]
            assert output["settings"] == {{"threads": 2}}  # from --simperf-duckdb-threads
            assert output["threads"] == 1  # dbt runs one model at a time

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        @pytest.mark.simperf_dbt(
            census="parquet", vars={{"random_seed": 9}}, reuse_manifest=False
        )
        def test_parquet_census_dbt_parsing_each_run(simperf_dbt):
            assert simperf_dbt.project.vars["census_parquet"].endswith("census.parquet")
            assert simperf_dbt.query(
                "select count(*) from information_schema.tables where table_name = 'census'"
            ) == [(0,)]
            (inv,) = simperf_dbt.run_years()
            assert inv.vars["random_seed"] == 9
            assert (simperf_dbt.project.parse_count, inv.parse_s) == (0, None)
            assert simperf_dbt.query("select count(*) from fct_workforce_snapshot")[0][0] > 0

        @pytest.mark.simperf_dbt(census="csv")
        def test_bad_census_option(simperf_dbt):
            pass

        @pytest.mark.simperf_dbt(project="no/such/dir")
        def test_missing_project(simperf_dbt):
            pass

        @pytest.mark.simperf_dbt(reuse_manifest="no")
        def test_bad_reuse_manifest(simperf_dbt):
            pass
        """
    )
    result = run("--simperf-duckdb-threads=2", subprocess=True)
    result.assert_outcomes(passed=2, errors=3)
    result.stdout.fnmatch_lines(
        [
            "*census must be one of table, parquet, got 'csv' (from marker*",
            "*no dbt project at *no/such/dir (from marker*",
            "*simperf_dbt(reuse_manifest=...) must be True or False, got 'no'*",
        ]
    )
    assert sorted(p.name for p in shipped_project.iterdir()) == before  # no target/ or logs/ left


def test_census_var_names_the_projects_own_var(pytester, run, shipped_project):
    """A project whose census var is ``census_parquet_path``: set for the suite in the ini
    file, or for one test in the marker (which wins)."""
    project = pytester.path / "renamed_project"
    shutil.copytree(shipped_project, project, ignore=shutil.ignore_patterns("target", "logs"))
    for path in (project / "dbt_project.yml", project / "models/staging/stg_census.sql"):
        text = path.read_text()
        assert "census_parquet" in text
        path.write_text(text.replace("census_parquet", "census_parquet_path"))
    pytester.makepyprojecttoml(
        f"""
        [tool.pytest.ini_options]
        simperf_dbt_project = "{project.as_posix()}"
        simperf_dbt_census = "parquet"
        simperf_dbt_census_var = "census_parquet_path"
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        def test_from_ini(simperf_dbt):
            assert simperf_dbt.project.vars["census_parquet_path"].endswith("census.parquet")
            assert "census_parquet" not in simperf_dbt.project.vars
            simperf_dbt.run_years()  # there is no census table: only the Parquet file works
            assert simperf_dbt.query("select count(*) from stg_census")[0][0] >= 200

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        @pytest.mark.simperf_dbt(census_var="census_file")
        def test_marker_wins(simperf_dbt):
            assert set(simperf_dbt.project.vars) == {"census_file"}

        @pytest.mark.simperf_dbt(census_var="census parquet")
        def test_not_a_var_name(simperf_dbt):
            pass
        """
    )
    result = run(subprocess=True)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*census_var must be a dbt var name*got 'census parquet' "
            "(from marker simperf_dbt(census_var=...))*"
        ]
    )


def test_phases_from_xdist_workers_reach_one_report(project, run, read_json, shipped_models):
    project.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        @pytest.mark.parametrize("seed", [1, 2])
        def test_pipeline(simperf, simperf_dbt, seed):
            simperf_dbt.run_years(vars={"random_seed": seed})
        """
    )
    result = run("-n", "2", "--simperf", "--simperf-json=report.json", subprocess=True)
    result.assert_outcomes(passed=2)
    report = read_json(project.path / "report.json")
    assert len(report["tests"]) == 2
    for test in report["tests"]:
        names = {p["name"] for p in test["phases"] if p["year"] == 2025}
        assert {*shipped_models, "dbt_total", "dbt_overhead"} <= names


def test_per_model_sla_from_configuration_fails_the_test(project, run, read_json, shipped_project):
    use_shipped_project(project, shipped_project, "fct_yearly_events = 0.000001")
    project.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        def test_pipeline(simperf, simperf_dbt):
            simperf_dbt.run_years()
            simperf_dbt.rebuild_year(2025)
        """
    )
    result = run("--simperf", "--simperf-json=report.json", subprocess=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*fct_yearly_events*"])
    phases = phases_of(read_json(project.path / "report.json"))
    # The model's SLA holds for its rebuilds too.
    for key in ("fct_yearly_events@2025", "fct_yearly_events:rebuild@2025"):
        assert phases[key]["sla_status"] == "SLA_BREACH", key
        assert phases[key]["sla_seconds"] == pytest.approx(0.000001)
    assert phases["int_workforce_state@2025"]["sla_status"] is None
    assert phases["int_workforce_state:rebuild@2025"]["sla_status"] is None


def test_failing_model_fails_the_test_and_keeps_the_baseline(project, run):
    test_file = """
        import pytest

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        @pytest.mark.simperf_dbt(vars=VARS)
        def test_pipeline(simperf, simperf_dbt):
            simperf_dbt.run_years()
        """
    project.makepyfile(test_pipeline=test_file.replace("VARS", "{}"))
    run("--simperf-update-baseline", subprocess=True).assert_outcomes(passed=1)
    (baseline,) = (project.path / "baselines").rglob("*.json")
    recorded = baseline.read_bytes()
    assert b"fct_yearly_events@2025" in recorded

    project.makepyfile(
        test_pipeline=test_file.replace("VARS", '{"target_growth_rate": "no_such_column"}')
    )
    result = run("--simperf-update-baseline", subprocess=True)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*DbtRunError*dbt build (simulation year 2025) failed*",
            "*model int_hiring_events ?error?: Runtime Error in model int_hiring_events*",
            '*Binder Error: Referenced column "no_such_column" not found*',
            "*skipped because of the above: fct_yearly_events, int_workforce_state, "
            "fct_workforce_snapshot and * data tests",
            "*dbt's full log: */logs/dbt.log",
        ]
    )
    # The model and dbt's message, not dbt's log of every node (which -v brings back).
    result.stdout.no_fnmatch_line("*START sql table model*")
    assert len(result.outlines) < 60, "\n".join(result.outlines)
    assert baseline.read_bytes() == recorded

    verbose = run("--simperf-update-baseline", "-v", subprocess=True)
    verbose.assert_outcomes(failed=1)
    verbose.stdout.fnmatch_lines(
        [
            "*Captured stdout call*",
            "*START sql table model main.int_hiring_events*",
            "*ERROR creating sql table model main.int_hiring_events*",
        ]
    )
    assert baseline.read_bytes() == recorded


def test_gate_classes_a_quadratic_model_critical_through_its_counters(project, run, read_json):
    """The pathological fct_yearly_events (same rows, quadratic cost) against the baseline of
    the standard one, recorded minutes earlier on this machine: caught on its rebuilds, which
    are judged on their own five samples a side. Three years of history at 3,000 employees make
    the rebuild about ten times slower: clear of the noise margin even on a loaded machine,
    where two years at 2,000 (2.5 times) were not."""
    test_file = """
        import pytest

        @pytest.mark.workforce(employees=3000, years=3, seed=5)
        @pytest.mark.simperf_dbt(vars={"events_strategy": "STRATEGY"}, count_rows=False)
        def test_pipeline(simperf, simperf_dbt):
            simperf_dbt.run_years()
            simperf_dbt.rebuild_year(2027, rounds=5, select="fct_yearly_events")
        """
    project.makepyfile(test_pipeline=test_file.replace("STRATEGY", "standard"))
    run("--simperf-update-baseline", subprocess=True).assert_outcomes(passed=1)

    project.makepyfile(test_pipeline=test_file.replace("STRATEGY", "pathological"))
    result = run("--simperf", "--simperf-json=report.json", subprocess=True)
    result.assert_outcomes(failed=1)
    phases = phases_of(read_json(project.path / "report.json"))
    rebuilds = phases["fct_yearly_events:rebuild@2027"]
    assert len(rebuilds["samples_s"]) == 5
    # Caught by DuckDB's exact counters of that model alone, whatever the machine's load: the
    # pathological model rescans the whole history with a correlated subquery.
    assert rebuilds["counter_severity"] == "CRITICAL", rebuilds["why"]
    assert rebuilds["plan_changed"]
    assert rebuilds["rows_scanned"] > rebuilds["baseline_rows_scanned"]
    assert rebuilds["intermediate_rows"] > 2 * rebuilds["baseline_intermediate_rows"]
    assert rebuilds["severity"] == "CRITICAL", rebuilds["why"]
    assert len(phases["fct_yearly_events@2027"]["samples_s"]) == 1  # the first build, apart
    result.stdout.fnmatch_lines(["*regression in fct_yearly_events:rebuild@2027*"])


def test_unmeasured_perf_test_builds_each_year_once(project, run):
    """Without --simperf a perf test runs once, unmeasured: rounds would repeat identical
    builds for samples nobody takes, so one round is built; a bad ``rounds`` still fails."""
    project.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=200, years=2, seed=1)
        def test_rounds_collapse(simperf, simperf_dbt):
            assert simperf.measuring is False
            built = simperf_dbt.run_years(rounds=3, select="stg_census")
            assert [inv.year for inv in built] == simperf_dbt.simulation_years
            rebuilt = simperf_dbt.rebuild_year(simperf_dbt.simulation_years[-1], rounds=4,
                                               select="stg_census")
            assert len(rebuilt) == 1

        @pytest.mark.workforce(employees=200, years=1, seed=1)
        def test_bad_rounds_still_fails(simperf, simperf_dbt):
            simperf_dbt.run_years(rounds=0)
        """
    )
    result = run(subprocess=True)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*run_years(): rounds must be a positive int, got 0*"])
