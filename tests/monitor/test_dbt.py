"""Per-model phases from dbt's run results, on the shipped example project (when dbt is here)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_simperf import history, monitor
from pytest_simperf.errors import UsageError

SHIPPED = Path(__file__).resolve().parents[2] / "pytest_simperf" / "dbt" / "example_project"


def test_a_dbt_invocation_becomes_one_phase_per_model_with_failures_marked(rig):
    from pytest_simperf.dbt.runner import DbtInvocation, NodeResult

    def node(name, status="success", seconds=0.5, rows=100, kind="model"):
        return NodeResult(name, f"{kind}.p.{name}", kind, status, seconds, rows, "ok")

    invocation = DbtInvocation(
        command="build",
        args=("build",),
        vars={},
        year=2026,
        full_refresh=False,
        success=False,
        wall_s=3.0,
        results=(
            node("stg_census", seconds=0.25, rows=400),
            node("int_hires", status="error", seconds=0.1, rows=None),
            node("not_null_x", kind="test"),  # a data test is a check, not a pipeline step
            node("fct_yearly_events", status="skipped", seconds=0.0, rows=None),
        ),
    )
    with rig.run() as run:
        recorded = run.record_dbt(invocation)
    assert [(r.component, r.year, r.status) for r in recorded] == [
        ("stg_census", 2026, "ok"),
        ("int_hires", 2026, "failed"),
        ("fct_yearly_events", 2026, "failed"),
    ]
    stored = {r["phase"]: r for r in history.load_run(rig.history, run.run_id)["performance"]}
    assert (stored["stg_census"]["median_s"], stored["stg_census"]["rows"]) == (0.25, 400)
    assert stored["stg_census"]["metric"] == "wall"  # dbt gives no CPU time per model
    assert stored["int_hires"]["error"] == "dbt error: ok"
    options = history.load_run(rig.history, run.run_id)["run"]["options"]
    assert options["component_kinds"]["stg_census"] == "dbt_model"


def test_record_dbt_refuses_what_is_not_a_run_result(rig):
    with rig.run() as run, pytest.raises(UsageError, match="expected a DbtInvocation"):
        run.record_dbt(SimpleNamespace(nothing=True))


def test_the_shipped_project_built_under_a_run_records_each_model(tmp_path):
    pytest.importorskip("dbt.cli.main")
    from pytest_simperf.dbt.runner import DbtProject
    from pytest_simperf.workforce import WorkforceSpec, build_database

    spec = WorkforceSpec(employees=300, years=2, seed=3, start_year=2025)
    database = build_database(spec, tmp_path / "workforce.duckdb")
    project = DbtProject(SHIPPED, database, tmp_path / "work", start_year=2025, console_log=False)
    with monitor.run(
        "dbt_nightly", history=tmp_path / "h.duckdb", config=monitor.MonitorConfig()
    ) as run:
        invocation = run.dbt(project, "build", year=2025, full_refresh=True)
    assert invocation.success
    recorded = {r.component for r in run.results}
    assert {m.name for m in invocation.models} == recorded
    assert "fct_yearly_events" in recorded
    assert all(r.year == 2025 and r.status == "ok" for r in run.results)
    stored = history.load_run(tmp_path / "h.duckdb", run.run_id)["performance"]
    assert len(stored) == len(recorded)
