"""A five-year workforce simulation, monitored as a nightly production run.

The pipeline is plain DuckDB, as a team's orchestrator would run it: a census, then for each
simulation year the year's events (hires, terminations, raises), the workforce snapshot at
year end, and a small summary pulled into Python. Each step is a phase of one
``pytest_simperf.monitor`` run, so every night's figures land in the same history as the test
suite's, with SLA status, a regression class against the last nights, and alerts.

    python examples/five_year_simulation.py                      # one night, 300,000 employees
    python examples/five_year_simulation.py --slowdown-year 2027 # year 3's events twice: ×2
    simperf check                                                # exit 1 if that was bad

SLAs come from ``[tool.simperf.sla]`` in the ``pyproject.toml`` found from the working
directory, as for the tests; the history is ``--history``, else ``$SIMPERF_HISTORY``, else
``.simperf/history.duckdb`` beside that ``pyproject.toml``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

import duckdb

from pytest_simperf import monitor
from pytest_simperf.monitor import Alert, monitored

START_YEAR = 2025
YEARS = 5

CENSUS_SQL = """
CREATE OR REPLACE TABLE workforce AS
SELECT
    i AS employee_id,
    DATE '1960-01-01' + CAST(hash(i, 'birth') % 14600 AS INTEGER) AS birth_date,
    DATE '2000-01-01' + CAST(hash(i, 'hire') % 9000 AS INTEGER) AS hire_date,
    1 + CAST(hash(i, 'level') % 5 AS INTEGER) AS level,
    ['eng', 'ops', 'sales', 'finance', 'hr'][1 + CAST(hash(i, 'dept') % 5 AS INTEGER)] AS dept,
    40000 + CAST(hash(i, 'pay') % 120000 AS INTEGER) AS compensation,
    'active' AS status
FROM range(?) t(i)
"""

# One row per event of the year: a deterministic draw per employee and year, set-based.
EVENTS_SQL = """
CREATE OR REPLACE TABLE events_{year} AS
WITH ranked AS (
    -- pay rank within department and level: promotions favour the top of each band
    SELECT *, percent_rank() OVER (PARTITION BY dept, level ORDER BY compensation DESC,
        employee_id) AS pay_rank
    FROM workforce WHERE status = 'active'
),
draws AS (
    SELECT employee_id, level, compensation,
        (hash(employee_id, {year}, 'term') % 10000) / 10000.0 AS u_term,
        (hash(employee_id, {year}, 'raise') % 10000) / 10000.0 AS u_raise,
        (hash(employee_id, {year}, 'promo') % 10000) / 10000.0 * (0.5 + pay_rank) AS u_promo
    FROM ranked
)
SELECT employee_id, 'termination' AS event, NULL::INTEGER AS new_compensation,
    NULL::INTEGER AS new_level FROM draws WHERE u_term < 0.12
UNION ALL
SELECT employee_id, 'raise', CAST(compensation * (1.02 + u_raise * 0.04) AS INTEGER), NULL
FROM draws WHERE u_term >= 0.12
UNION ALL
SELECT employee_id, 'promotion', NULL, least(level + 1, 6)
FROM draws WHERE u_term >= 0.12 AND u_promo < 0.08
UNION ALL
SELECT (SELECT max(employee_id) FROM workforce) + 1 + i, 'hire', 45000 + (i * 37) % 60000, 1
FROM range(CAST((SELECT count(*) FROM draws) * 0.13 AS BIGINT)) t(i)
"""

SNAPSHOT_SQL = """
CREATE OR REPLACE TABLE workforce AS
SELECT w.employee_id, w.birth_date, w.hire_date,
    coalesce(p.new_level, w.level) AS level, w.dept,
    coalesce(r.new_compensation, w.compensation) AS compensation,
    CASE WHEN t.employee_id IS NOT NULL THEN 'terminated' ELSE w.status END AS status
