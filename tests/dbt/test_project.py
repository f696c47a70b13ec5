"""The shipped dbt project, built for real at small scale through ``DbtProject``."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_simperf.dbt.runner import DbtInvocation, DbtProject, DbtRunError

YEARS = [2025, 2026, 2027]
SEEDS = {"hazard_rates_by_level", "termination_tenure_multipliers"}


def events_of(project: DbtProject, year: int | None = None) -> list[tuple]:
    """Every event row in a stable order, to compare two builds exactly."""
    where = "" if year is None else f"where simulation_year = {int(year)}"
    return project.query(
        "select event_id, effective_date, event_type, compensation_amount, level_id, "
        f"event_sequence, event_number from fct_yearly_events {where} order by event_id"
    )


def snapshot_of(project: DbtProject) -> list[tuple]:
    return project.query(
        "select simulation_year, employee_id, employment_status, level_id, "
        "current_compensation from fct_workforce_snapshot order by all"
    )


@dataclasses.dataclass
class Built:
    project: DbtProject
    years: list[DbtInvocation]
    events_before_rebuild: list[tuple]
    snapshot_before_rebuild: list[tuple]
    rebuild: list[DbtInvocation]


@pytest.fixture(scope="module")
def built(make_project) -> Built:
    """Three years built in order, then the middle year rebuilt."""
    project = make_project()
    years = project.run_years(YEARS)
    events, snapshot = events_of(project), snapshot_of(project)
    rebuild = project.rebuild_year(YEARS[1])
    return Built(project, years, events, snapshot, rebuild)


def test_every_model_seed_and_data_test_reports_a_result(built, shipped_models):
    for inv in built.years + built.rebuild:
        assert inv.success
        assert {r.name for r in inv.models} == {*shipped_models, *SEEDS}
        assert all(r.status == "success" for r in inv.models)
        assert all(r.execution_time > 0 for r in inv.models)
        assert len(inv.tests) >= 10
        assert all(r.status == "pass" for r in inv.tests), inv.describe_failure()
        assert 0 < inv.model_time_s < inv.node_time_s < inv.wall_s
        assert inv.overhead_s == pytest.approx(inv.wall_s - inv.node_time_s)


def test_first_year_is_a_full_refresh_and_later_years_are_incremental(built):
    assert [inv.year for inv in built.years] == YEARS
    assert [inv.full_refresh for inv in built.years] == [True, False, False]
    assert ["--full-refresh" in inv.args for inv in built.years] == [True, False, False]
    assert [inv.vars["simulation_year"] for inv in built.years] == YEARS
    assert {inv.vars["start_year"] for inv in built.years} == {2025}
    assert all(not inv.full_refresh and inv.year == 2026 for inv in built.rebuild)


def test_headcount_is_conserved_year_over_year(built):
    rows = built.project.query(
        """
        with active as (
            select simulation_year, count(*) filter (where employment_status = 'active') as n
            from fct_workforce_snapshot group by 1
        ), moves as (
            select simulation_year,
                   count(*) filter (where event_type = 'hire') as hires,
                   count(*) filter (where event_type = 'termination') as terms
            from fct_yearly_events group by 1
        )
        select a.simulation_year, a.n, m.hires, m.terms
        from active a join moves m using (simulation_year)
        order by 1
        """
    )
    census = built.project.query("select count(*) from census where active")[0][0]
    assert [r[0] for r in rows] == YEARS
    previous = census
    for _year, active, hires, terms in rows:
        assert hires > 0
        assert terms > 0
        assert active == previous + hires - terms
        previous = active


def test_events_follow_the_rules_of_the_simulation(built):
    q = built.project.query
    assert q("select count(*) - count(distinct event_id) from fct_yearly_events") == [(0,)]
    assert q(
        "select count(*) from (select simulation_year, employee_id from fct_workforce_snapshot "
        "group by all having count(*) > 1)"
    ) == [(0,)]
    # A promotion moves exactly one level up from the previous year's level.
    assert q(
        """
        select count(*) from fct_yearly_events e
        join int_workforce_state s
          on s.employee_id = e.employee_id and s.simulation_year = e.simulation_year - 1
        where e.event_type = 'promotion' and e.level_id <> s.level_id + 1
        """
    ) == [(0,)]
    # Nobody has an event after the year they left.
    assert q(
        """
        select count(*) from fct_yearly_events e
        join fct_yearly_events t on t.employee_id = e.employee_id and t.event_type = 'termination'
        where e.simulation_year > t.simulation_year
        """
    ) == [(0,)]
    # event_number numbers the whole history 1..n in event_id order.
    assert q(
        "select count(*) from (select event_number, row_number() over (order by event_id) rn "
        "from fct_yearly_events) where event_number <> rn"
    ) == [(0,)]


def test_accumulator_reads_only_the_previous_year_of_itself(built):
    compiled = next(
        built.project.target_path.rglob("compiled/**/int_workforce_state.sql")
    ).read_text()
    assert "where simulation_year = 2025" in compiled  # the last build was the 2026 rebuild
    assert "int_baseline_workforce" not in compiled  # not re-seeded from the census
    assert '"main"."int_workforce_state"' in compiled  # its own table: {{ this }}


def test_rebuilding_an_existing_year_changes_nothing(built):
    assert events_of(built.project) == built.events_before_rebuild
    assert snapshot_of(built.project) == built.snapshot_before_rebuild


def test_same_census_and_seed_give_the_same_events_another_seed_others(built, make_project):
    again = make_project()
    again.run_years(YEARS[:1])
    assert events_of(again) == events_of(built.project, YEARS[0])
    other = make_project(vars={"random_seed": 7})
    other.run_years(YEARS[:1])
    assert events_of(other) != events_of(built.project, YEARS[0])


def test_census_read_from_parquet_builds_the_same_events(built, make_project, tmp_path):
    first = make_project()
    parquet = tmp_path / "census.parquet"
    first.query(f"copy census to '{parquet}' (format parquet)")
    from_parquet = make_project(census_parquet=parquet)
    from_parquet.query("drop table census")  # the project must not need the table
    from_parquet.run_years(YEARS[:1])
    assert events_of(from_parquet) == events_of(built.project, YEARS[0])


def test_pathological_variant_builds_the_same_rows(built, make_project):
    slow = make_project(vars={"events_strategy": "pathological"})
    slow.run_years(YEARS[:2])
    assert events_of(slow) == [
        row for row in built.events_before_rebuild if row[0].startswith(("2025:", "2026:"))
    ]


def test_failing_model_names_itself_and_leaves_the_database_intact(make_project):
    project = make_project()
    project.run_years(YEARS[:1])
    before_events, before_snapshot = events_of(project), snapshot_of(project)
    with pytest.raises(DbtRunError) as caught:
        project.build(year=YEARS[1], vars={"target_growth_rate": "no_such_column"})
    message = str(caught.value)
    assert "dbt build (simulation year 2026) failed" in message
    assert "model int_hiring_events [error]" in message
    assert "no_such_column" in message  # dbt's (DuckDB's) own error text
    assert "skipped because of the above" in message
    assert "fct_yearly_events" in message
    assert caught.value.invocation is project.invocations[-1]
    # dbt's whole log is in the log file the message points to, not on the console.
    assert message.endswith(f"dbt's full log: {project.log_file}")
    assert "no_such_column" in project.log_file.read_text()
    assert events_of(project) == before_events
    assert snapshot_of(project) == before_snapshot
    project.build(year=YEARS[1])  # and the database still builds the year afterwards
    assert {
        r[0] for r in project.query("select distinct simulation_year from fct_workforce_snapshot")
    } == {2025, 2026}


def test_check_false_returns_the_failed_invocation(make_project):
    project = make_project()
    inv = project.build(
        year=YEARS[0], full_refresh=True, vars={"target_growth_rate": "x"}, check=False
    )
    assert not inv.success
    assert inv.result("int_hiring_events").status == "error"
    assert inv.result("stg_census").status == "success"


def test_building_a_year_before_its_previous_year_is_a_clear_error(make_project):
    project = make_project()
    with pytest.raises(DbtRunError, match="build simulation year 2025"):
        project.build(year=YEARS[1])
    project.run_years(YEARS[:1])
    with pytest.raises(DbtRunError, match="simulation year 2026 has not been built"):
        project.build(year=YEARS[2])
    with pytest.raises(DbtRunError, match="a full refresh must start at start_year"):
        project.build(year=YEARS[1], full_refresh=True)
