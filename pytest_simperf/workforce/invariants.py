"""The laws a workforce's tables obey, as SQL checks that return what breaks them.

They hold for every workforce we generate (our property tests prove it over many seeds) and they
should hold for a user's own simulation over the same layout, so the checks are public: run
:func:`violations` on any connection holding ``census``, ``workforce_events`` and
``workforce_snapshots``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb

#: name -> (why it matters, SQL returning one row per violation, first column a description)
CHECKS: dict[str, tuple[str, str]] = {
    "headcount": (
        "active headcount(t) = headcount(t-1) + hires(t) - terminations(t)",
        """
        WITH years AS (
            SELECT DISTINCT simulation_year AS y FROM workforce_snapshots
        ),
        heads AS (
            SELECT y,
                (SELECT count(*) FROM workforce_snapshots
                 WHERE simulation_year = y AND employment_status = 'active') AS active,
                (SELECT count(*) FROM workforce_events
                 WHERE simulation_year = y AND event_type = 'hire') AS hires,
                (SELECT count(*) FROM workforce_events
                 WHERE simulation_year = y AND event_type = 'termination') AS terms
            FROM years
        ),
        chained AS (
            SELECT y, active, hires, terms,
                coalesce(lag(active) OVER (ORDER BY y),
                         (SELECT count(*) FROM census WHERE active)) AS before
            FROM heads
        )
        SELECT printf('year %d: %d active, expected %d + %d hires - %d terminations = %d',
                      y, active, before, hires, terms, before + hires - terms)
        FROM chained WHERE active <> before + hires - terms
        """,
    ),
    "no_events_after_termination": (
        "a terminated employee has no later events or snapshots",
        """
        WITH t AS (
            SELECT employee_id, simulation_year AS y, event_sequence AS s
            FROM workforce_events WHERE event_type = 'termination'
        )
        SELECT printf('%s: %s in %d after termination in %d',
                      e.employee_id, e.event_type, e.simulation_year, t.y)
        FROM workforce_events e JOIN t USING (employee_id)
        WHERE e.simulation_year > t.y OR (e.simulation_year = t.y AND e.event_sequence > t.s)
        UNION ALL
        SELECT printf('%s: snapshot in %d after termination in %d',
                      s.employee_id, s.simulation_year, t.y)
        FROM workforce_snapshots s JOIN t USING (employee_id)
        WHERE s.simulation_year > t.y
        UNION ALL
        SELECT printf('%s: snapshot %s in %d, the year of termination',
                      s.employee_id, s.employment_status, s.simulation_year)
        FROM workforce_snapshots s
        JOIN t ON s.employee_id = t.employee_id AND s.simulation_year = t.y
        WHERE s.employment_status <> 'terminated'
        """,
    ),
    "promotion_one_level": (
        "every promotion raises the level by exactly one",
        """
        WITH prior AS (
            SELECT employee_id, simulation_year + 1 AS y, level_id FROM workforce_snapshots
            UNION ALL
            SELECT employee_id, (SELECT min(simulation_year) FROM workforce_snapshots), level_id
            FROM census WHERE active
        )
        SELECT printf('%s: promoted in %d to level %d from level %s',
                      e.employee_id, e.simulation_year, e.level_id,
                      coalesce(p.level_id::VARCHAR, '?'))
        FROM workforce_events e
        LEFT JOIN prior p ON p.employee_id = e.employee_id AND p.y = e.simulation_year
        WHERE e.event_type = 'promotion' AND (p.level_id IS NULL OR e.level_id <> p.level_id + 1)
        """,
    ),
    "snapshot_matches_events": (
        "each year's snapshot is the state after that year's last event for the employee",
        """
        WITH last AS (
            SELECT employee_id, simulation_year, level_id, compensation_amount,
                employee_deferral_rate
            FROM workforce_events
            QUALIFY row_number() OVER (
                PARTITION BY employee_id, simulation_year ORDER BY event_sequence DESC) = 1
        )
        SELECT printf('%s: snapshot %d has level %d, pay %s, rate %s; last event says %d, %s, %s',
                      s.employee_id, s.simulation_year, s.level_id,
                      CAST(s.current_compensation AS VARCHAR),
                      CAST(s.current_deferral_rate AS VARCHAR), l.level_id,
                      CAST(l.compensation_amount AS VARCHAR),
                      CAST(l.employee_deferral_rate AS VARCHAR))
        FROM last l JOIN workforce_snapshots s USING (employee_id, simulation_year)
        WHERE l.level_id <> s.level_id OR l.compensation_amount <> s.current_compensation
            OR l.employee_deferral_rate <> s.current_deferral_rate
        """,
    ),
    "event_sequence": (
        "event_sequence runs 1, 2, … within each employee-year, in date order",
        """
        SELECT printf('%s: events of %d numbered %s', employee_id, simulation_year,
                      string_agg(CAST(event_sequence AS VARCHAR), ',' ORDER BY event_sequence))
        FROM (
            SELECT *, lag(effective_date) OVER (
                PARTITION BY employee_id, simulation_year ORDER BY event_sequence) AS prev_date
            FROM workforce_events
        )
        GROUP BY employee_id, simulation_year
        HAVING max(event_sequence) <> count(*) OR count(DISTINCT event_sequence) <> count(*)
            OR bool_or(effective_date < prev_date)
        """,
    ),
    "dates_in_year": (
        "every event takes effect inside its simulation year",
        """
        SELECT printf('%s: %s dated %s in simulation year %d',
                      employee_id, event_type, effective_date, simulation_year)
        FROM workforce_events WHERE year(effective_date) <> simulation_year
        """,
    ),
    "one_snapshot_per_year": (
        "one snapshot row per employee per year, one census row per employee",
        """
        SELECT printf('%s: %d snapshots in %d', employee_id, count(*), simulation_year)
        FROM workforce_snapshots GROUP BY employee_id, simulation_year HAVING count(*) > 1
        UNION ALL
        SELECT printf('%s: %d census rows', employee_id, count(*))
        FROM census GROUP BY employee_id HAVING count(*) > 1
        """,
    ),
    "deferral_range": (
        "deferral rates stay between 0 and 15%",
        """
        SELECT printf('%s: census deferral rate %s', employee_id,
                      CAST(employee_deferral_rate AS VARCHAR))
        FROM census WHERE NOT employee_deferral_rate BETWEEN 0 AND 0.15
        UNION ALL
        SELECT printf('%s: deferral rate %s in %d', employee_id,
                      CAST(current_deferral_rate AS VARCHAR), simulation_year)
        FROM workforce_snapshots WHERE NOT current_deferral_rate BETWEEN 0 AND 0.15
        """,
    ),
}


def violations(con: duckdb.DuckDBPyConnection, *, limit: int = 5) -> dict[str, list[str]]:
    """Up to ``limit`` example violations per broken check; an empty dict means all laws hold."""
    found: dict[str, list[str]] = {}
    for name, (_why, sql) in CHECKS.items():
        rows = con.execute(f"SELECT * FROM ({sql}) LIMIT {int(limit)}").fetchall()
        if rows:
            found[name] = [str(row[0]) for row in rows]
    return found