FROM workforce w
LEFT JOIN (SELECT * FROM events_{year} WHERE event = 'termination') t USING (employee_id)
LEFT JOIN (SELECT * FROM events_{year} WHERE event = 'raise') r USING (employee_id)
LEFT JOIN (SELECT * FROM events_{year} WHERE event = 'promotion') p USING (employee_id)
UNION ALL
SELECT employee_id, DATE '{year}-01-01' - INTERVAL 30 YEAR, DATE '{year}-01-01', new_level,
    'eng', new_compensation, 'active'
FROM events_{year} WHERE event = 'hire'
"""


@monitored(
    "fct_yearly_events",
    kind="EVENT_GENERATION",
    year=lambda con, year, factor=1: year,  # the phase's year, from the call's arguments
    rows_out=lambda events: events,  # the function returns its row count
)
def build_events(con: Any, year: int, factor: int = 1) -> int:
    """The year's events; ``factor`` > 1 repeats the work (the injected slowdown)."""
    for _ in range(factor):
        con.execute(EVENTS_SQL.format(year=int(year)))
    row = con.execute(f"SELECT count(*) FROM events_{int(year)}").fetchone()
    return int(row[0]) if row else 0


@monitored("workforce_summary", kind="REPORTING", year=lambda con, year: year)
def summarise(con: Any, year: int) -> list[tuple[Any, ...]]:
    """Headcount and pay by department and level, into Python (rows out: the list's length)."""
    return con.execute(
        "SELECT dept, level, count(*), avg(compensation) FROM workforce "
        "WHERE status = 'active' GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def simulate(
    employees: int,
    *,
    name: str = "five_year_simulation",
    history: str | None = None,
    slowdown_year: int | None = None,
    slowdown_factor: int = 2,
    host: str | None = None,
) -> monitor.Run:
    """Run the five years as one monitored production run and return it (judged, written)."""

    def shout(alert: Alert) -> None:
        print(f"ALERT [{alert.level}] {alert.message}", file=sys.stderr)

    with monitor.run(name, history=history, on_alert=shout, host=host) as run:
        con = run.track(duckdb.connect())
        con.execute("SET threads = 1")  # steady figures on a shared machine
        with run.phase("census", rows_out=employees):
            con.execute(CENSUS_SQL, [employees])
        for year in range(START_YEAR, START_YEAR + YEARS):
            factor = slowdown_factor if year == slowdown_year else 1
            active = con.execute("SELECT count(*) FROM workforce WHERE status = 'active'")
            headcount = int(active.fetchone()[0])  # type: ignore[index]
            events = build_events(con, year, factor)
            with run.phase(
                "scd_workforce_state", year=year, rows_in=headcount + events, kind="SCD"
            ) as snapshot:
                con.execute(SNAPSHOT_SQL.format(year=year))
                snapshot.rows_out = int(
                    con.execute("SELECT count(*) FROM workforce").fetchone()[0]  # type: ignore[index]
                )
            summarise(con, year)
        con.close()
    return run


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=300_000)
    parser.add_argument("--name", default="five_year_simulation", help="the pipeline's name")
    parser.add_argument("--history", help="history database (default: see the module doc)")
    parser.add_argument("--host", help="host label for comparable runs (default: this host)")
    parser.add_argument(
        "--slowdown-year",
        type=int,
        default=int(os.environ.get("SIMPERF_SLOWDOWN_YEAR", "0")) or None,
        help="do this year's events --slowdown-factor times (env: SIMPERF_SLOWDOWN_YEAR)",
    )
    parser.add_argument("--slowdown-factor", type=int, default=2)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    run = simulate(
        args.employees,
        name=args.name,
        history=args.history,
        slowdown_year=args.slowdown_year,
        slowdown_factor=args.slowdown_factor,
        host=args.host,
    )
    for r in run.results:
        sla = f"{r.sla_status} {r.sla_category}" if r.sla_status else "no SLA"
        change = "" if r.regression.change_pct is None else f" {r.regression.change_pct:+.1f}%"
        print(
            f"{r.key:<32} {r.wall_s:8.3f} s  rows {r.rows_out!s:>8}  {sla:<22} {r.severity}{change}"
        )
    count = len(run.alerts)
    print(f"run {run.run_id}: {count} alert{'' if count == 1 else 's'}")
    return 0 if run.run_id is not None else 1


if __name__ == "__main__":
    sys.exit(main())
