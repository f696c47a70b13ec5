"""Deterministic DuckDB data and the queries of the verdict suite (shared with bench_verdicts.py).

Tables are built with ``SET threads=1`` from ``range()`` and DuckDB's seedless ``hash``, so every
build has the same rows in the same physical order and DuckDB's work counters (rows scanned,
intermediate rows) are identical from session to session.

Two environment variables change the measured work (read by the tests, set by the benchmark):

- ``SIMPERF_BENCH_FACTOR`` (default 1.0) and ``SIMPERF_BENCH_BURN`` (a JSON map query name →
  Python loop iterations equal to one run of that query on this machine): each measured call
  then also runs ``(factor - 1) × iterations`` iterations of a pure-Python loop — a slowdown of
  the same work, invisible to DuckDB's counters;
- ``SIMPERF_BENCH_PLAN=1``: the query's main table is read twice (a redundant ``UNION ALL``
  branch whose filter never matches), a plan regression that doubles its rows scanned.
"""

from __future__ import annotations

import json
import os
from typing import Any

YEARS = (2025, 2026, 2027, 2028, 2029)
EMPLOYEES = 200_000
EVENTS = 1_000_000

BUILD = [
    "SET threads = 1",
    f"""
    CREATE TABLE employees AS
    SELECT i AS employee_id,
           (i % 40)::INTEGER AS department_id,
           (i % 9)::INTEGER AS level_id,
           (40000 + hash(i) % 120000)::BIGINT AS salary,
           DATE '1990-01-01' + (hash(i * 7) % 12000)::INTEGER AS hire_date
    FROM range({EMPLOYEES}) t(i)
    """,
    f"""
    CREATE TABLE events AS
    SELECT i AS event_id,
           (hash(i) % {EMPLOYEES})::BIGINT AS employee_id,
           (2025 + i * 5 // {EVENTS})::INTEGER AS simulation_year,
           ['hire', 'termination', 'promotion', 'raise', 'enrollment'][
               1 + (hash(i * 3) % 5)::INTEGER] AS event_type,
           (hash(i * 11) % 10000)::DOUBLE / 100 AS amount
    FROM range({EVENTS}) t(i)
    """,
]

# {t} is the query's main table; PLAN mode replaces it with a doubled scan.
QUERIES: dict[str, tuple[str, str]] = {
    "event_totals": (
        "events",
        """
        SELECT simulation_year, event_type, count(*) AS n, sum(amount) AS total,
               avg(amount) AS mean, max(amount) AS top
        FROM {t} GROUP BY ALL ORDER BY ALL
        """,
    ),
    "department_events": (
        "events",
        """
        SELECT e.event_type, m.department_id, count(*) AS n, sum(e.amount) AS total
        FROM {t} e JOIN employees m USING (employee_id)
        WHERE e.event_id % 4 <> 0
        GROUP BY ALL ORDER BY ALL
        """,
    ),
    "top_earners": (
        "employees",
        """
        SELECT employee_id, department_id, salary,
               rank() OVER (PARTITION BY department_id ORDER BY salary DESC, employee_id) AS r
        FROM {t}
        QUALIFY r <= 10
        ORDER BY ALL
        """,
    ),
    "distinct_employees": (
        "events",
        """
        SELECT simulation_year, count(DISTINCT employee_id) AS employees
        FROM {t} GROUP BY ALL ORDER BY ALL
        """,
    ),
    "yearly_events": (
        "events",
        """
        SELECT e.event_type, m.level_id, count(*) AS n, sum(e.amount) AS total,
               avg(m.salary) AS mean_salary, count(DISTINCT e.employee_id) AS employees
        FROM {t} e JOIN employees m USING (employee_id)
        WHERE e.simulation_year = $year
        GROUP BY ALL ORDER BY ALL
        """,
    ),
}


def build(con: Any) -> None:
    """Create the tables on ``con`` (threads pinned to 1 first, so the layout is fixed)."""
    for statement in BUILD:
        con.execute(statement)


def sql(name: str, *, plan_regression: bool | None = None) -> str:
    """The SQL of query ``name``; with the plan regression, its main table is scanned twice."""
    table, text = QUERIES[name]
    if plan_regression is None:
        plan_regression = os.environ.get("SIMPERF_BENCH_PLAN", "0") == "1"
    if plan_regression:
        key = "event_id" if table == "events" else "employee_id"
        table = f"(SELECT * FROM {table} UNION ALL SELECT * FROM {table} WHERE hash({key}) = 0)"
    return text.format(t=table)


def spin(iterations: int) -> int:
    """Pure-Python CPU work (interpreter loop); returned so nothing is optimised away."""
    acc = 0
    for i in range(iterations):
        acc = (acc + i * i) % 1_000_003
    return acc


def extra_iterations(name: str) -> int:
    """Python iterations to add to each call of query ``name`` (0 unless a slowdown is set)."""
    factor = float(os.environ.get("SIMPERF_BENCH_FACTOR", "1.0"))
    if factor == 1.0:
        return 0
    burn = json.loads(os.environ.get("SIMPERF_BENCH_BURN", "{}"))
    return round((factor - 1.0) * float(burn[name]))


def runner(con: Any, name: str, params: dict[str, Any] | None = None) -> Any:
    """The measured call: the query (plus the configured extra work)."""
    text = sql(name)
    extra = extra_iterations(name)

    def run() -> list[tuple[Any, ...]]:
        rows = con.execute(text, params or {}).fetchall()
        if extra:
            spin(extra)
        return rows

    return run
