"""The repository's own perf suite: real DuckDB work on a synthetic workforce, gated against
the committed baselines in ``baselines/tests/perf/``.

Run with ``pytest tests/perf --simperf`` (``make demo``). The queries are the shape of a
workforce simulation's models: yearly events enriched and sequenced, a yearly snapshot rollup,
compensation analytics. Each is timed with repeated rounds inside a per-year phase, so every
simulation year gets its own robust figure, and DuckDB's exact counters gate plan changes.
"""

from __future__ import annotations

import pytest

EVENTS_DDL = """
CREATE TABLE IF NOT EXISTS fct_yearly_events AS
SELECT e.*, c.department, 0::BIGINT AS event_rank
FROM workforce_events e JOIN census c USING (employee_id) WHERE false
"""

# Idempotent per year (delete+insert on the year), so repeated rounds do identical work.
EVENTS_BUILD = [
    "DELETE FROM fct_yearly_events WHERE simulation_year = $year",
    """
    INSERT INTO fct_yearly_events
    SELECT e.*, c.department,
           row_number() OVER (PARTITION BY e.employee_id
                              ORDER BY e.effective_date, e.event_sequence) AS event_rank
    FROM workforce_events e
    LEFT JOIN census c USING (employee_id)
    WHERE e.simulation_year = $year
    """,
]

SNAPSHOT_ROLLUP = """
SELECT s.level_id, c.department,
       count(*) FILTER (WHERE s.employment_status = 'active') AS active,
       sum(s.current_compensation) FILTER (WHERE s.employment_status = 'active') AS payroll,
       avg(s.current_deferral_rate) AS avg_deferral,
       quantile_cont(s.current_compensation, 0.9) AS p90_comp
FROM workforce_snapshots s
JOIN census c USING (employee_id)
WHERE s.simulation_year = $year
GROUP BY ALL
ORDER BY ALL
"""

COMPENSATION_ROLLUP = """
SELECT s.simulation_year, c.department, s.level_id,
       count(*) AS employees,
       sum(s.current_compensation) AS payroll,
       sum(s.current_compensation * s.current_deferral_rate) AS deferrals,
       sum(c.employer_match_contribution + c.employer_core_contribution) AS employer_cost
FROM workforce_snapshots s
LEFT JOIN census c USING (employee_id)
WHERE s.employment_status = 'active'
GROUP BY ALL
ORDER BY ALL
"""

TENURE_RANKING = """
SELECT employee_id, department,
       rank() OVER (PARTITION BY department ORDER BY employee_hire_date) AS seniority,
       employee_gross_compensation
         / avg(employee_gross_compensation) OVER (PARTITION BY level_id) AS comp_ratio
FROM census
QUALIFY seniority <= 50
ORDER BY department, seniority, employee_id
"""


@pytest.mark.workforce(employees="xl", years=5, seed=7)
@pytest.mark.sla(seconds=2.0, memory_mb=500)
def test_five_year_pipeline(simperf, simperf_workforce):
    """Per-year phases of a five-year build: events and snapshot rollup for every year."""
    con = simperf_workforce.con
    con.execute(EVENTS_DDL)
    for year in simperf_workforce.simulation_years:

        def build_events(year: int = year) -> None:
            for statement in EVENTS_BUILD:
                con.execute(statement, {"year": year})

        with simperf.phase("fct_yearly_events", year=year):
            simperf.measure(build_events)
        with simperf.phase("fct_workforce_snapshot", year=year):
            rows = simperf.measure(
                lambda year=year: con.execute(SNAPSHOT_ROLLUP, {"year": year}).fetchall()
            )
        assert rows, f"no active workforce in {year}"
    events = con.execute("SELECT count(*) FROM fct_yearly_events").fetchone()[0]
    assert events == con.execute("SELECT count(*) FROM workforce_events").fetchone()[0]


@pytest.mark.workforce(employees="xl", years=5, seed=7)
@pytest.mark.sla(seconds=1.0, memory_mb=300)
def test_compensation_rollup(simperf, simperf_workforce):
    con = simperf_workforce.con
    rows = simperf.measure(lambda: con.execute(COMPENSATION_ROLLUP).fetchall())
    assert len(rows) == len({(r[0], r[1], r[2]) for r in rows})


@pytest.mark.workforce(employees="xl", years=5, seed=7)
@pytest.mark.sla(seconds=1.0, memory_mb=300)
def test_tenure_ranking(simperf, simperf_workforce):
    con = simperf_workforce.con
    rows = simperf.measure(lambda: con.execute(TENURE_RANKING).fetchall())
    assert rows and max(r[2] for r in rows) <= 50
