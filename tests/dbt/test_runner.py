"""The runner's pure parts: arguments, profile, result conversion, failure messages (no dbt)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_simperf.dbt.runner import (
    DbtInvocation,
    DbtProject,
    DbtRunError,
    NodeResult,
    node_result,
    profile_document,
    profile_name,
)
from pytest_simperf.errors import SimperfError, UsageError

SHIPPED = Path(__file__).resolve().parents[2] / "pytest_simperf" / "dbt" / "example_project"


def make_project(tmp_path: Path, **kwargs) -> DbtProject:
    return DbtProject(SHIPPED, tmp_path / "db.duckdb", tmp_path / "work", **kwargs)


def node(name, status="success", time=0.5, resource_type="model", message=None):
    return NodeResult(
        name=name,
        unique_id=f"{resource_type}.p.{name}",
        resource_type=resource_type,
        status=status,
        execution_time=time,
        rows_affected=None,
        message=message,
    )


def invocation(results, wall=2.0, success=True, year=2026, error=None):
    return DbtInvocation(
        command="build",
        args=("build",),
        vars={"simulation_year": year},
        year=year,
        full_refresh=False,
        success=success,
        wall_s=wall,
        results=tuple(results),
        error=error,
    )


def test_profile_name_is_read_from_dbt_project_yml(tmp_path):
    assert profile_name(SHIPPED) == "simperf_workforce"
    (tmp_path / "dbt_project.yml").write_text("name: x\nprofile: 'my_profile'  # mine\n")
    assert profile_name(tmp_path) == "my_profile"


def test_profile_name_missing_is_a_usage_error(tmp_path):
    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    with pytest.raises(UsageError, match="no 'profile:' key"):
        profile_name(tmp_path)


def test_profile_pins_dbt_to_one_thread_and_duckdb_to_the_setting(tmp_path):
    doc = profile_document("p", tmp_path / "x.duckdb", duckdb_threads=2)
    output = doc["p"]["outputs"][doc["p"]["target"]]
    assert output == {
        "type": "duckdb",
        "path": str(tmp_path / "x.duckdb"),
        "threads": 1,
        "settings": {"threads": 2},
    }
    auto = profile_document("p", tmp_path / "x.duckdb", duckdb_threads=None)
    assert "settings" not in auto["p"]["outputs"]["simperf"]


def test_project_writes_its_profile_into_the_work_dir_not_the_project(tmp_path):
    project = make_project(tmp_path, duckdb_threads=3)
    written = json.loads((tmp_path / "work" / "profiles" / "profiles.yml").read_text())
    assert written["simperf_workforce"]["outputs"]["simperf"]["settings"] == {"threads": 3}
    assert project.target_path == tmp_path / "work" / "target"
    assert not (SHIPPED / "profiles.yml").exists()


def test_not_a_project_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match=r"no dbt_project\.yml"):
        DbtProject(tmp_path, tmp_path / "db.duckdb", tmp_path / "work")


def test_command_args_carry_paths_vars_selection_and_full_refresh(tmp_path):
    project = make_project(tmp_path)
    args = project.command_args(
        "build",
        select=["fct_yearly_events+", "stg_census"],
        exclude="int_merit_events",
        vars={"simulation_year": 2026, "start_year": 2025},
        full_refresh=True,
    )
    assert args[0] == "build"
    assert args[args.index("--target-path") + 1] == str(tmp_path / "work" / "target")
    assert args[args.index("--log-path") + 1] == str(tmp_path / "work" / "logs")
    assert args[args.index("--profiles-dir") + 1] == str(tmp_path / "work" / "profiles")
    assert json.loads(args[args.index("--vars") + 1]) == {
        "simulation_year": 2026,
        "start_year": 2025,
    }
    select_at = args.index("--select")
    assert args[select_at + 1 : select_at + 3] == ["fct_yearly_events+", "stg_census"]
    assert args[args.index("--exclude") + 1] == "int_merit_events"
    assert "--full-refresh" in args
    assert "--no-send-anonymous-usage-stats" in args  # offline machines: no tracking calls


@pytest.mark.parametrize(
    ("command", "kwargs", "message"),
    [
        ("compile", {}, "must be one of"),
        ("test", {"full_refresh": True}, "no --full-refresh"),
        ("run", {"select": ""}, "select must be"),
        ("run", {"exclude": [1]}, "exclude must be"),
    ],
)
def test_bad_command_args_are_usage_errors(tmp_path, command, kwargs, message):
    with pytest.raises(UsageError, match=message):
        make_project(tmp_path).command_args(command, **kwargs)


def test_year_vars_are_injected_and_user_vars_win(tmp_path):
    project = make_project(tmp_path, vars={"random_seed": 7}, start_year=2025)
    assert project._vars_for(None, 2027) == {
        "random_seed": 7,
        "simulation_year": 2027,
        "start_year": 2025,
    }
    assert project._vars_for({"start_year": 2026}, 2027)["start_year"] == 2026
    assert project._vars_for(None, None) == {"random_seed": 7}


def test_census_parquet_becomes_an_absolute_var(tmp_path):
    project = make_project(tmp_path, census_parquet=tmp_path / "c" / "census.parquet")
    assert project.vars["census_parquet"] == str((tmp_path / "c" / "census.parquet").resolve())


def test_census_parquet_goes_in_the_projects_own_var(tmp_path):
    project = make_project(
        tmp_path, census_parquet=tmp_path / "census.parquet", census_var="census_parquet_path"
    )
    assert project.vars == {"census_parquet_path": str((tmp_path / "census.parquet").resolve())}
    assert make_project(tmp_path, census_var="census_parquet_path").vars == {}


@pytest.mark.parametrize("census_var", ["", "  ", None])
def test_census_var_must_name_a_var(tmp_path, census_var):
    with pytest.raises(UsageError, match="census_var must name a dbt var"):
        make_project(tmp_path, census_var=census_var)


def test_console_log_off_keeps_the_full_log_in_the_log_file(tmp_path):
    quiet = make_project(tmp_path, console_log=False).command_args("build")
    assert quiet[quiet.index("--log-level") + 1] == "none"
    assert quiet[quiet.index("--log-level-file") + 1] == "debug"
    assert "--log-level" not in make_project(tmp_path).command_args("build")
    assert make_project(tmp_path).log_file == tmp_path / "work" / "logs" / "dbt.log"


@pytest.mark.parametrize("rounds", [0, -1, 1.5, True])
def test_rounds_must_be_positive_ints(tmp_path, rounds):
    project = make_project(tmp_path)
    with pytest.raises(UsageError, match="rounds must be a positive int"):
        project.rebuild_year(2026, rounds=rounds)
    with pytest.raises(UsageError, match="rounds must be a positive int"):
        project.run_years([2025], rounds=rounds)


@pytest.mark.parametrize("years", [[], ["2025"], [2025.0]])
def test_run_years_rejects_bad_years_before_running_dbt(tmp_path, years):
    with pytest.raises(UsageError):
        make_project(tmp_path).run_years(years)


def test_node_result_reads_dbt_run_results_duck_typed():
    raw = SimpleNamespace(
        node=SimpleNamespace(
            name="fct_yearly_events",
            unique_id="model.p.fct_yearly_events",
            resource_type=SimpleNamespace(value="model"),
            relation_name='"db"."main"."fct_yearly_events"',
            config=SimpleNamespace(materialized="incremental"),
        ),
        status=SimpleNamespace(value="success"),
        execution_time=0.25,
        adapter_response={"rows_affected": 12},
        message="OK",
    )
    result = node_result(raw)
    assert result == NodeResult(
        name="fct_yearly_events",
        unique_id="model.p.fct_yearly_events",
        resource_type="model",
        status="success",
        execution_time=0.25,
        rows_affected=12,
        message="OK",
        relation_name='"db"."main"."fct_yearly_events"',
        materialized="incremental",
    )
    raw.adapter_response = {"_message": "OK"}  # dbt-duckdb reports no row count
    assert node_result(raw).rows_affected is None


def test_overhead_is_wall_time_minus_time_inside_nodes():
    inv = invocation(
        [node("a", time=0.5), node("b", time=0.25), node("t", resource_type="test", time=0.25)],
        wall=2.0,
    )
    assert inv.model_time_s == pytest.approx(0.75)
    assert inv.node_time_s == pytest.approx(1.0)
    assert inv.overhead_s == pytest.approx(1.0)
    assert [r.name for r in inv.models] == ["a", "b"]
    assert [r.name for r in inv.tests] == ["t"]
    assert inv.result("b").execution_time == 0.25
    with pytest.raises(KeyError, match="no node named 'zzz'"):
        inv.result("zzz")


def test_overhead_never_goes_negative():
    assert invocation([node("a", time=3.0)], wall=2.0).overhead_s == 0.0


def test_failure_message_names_the_model_and_carries_dbts_message():
    inv = invocation(
        [
            node("stg_census"),
            node("int_hiring_events", status="error", message="Binder Error: column x"),
            node("fct_yearly_events", status="skipped"),
            node(
                "assert_headcount_conservation",
                status="fail",
                resource_type="test",
                message="Got 1 result, configured to fail if != 0",
            ),
        ],
        success=False,
    )
    text = inv.describe_failure()
    assert text.startswith("dbt build (simulation year 2026) failed:")
    assert "model int_hiring_events [error]: Binder Error: column x" in text
    assert "test assert_headcount_conservation [fail]: Got 1 result" in text
    assert text.endswith("skipped because of the above: fct_yearly_events")
    assert "stg_census" not in text
    assert [r.name for r in inv.failures] == [
        "int_hiring_events",
        "fct_yearly_events",
        "assert_headcount_conservation",
    ]


def test_failure_message_puts_broken_nodes_before_failed_tests():
    inv = invocation(
        [
            node("assert_headcount", status="fail", resource_type="test", message="Got 3 results"),
            node("int_hiring_events", status="error", message="Binder Error"),
        ],
        success=False,
    )
    text = inv.describe_failure()
    assert text.index("model int_hiring_events [error]") < text.index("test assert_headcount")


def test_failure_message_carries_errors_dbt_only_logged():
    """An ephemeral model has no result of its own: its compile error is only in dbt's log, and
    the model reading it is merely skipped, with a reason that does not say what went wrong."""
    logged = (
        "  Compilation Error in model int_prior_year_state (models/int_prior_year_state.sql)\n"
        "  simulation year 2025 has not been built\n"
    )
    inv = dataclasses.replace(
        invocation(
            [
                node(
                    "int_active_workforce_start",
                    status="skipped",
                    message="Compilation Error in model.p.int_active_workforce_start, caused by "
                    "compilation error in referenced ephemeral model model.p.int_prior_year_state",
                ),
                node("fct_yearly_events", status="skipped"),
            ],
            success=False,
        ),
        logged_errors=(logged,),
    )
    lines = inv.describe_failure().splitlines()
    assert lines[1] == (
        "  Compilation Error in model int_prior_year_state (models/int_prior_year_state.sql)"
    )
    assert lines[2] == "      simulation year 2025 has not been built"
    assert lines[3].startswith("  model int_active_workforce_start [skipped]: Compilation Error")
    assert lines[4] == "  skipped because of the above: fct_yearly_events"


def test_failure_message_does_not_repeat_a_logged_error_a_node_carries():
    message = "Runtime Error in model m (models/m.sql)\n  Binder Error: no column x"
    inv = dataclasses.replace(
        invocation([node("m", status="error", message=message)], success=False),
        logged_errors=("  Runtime Error in model m (models/m.sql)\n    Binder Error: no column x",),
    )
    assert inv.describe_failure().count("Binder Error") == 1


def test_skipped_list_names_pipeline_steps_and_counts_data_tests():
    inv = invocation(
        [
            node("int_hiring_events", status="error", message="Binder Error"),
            node("fct_yearly_events", status="skipped"),
            node("unique_event_id", status="skipped", resource_type="test"),
            node("int_workforce_state", status="skipped"),
            node("not_null_event_id", status="skipped", resource_type="test"),
        ],
        success=False,
    )
    assert inv.describe_failure().splitlines()[-1] == (
        "  skipped because of the above: fct_yearly_events, int_workforce_state and 2 data tests"
    )
    only_test = invocation(
        [
            node("m", status="error", message="x"),
            node("t", status="skipped", resource_type="test"),
        ],
        success=False,
    )
    assert only_test.describe_failure().endswith("skipped because of the above: 1 data test")


def test_failure_without_nodes_reports_dbts_exception():
    inv = invocation([], success=False, error="CompilationError: year 2026 has not been built")
    assert "CompilationError: year 2026 has not been built" in inv.describe_failure()


def test_dbt_run_error_is_a_simperf_error_carrying_the_invocation():
    inv = invocation([], success=False)
    error = DbtRunError("boom", inv)
    assert isinstance(error, SimperfError)
    assert error.invocation is inv
