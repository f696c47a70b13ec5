"""The shipped project built as production orchestrators build a year: four dbt invocations
with a Python step between them (``pytest_simperf.dbt.example.yearly_sequence``).

Each year must build exactly what one ``dbt build`` per year builds, the Python step must run
after the year's events and before its marts, and the ephemeral calendar must be compiled for
the year being built in every invocation that reads it.
"""

from __future__ import annotations

import dataclasses

import pytest

from pytest_simperf.dbt.example import LOG_TABLE, yearly_sequence
from pytest_simperf.dbt.runner import DbtInvocation, DbtProject

YEARS = [2025, 2026, 2027]
TABLES = ("fct_yearly_events", "int_workforce_state", "fct_workforce_snapshot")


@dataclasses.dataclass
class Built:
    sequenced: DbtProject
    runs: list[DbtInvocation]
    log: list[tuple]
    tables: dict[str, list[tuple]]
    one_build: DbtProject


def table(project: DbtProject, name: str) -> list[tuple]:
    return project.query(f"select * from {name} order by all")


@pytest.fixture(scope="module")
def built(make_project) -> Built:
    """Three years through the sequence, the log as it stood then, and three years built with
    one ``dbt build`` each for comparison."""
    sequenced = make_project()
    runs = sequenced.run_years(YEARS, sequence=yearly_sequence())
    log = sequenced.query(f"select * from {LOG_TABLE} order by simulation_year")
    tables = {name: table(sequenced, name) for name in TABLES}
    one_build = make_project()
    one_build.run_years(YEARS)
    return Built(sequenced, runs, log, tables, one_build)


def test_every_year_runs_the_four_dbt_steps_in_order(built):
    steps = [(inv.year, inv.step, inv.full_refresh) for inv in built.runs]
    labels = ["seed", "staging", "yearly_events", "accumulate"]
    assert steps == [(y, label, y == YEARS[0]) for y in YEARS for label in labels]
    assert all(inv.success for inv in built.runs)
    # The selectors split the year: no model is built twice, every model once.
    models = [r.name for inv in built.runs if inv.year == YEARS[1] for r in inv.models]
    assert len(models) == len(set(models))
    assert {"fct_yearly_events", "int_workforce_state", "int_hiring_events"} <= set(models)


@pytest.mark.parametrize("name", TABLES)
def test_the_sequence_builds_what_one_build_per_year_builds(built, name):
    assert built.tables[name] == table(built.one_build, name)


def test_the_python_step_ran_between_the_events_and_the_marts_of_each_year(built):
    project = built.sequenced
    census_active = project.query("select count(*) from census where active")[0][0]
    active_end = dict(
        project.query(
            "select simulation_year, count(*) filter (where employment_status = 'active') "
            "from fct_workforce_snapshot group by all"
        )
    )
    hires = dict(
        project.query(
            "select simulation_year, count(*) from fct_yearly_events "
            "where event_type = 'hire' group by all"
        )
    )
    expected = [
        (
            year,
            year,  # the ephemeral calendar, compiled for this year in a later invocation
            census_active if year == YEARS[0] else active_end[year - 1],
            hires[year],  # int_hiring_events as built for this year, before the marts
            None if year == YEARS[0] else year - 1,  # the marts not yet built for this year
        )
        for year in YEARS
    ]
    assert built.log == expected


def test_a_rebuilt_year_runs_the_sequence_again_and_changes_no_data(built):
    project = built.sequenced
    again = project.rebuild_year(YEARS[1], sequence=yearly_sequence())
    assert [inv.rebuild and not inv.full_refresh for inv in again] == [True] * 4
    assert {name: table(project, name) for name in TABLES} == built.tables
    row = project.query(f"select * from {LOG_TABLE} where simulation_year = ?", [YEARS[1]])
    assert row == [(YEARS[1], YEARS[1], built.log[1][2], built.log[1][3], YEARS[-1])]
