"""The workforce's laws over many seeds, sizes and rates (Hypothesis); proof the checks bite."""

from __future__ import annotations

from typing import ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_simperf.strategies import EDGE_RATES, rates, workforce_specs, workforces
from pytest_simperf.workforce import Rates, WorkforceSpec, create_workforce
from pytest_simperf.workforce.invariants import CHECKS, violations

PROPERTY = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def scalar(con, sql, *params):
    return con.execute(sql, list(params)).fetchone()[0]


@PROPERTY
@given(workforces(workforce_specs(max_employees=80, max_years=3)))
def test_every_law_holds(workforce):
    with workforce:
        assert violations(workforce.con) == {}


@settings(max_examples=8, deadline=None)
@given(workforce_specs(max_employees=40, max_years=2))
def test_same_spec_same_tables(spec):
    def rows(workforce):
        return [
            workforce.con.execute(f"SELECT * FROM {table}").fetchall() for table in workforce.tables
        ]

    with create_workforce(spec) as first, create_workforce(spec) as second:
        assert rows(first) == rows(second)


@settings(max_examples=40, deadline=None)
@given(workforce_specs(max_employees=30, max_years=2))
def test_specs_are_valid_and_small(spec):
    assert 1 <= spec.employees <= 30
    assert 1 <= spec.years <= 2
    assert isinstance(spec.rates, Rates)


def test_strategies_reach_the_edge_cases():
    seen: set[str] = set()
    named = {value: name for name, value in EDGE_RATES.items()}

    @settings(max_examples=300, deadline=None, database=None)
    @given(rates(), workforce_specs(max_employees=50))
    def record(drawn_rates, spec):
        if drawn_rates in named:
            seen.add(named[drawn_rates])
        if spec.employees == 1:
            seen.add("single")

    record()
    assert {"everyone_terminated", "nobody_enrolled", "single"} <= seen


@pytest.mark.parametrize("name", ["everyone_terminated", "nobody_enrolled", "no_change"])
def test_edge_presets_do_what_they_say(name):
    with create_workforce(WorkforceSpec(25, years=2, rates=EDGE_RATES[name])) as workforce:
        con = workforce.con
        assert violations(con) == {}
        final = scalar(
            con,
            "SELECT count(*) FROM workforce_snapshots "
            "WHERE simulation_year = 2026 AND employment_status = 'active'",
        )
        enrolled = scalar(
            con, "SELECT count(*) FROM workforce_snapshots WHERE current_deferral_rate > 0"
        )
        if name == "everyone_terminated":
            assert final == 0
        elif name == "nobody_enrolled":
            assert enrolled == 0
        else:
            assert final == 25
            assert scalar(con, "SELECT count(*) FROM workforce_events") == 0


class TestChecksBite:
    """Every law check reports a broken table, so a passing property means something."""

    @pytest.fixture
    def workforce(self):
        with create_workforce(WorkforceSpec(300, years=3, seed=1)) as workforce:
            assert violations(workforce.con) == {}
            yield workforce

    BREAKAGES: ClassVar[dict[str, str]] = {
        "headcount": "DELETE FROM workforce_events WHERE rowid = "
        "(SELECT min(rowid) FROM workforce_events WHERE event_type = 'hire')",
        "no_events_after_termination": "UPDATE workforce_events SET simulation_year = 2027, "
        "effective_date = DATE '2027-12-31' WHERE rowid = (SELECT min(rowid) FROM "
        "workforce_events WHERE event_type = 'raise' AND simulation_year = 2025 AND employee_id IN "
        "(SELECT employee_id FROM workforce_events WHERE event_type = 'termination' "
        "AND simulation_year = 2026))",
        "promotion_one_level": "UPDATE workforce_events SET level_id = level_id + 1 WHERE rowid = "
        "(SELECT min(rowid) FROM workforce_events WHERE event_type = 'promotion')",
        "dates_in_year": "UPDATE workforce_events SET effective_date = effective_date + 400 "
        "WHERE rowid = 0",
        "one_snapshot_per_year": "INSERT INTO workforce_snapshots "
        "SELECT * FROM workforce_snapshots LIMIT 1",
        "snapshot_matches_events": "UPDATE workforce_snapshots SET current_compensation = "
        "current_compensation + 1 WHERE rowid = (SELECT min(s.rowid) FROM workforce_snapshots s "
        "JOIN workforce_events e USING (employee_id, simulation_year))",
        "event_sequence": "UPDATE workforce_events SET event_sequence = 3 WHERE rowid = "
        "(SELECT min(rowid) FROM workforce_events WHERE event_type = 'hire')",
        "deferral_range": "UPDATE workforce_snapshots SET current_deferral_rate = 0.2 "
        "WHERE rowid = 0",
    }

    def test_every_check_has_a_breakage(self):
        assert set(self.BREAKAGES) == set(CHECKS)

    @pytest.mark.parametrize("check", sorted(BREAKAGES))
    def test_breakage_is_reported(self, workforce, check):
        workforce.con.execute(self.BREAKAGES[check])
        found = violations(workforce.con)
        assert check in found, found
        assert found[check] and all(isinstance(line, str) for line in found[check])


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**64 - 1))
def test_headcount_conservation_example_from_the_docs(seed):
    """The property docs/workforce.md shows users, run here so the example stays true."""
    with create_workforce(WorkforceSpec(50, years=3, seed=seed)) as workforce:
        con = workforce.con
        previous = scalar(con, "SELECT count(*) FROM census WHERE active")
        for year in workforce.simulation_years:
            hires, terminations = con.execute(
                "SELECT count(*) FILTER (WHERE event_type = 'hire'), "
                "count(*) FILTER (WHERE event_type = 'termination') "
                "FROM workforce_events WHERE simulation_year = ?",
                [year],
            ).fetchone()
            active = scalar(
                con,
                "SELECT count(*) FROM workforce_snapshots "
                "WHERE simulation_year = ? AND employment_status = 'active'",
                year,
            )
            assert active == previous + hires - terminations
            previous = active
