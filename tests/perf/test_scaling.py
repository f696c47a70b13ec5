"""Scaling gates on a real DuckDB step over the synthetic workforce.

Both tests answer the same question — for each active employee, how many colleagues share their
department and level — once by joining each employee to a per-(department, level) headcount
(linear in the rows DuckDB touches) and once by a self-join on those two columns, keys with
about forty combinations, so the join's output grows with the square of the headcount. That
second shape passes every SLA on CI's small data and then falls over in production; the
``scaling`` marker records each test's growth class in ``baselines/tests/perf/test_scaling.json``
and fails a test whose class gets worse.

Run with ``pytest tests/perf/test_scaling.py --simperf``; re-record with
``--simperf-update-baseline``.
"""

from __future__ import annotations

import pytest

PEERS_BY_HEADCOUNT = """
SELECT count(*), sum(peers) FROM (
    SELECT c.employee_id, g.headcount - 1 AS peers
    FROM census c
    JOIN (SELECT department, level_id, count(*) AS headcount
          FROM census WHERE active GROUP BY ALL) g USING (department, level_id)
    WHERE c.active
)
"""

PEERS_BY_SELF_JOIN = """
SELECT count(*), sum(peers) FROM (
    SELECT a.employee_id, count(b.employee_id) AS peers
    FROM census a
    LEFT JOIN census b
      ON a.department = b.department AND a.level_id = b.level_id
     AND b.active AND b.employee_id <> a.employee_id
    WHERE a.active
    GROUP BY a.employee_id
)
"""


@pytest.mark.workforce(years=1, seed=7)
@pytest.mark.simperf(rounds=5)
@pytest.mark.scaling(employees=[8_000, 32_000, 128_000, 512_000], max_class="linear")
def test_peers_by_headcount(simperf, simperf_workforce):
    con = simperf_workforce.con
    with simperf.phase("count_peers"):
        rows = simperf.measure(lambda: con.execute(PEERS_BY_HEADCOUNT).fetchall())
    assert rows[0][0] == simperf_workforce.employees


@pytest.mark.workforce(years=1, seed=7)
@pytest.mark.simperf(rounds=5)
@pytest.mark.scaling(employees=[2_000, 4_000, 8_000, 16_000])
def test_peers_by_self_join(simperf, simperf_workforce):
    con = simperf_workforce.con
    with simperf.phase("count_peers"):
        rows = simperf.measure(lambda: con.execute(PEERS_BY_SELF_JOIN).fetchall())
    assert rows[0][0] == simperf_workforce.employees
