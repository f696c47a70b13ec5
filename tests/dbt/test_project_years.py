"""Every year of the shipped project builds the right data, however often its parse is reused.

The shipped project has what broke a reused manifest on real projects: an ephemeral model
reading the year var (``int_simulation_calendar``) that table models read, and a ``ref()``
chosen by a parse-time ``if`` on the year (``int_active_workforce_start`` reads the census in
the first year and the ephemeral ``int_prior_year_state`` after). Five years are built twice
over with reused parses and compared with dbt parsing inside every run, and each year is
checked against figures computed here from the previous year's snapshot.
"""

from __future__ import annotations

import dataclasses
import datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest

from pytest_simperf.dbt.runner import DbtInvocation, DbtProject

FIVE_YEARS = [2025, 2026, 2027, 2028, 2029]
GROWTH = Decimal("0.03")  # the project's target_growth_rate
TABLES = (
    "fct_yearly_events",
    "int_workforce_state",
    "fct_workforce_snapshot",
)


def table(project: DbtProject, name: str) -> list[tuple]:
    return project.query(f"select * from {name} order by all")


@dataclasses.dataclass
class FiveYears:
    reused: DbtProject
    reused_runs: list[DbtInvocation]
    dbt_parsed: DbtProject


@pytest.fixture(scope="module")
def five_years(make_project) -> FiveYears:
    """Five years, twice over (each round from a full refresh), reusing parses; and five years
    with dbt parsing inside every run, as ``dbt build`` on the command line does."""
    reused = make_project()
    runs = reused.run_years(FIVE_YEARS, rounds=2)
    dbt_parsed = make_project(reuse_manifest=False)
    dbt_parsed.run_years(FIVE_YEARS)
    return FiveYears(reused, runs, dbt_parsed)


def test_each_year_is_parsed_once_and_reused_by_the_second_round(five_years):
    first, second = five_years.reused_runs[:5], five_years.reused_runs[5:]
    assert five_years.reused.parse_count == 5  # one parse per year's vars
    assert all(inv.parse_s is not None and not inv.manifest_reused for inv in first)
    assert all(inv.parse_s is None and inv.manifest_reused for inv in second)
    assert [inv.year for inv in second] == FIVE_YEARS


@pytest.mark.parametrize("name", TABLES)
def test_reused_parses_build_what_dbt_builds_parsing_every_run(five_years, name):
    assert table(five_years.reused, name) == table(five_years.dbt_parsed, name)


def test_every_date_of_a_year_lies_in_that_year(five_years):
    """Every event is dated in its own year, whichever parse built it."""
    rows = five_years.reused.query(
        "select simulation_year, min(effective_date), max(effective_date) "
        "from fct_yearly_events group by all order by all"
    )
    assert [r[0] for r in rows] == FIVE_YEARS
    for year, first, last in rows:
        assert datetime.date(year, 1, 1) <= first <= last <= datetime.date(year, 12, 31)


def test_ages_and_tenures_are_measured_in_their_year(five_years):
    """The calendar is an ephemeral model on the year var: a stale compilation would measure a
    later year's ages and tenures in the first year."""
    rows = five_years.reused.query(
        "select simulation_year, birth_date, hire_date, termination_date, age, tenure_years "
        "from fct_workforce_snapshot"
    )
    assert {r[0] for r in rows} == set(FIVE_YEARS)
    for year, birth, hire, terminated, age, tenure in rows:
        # DuckDB's date_diff('year', a, b) counts the year boundaries between a and b.
        assert age == year - birth.year
        assert tenure == (terminated.year if terminated else year) - hire.year
    # int_active_workforce_start, a table last built for the last year: tenure on 1 January.
    starts = five_years.reused.query(
        "select hire_date, tenure_years from int_active_workforce_start"
    )
    assert starts
    assert all(tenure == FIVE_YEARS[-1] - hire.year for hire, tenure in starts)


def test_each_year_starts_from_the_previous_years_end(five_years):
    """Year t's population is the employees active at the end of t-1 (the census for the first
    year: the branch of the parse-time ``if``), plus t's hires; its leavers are those with a
    termination event in t; and it hires enough to grow by the target rate."""
    project = five_years.reused
    active = {r[0] for r in project.query("select employee_id from census where active")}
    for year in FIVE_YEARS:
        snapshot = dict(
            project.query(
                "select employee_id, employment_status from fct_workforce_snapshot "
                "where simulation_year = ?",
                [year],
            )
        )
        events = project.query(
            "select employee_id, event_type from fct_yearly_events where simulation_year = ?",
            [year],
        )
        hired = {e for e, kind in events if kind == "hire"}
        left = {e for e, kind in events if kind == "termination"}
        movers = {e for e, kind in events if kind in ("termination", "promotion", "raise")}
        assert movers <= active, f"{year}: an event for someone not active at the start"
        assert set(snapshot) == active | hired, year
        assert {e for e, status in snapshot.items() if status == "terminated"} == left, year
        expected_hires = int(
            (len(active) * (1 + GROWTH)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        ) - (len(active) - len(left))
        assert len(hired) == max(0, expected_hires), year
        active = {e for e, status in snapshot.items() if status == "active"}
