"""The generated tables: layout, plausibility, agreement with the Python reference, determinism."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pytest_simperf.errors import UsageError
from pytest_simperf.workforce import (
    Rates,
    WorkforceSpec,
    build_database,
    build_workforce,
    create_workforce,
)
from pytest_simperf.workforce import generate as g
from pytest_simperf.workforce.prng import FULL, HIGH, LOW, draws_sql, mix32, uniform
from pytest_simperf.workforce.reference import census_rows

CENSUS_COLUMNS = [
    "employee_id",
    "employee_ssn",
    "employee_birth_date",
    "employee_hire_date",
    "employee_termination_date",
    "employee_gross_compensation",
    "employee_capped_compensation",
    "employee_deferral_rate",
    "employee_contribution",
    "pre_tax_contribution",
    "roth_contribution",
    "after_tax_contribution",
    "employer_core_contribution",
    "employer_match_contribution",
    "eligibility_entry_date",
    "active",
    "level_id",
    "department",
]
EVENT_COLUMNS = [
    "employee_id",
    "simulation_year",
    "event_type",
    "effective_date",
    "compensation_amount",
    "previous_compensation",
    "level_id",
    "employee_deferral_rate",
    "event_sequence",
]
SNAPSHOT_COLUMNS = [
    "employee_id",
    "simulation_year",
    "employment_status",
    "level_id",
    "current_compensation",
    "current_deferral_rate",
]


def digest(con) -> dict[str, str]:
    """Content and order of every table, as the tables store them."""
    con.execute("SET preserve_insertion_order = true")
    return {
        table: hashlib.sha256(
            repr(con.execute(f"SELECT * FROM {table}").fetchall()).encode()
        ).hexdigest()
        for table in g.TABLES
    }


def scalar(con, sql):
    return con.execute(sql).fetchone()[0]


@pytest.fixture(scope="module")
def medium():
    """5,000 employees over 5 years: big enough for the distributions to show."""
    with create_workforce(WorkforceSpec(5_000, seed=11)) as workforce:
        yield workforce


class TestRandomNumbers:
    def test_sql_and_python_draw_the_same_bits(self):
        streams = {"u_full": (3, FULL), "u_high": (4, HIGH), "u_low": (4, LOW)}
        sql = draws_sql(
            "SELECT range AS n FROM range(1, 2001)", "n", 2**40 + 9, 2031, streams, ["n"]
        )
        rows = duckdb.sql(sql).fetchall()
        assert len(rows) == 2000
        for n, full, high, low in rows:
            assert full == uniform(2**40 + 9, 2031, 3, n, FULL)
            assert high == uniform(2**40 + 9, 2031, 4, n, HIGH)
            assert low == uniform(2**40 + 9, 2031, 4, n, LOW)

    def test_draws_are_uniform_and_streams_independent(self):
        streams = {"a": (1, FULL), "b": (2, FULL)}
        sql = draws_sql("SELECT range AS n FROM range(1, 100001)", "n", 5, 2025, streams, ["n"])
        mean, low, high, corr = duckdb.sql(
            f"SELECT avg(a), min(a), max(a), corr(a, b) FROM ({sql})"
        ).fetchall()[0]
        assert abs(mean - 0.5) < 0.005
        assert 0 <= low < 0.001 and 0.999 < high < 1
        assert abs(corr) < 0.01

    def test_mix32_is_a_bijection_on_a_sample(self):
        values = {mix32(x) for x in range(50_000)}
        assert len(values) == 50_000
        assert all(0 <= v <= 0xFFFFFFFF for v in values)


class TestLayout:
    def test_columns(self, medium):
        def columns(table):
            return [row[0] for row in medium.con.execute(f"DESCRIBE {table}").fetchall()]

        assert columns("census") == CENSUS_COLUMNS
        assert columns("workforce_events") == EVENT_COLUMNS
        assert columns("workforce_snapshots") == SNAPSHOT_COLUMNS

    def test_no_helper_tables_left_behind(self, medium):
        tables = {
            row[0]
            for row in medium.con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        assert tables == set(g.TABLES)

    def test_census_counts(self, medium):
        con = medium.con
        assert scalar(con, "SELECT count(*) FROM census WHERE active") == 5_000
        assert scalar(con, "SELECT count(*) FROM census WHERE NOT active") == 250
        assert scalar(con, "SELECT count(DISTINCT employee_id) FROM census") == 5_250
        assert scalar(con, "SELECT count(DISTINCT employee_ssn) FROM census") == 5_250
        assert (
            scalar(
                con,
                "SELECT count(*) FROM census WHERE active <> (employee_termination_date IS NULL)",
            )
            == 0
        )

    def test_event_types_and_years(self, medium):
        types = {
            row[0]
            for row in medium.con.execute(
                "SELECT DISTINCT event_type FROM workforce_events"
            ).fetchall()
        }
        assert types == {
            "hire",
            "termination",
            "promotion",
            "raise",
            "enrollment",
            "deferral_escalation",
        }
        years = medium.con.execute(
            "SELECT DISTINCT simulation_year FROM workforce_snapshots ORDER BY 1"
        ).fetchall()
        assert [y for (y,) in years] == medium.simulation_years


class TestPlausibility:
    """The census looks like a real employer's: the issue's distributions, checked loosely."""

    def test_ages_22_to_65_at_the_census_date(self, medium):
        low, high = medium.con.execute(
            "SELECT min(date_diff('year', employee_birth_date, DATE '2024-12-31')), "
            "max(date_diff('year', employee_birth_date, DATE '2024-12-31')) FROM census"
        ).fetchone()
        assert 22 <= low <= 23 and 64 <= high <= 65

    def test_hired_adult_before_the_census_date(self, medium):
        con = medium.con
        assert (
            scalar(
                con,
                "SELECT count(*) FROM census WHERE employee_hire_date > DATE '2024-12-31' "
                "OR employee_hire_date < employee_birth_date + INTERVAL 17 YEAR "
                "OR employee_termination_date < employee_hire_date",
            )
            == 0
        )

    def test_tenure_skews_short(self, medium):
        median, mean = medium.con.execute(
            "SELECT median(d), avg(d) FROM (SELECT DATE '2024-12-31' - employee_hire_date AS d "
            "FROM census WHERE active)"
        ).fetchone()
        assert median < mean

    def test_pay_rises_with_level(self, medium):
        pay = medium.con.execute(
            "SELECT level_id, median(employee_gross_compensation) FROM census "
            "GROUP BY level_id ORDER BY level_id"
        ).fetchall()
        assert [level for level, _ in pay] == [1, 2, 3, 4, 5]
        medians = [median for _, median in pay]
        assert medians == sorted(medians)

    def test_most_enrolled_and_rates_in_range(self, medium):
        share, low, high = medium.con.execute(
            "SELECT avg((employee_deferral_rate > 0)::INT), min(employee_deferral_rate), "
            "max(employee_deferral_rate) FROM census"
        ).fetchone()
        assert 0.80 < share < 0.90  # default Rates.enrolled = 0.85
        assert low == 0.0 and high <= 0.15

    def test_contributions_add_up(self, medium):
        assert (
            scalar(
                medium.con,
                "SELECT count(*) FROM census WHERE abs(pre_tax_contribution + roth_contribution "
                "+ after_tax_contribution - employee_contribution) > 0.011 "
                "OR employee_capped_compensation > employee_gross_compensation "
                "OR employee_capped_compensation > 350000",
            )
            == 0
        )

    def test_yearly_rates_near_the_defaults(self, medium):
        rows = medium.con.execute(
            """
            SELECT s.simulation_year,
                count(*) FILTER (WHERE e.event_type = 'termination') / any_value(h.before)
            FROM workforce_events e
            JOIN workforce_snapshots s USING (employee_id, simulation_year)
            JOIN (SELECT simulation_year + 1 AS simulation_year, count(*) AS before
                  FROM workforce_snapshots WHERE employment_status = 'active' GROUP BY 1) h
              USING (simulation_year)
            GROUP BY 1
            """
        ).fetchall()
        assert rows, "no years after the first"
        for _year, rate in rows:
            assert 0.10 < rate < 0.16  # 12% of continuing staff plus some new-hire leavers

    def test_headcount_grows_about_three_percent(self, medium):
        final = scalar(
            medium.con,
            "SELECT count(*) FROM workforce_snapshots "
            "WHERE simulation_year = 2029 AND employment_status = 'active'",
        )
        assert 5_000 * 1.03**5 * 0.97 < final < 5_000 * 1.03**5 * 1.03


class TestReference:
    @pytest.mark.parametrize(
        "spec",
        [
            WorkforceSpec(1_500, seed=3),
            WorkforceSpec(400, seed=2**63 + 17, start_year=1901, rates=Rates(enrolled=0.3)),
            WorkforceSpec(1),
        ],
        ids=["default", "odd-seed-and-year", "single"],
    )
    def test_sql_census_equals_the_per_row_python_census(self, spec):
        with create_workforce(spec) as workforce:
            sql_rows = workforce.con.execute("SELECT * FROM census").fetchall()
        assert sql_rows == list(census_rows(spec))


class TestDeterminism:
    def test_same_spec_same_bytes_whatever_the_threads(self):
        spec = WorkforceSpec(3_000, years=3, seed=5)
        single = duckdb.connect()
        single.execute("SET threads = 1")
        build_workforce(single, spec)
        # verify_parallelism splits even small inputs across threads, so order would show it.
        parallel = duckdb.connect()
        parallel.execute("SET threads = 4")
        parallel.execute("PRAGMA verify_parallelism")
        build_workforce(parallel, spec)
        parallel.execute("PRAGMA disable_verify_parallelism")
        assert digest(single) == digest(parallel)

    def test_other_seeds_and_rates_change_the_data(self):
        def build(spec):
            with create_workforce(spec) as workforce:
                return digest(workforce.con)

        base = build(WorkforceSpec(200, years=2))
        assert build(WorkforceSpec(200, years=2, seed=43))["census"] != base["census"]
        changed = build(WorkforceSpec(200, years=2, rates=Rates(termination=0.3)))
        assert changed["census"] == base["census"]
        assert changed["workforce_events"] != base["workforce_events"]

    def test_identical_across_two_processes(self, tmp_path):
        script = tmp_path / "digest.py"
        script.write_text(
            textwrap.dedent(
                """
                import hashlib, json, sys
                import duckdb
                from pytest_simperf.workforce import WorkforceSpec, build_workforce
                con = duckdb.connect()
                con.execute(f"SET threads = {sys.argv[1]}")
                build_workforce(con, WorkforceSpec(2_000, years=3, seed=99, start_year=2030))
                print(json.dumps({t: hashlib.sha256(repr(con.execute(
                    f"SELECT * FROM {t}").fetchall()).encode()).hexdigest()
                    for t in ("census", "workforce_events", "workforce_snapshots")}))
                """
            )
        )
        env = {**os.environ, "PYTHONHASHSEED": "random"}
        results = [
            json.loads(
                subprocess.run(
                    [sys.executable, str(script), threads],
                    check=True,
                    capture_output=True,
                    text=True,
                    env=env,
                ).stdout
            )
            for threads in ("1", "2")
        ]
        assert results[0] == results[1]
        assert len(set(results[0].values())) == 3

    def test_users_insertion_order_setting_is_restored(self):
        con = duckdb.connect()
        con.execute("SET preserve_insertion_order = false")
        build_workforce(con, WorkforceSpec(20, years=1))
        assert scalar(con, "SELECT current_setting('preserve_insertion_order')") is False


class TestEdgeCases:
    def test_single_employee(self):
        with create_workforce(WorkforceSpec(1, years=3, rates=Rates(census_terminated=0))) as wf:
            assert scalar(wf.con, "SELECT count(*) FROM census") == 1

    def test_everyone_terminated(self):
        rates = Rates(termination=1.0, growth=-1.0)
        with create_workforce(WorkforceSpec(40, years=3, rates=rates)) as wf:
            con = wf.con
            assert (
                scalar(con, "SELECT count(*) FROM workforce_events WHERE event_type = 'hire'") == 0
            )
            assert (
                scalar(
                    con,
                    "SELECT count(*) FROM workforce_events "
                    "WHERE event_type = 'termination' AND simulation_year = 2025",
                )
                == 40
            )
            assert (
                scalar(con, "SELECT count(*) FROM workforce_snapshots WHERE simulation_year > 2025")
                == 0
            )

    def test_nobody_enrolled(self):
        rates = Rates(enrolled=0.0, enrollment=0.0, new_hire_enrollment=0.0)
        with create_workforce(WorkforceSpec(300, years=2, rates=rates)) as wf:
            con = wf.con
            assert scalar(con, "SELECT max(employee_deferral_rate) FROM census") == 0.0
            assert scalar(con, "SELECT max(current_deferral_rate) FROM workforce_snapshots") == 0.0
            assert (
                scalar(
                    con,
                    "SELECT count(*) FROM workforce_events "
                    "WHERE event_type IN ('enrollment', 'deferral_escalation')",
                )
                == 0
            )


class TestBuildDatabase:
    def test_writes_the_three_tables(self, tmp_path):
        path = build_database(WorkforceSpec(100, years=2), tmp_path / "sub" / "w.duckdb")
        assert path == tmp_path / "sub" / "w.duckdb"
        with duckdb.connect(str(path), read_only=True) as con:
            assert scalar(con, "SELECT count(*) FROM census WHERE active") == 100
            assert (
                scalar(con, "SELECT count(DISTINCT simulation_year) FROM workforce_snapshots") == 2
            )
        assert sorted(p.name for p in path.parent.iterdir()) == ["w.duckdb"]

    def test_failure_keeps_the_old_file_and_leaves_no_temp(self, tmp_path, monkeypatch):
        target = tmp_path / "w.duckdb"
        target.write_bytes(b"previous")

        def broken(con, spec, **kwargs):
            con.execute("CREATE TABLE census AS SELECT 1 AS x")
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(g, "build_workforce", broken)
        with pytest.raises(RuntimeError, match="disk on fire"):
            build_database(WorkforceSpec(10), target)
        assert target.read_bytes() == b"previous"
        assert [p.name for p in tmp_path.iterdir()] == ["w.duckdb"]

    def test_refuses_what_cannot_fit_in_memory(self, tmp_path, monkeypatch):
        monkeypatch.setattr(g, "estimate_bytes", lambda spec: 10 * 2**40)
        with pytest.raises(UsageError, match=r"needs about 10240.0 GiB of memory"):
            build_database(WorkforceSpec(10), tmp_path / "w.duckdb")
        assert not any(Path(tmp_path).iterdir())
