"""Performance gate over the shipped dbt project: five simulation years at medium scale.

Every model of every year is a phase (``fct_yearly_events@2027``, …) compared with the committed
baseline in ``baselines/tests/perf/test_dbt_workforce.json``; ``dbt_total@YEAR`` carries the
whole invocation's wall time and peak memory, ``dbt_overhead@YEAR`` dbt's own share of it.

    pytest --simperf tests/perf/test_dbt_workforce.py
    pytest --simperf-update-baseline tests/perf/test_dbt_workforce.py   # then commit baselines/
"""

from __future__ import annotations

import pytest

# Five rounds of the five-year build: enough samples per model and year for the rank test to
# tell a real slowdown from a noisy machine.
ROUNDS = 5


# At 5,000 employees a model takes 20–150 ms, most of it dbt's own per-node work, and on a
# shared two-core runner that moves by ±50% between sessions — and ×3 for one model while
# another job loads the machine (dbt reports wall time only, so the CPU-time gate cannot help).
# So this gate is for changes of growth class — a model turning quadratic is +500% to +5,000%
# here — not for 15% drifts: classes past 100/200/400%, and only CRITICAL (> 400%) fails.
# Its phases come from dbt's run results (simperf.record), which the instruction gate does not
# count yet, so the valgrind child would only pay for five dbt builds: opt out.
@pytest.mark.simperf(thresholds=(100, 200, 400), fail_on="CRITICAL", instructions=False)
@pytest.mark.workforce(employees=5000, years=5, seed=42, start_year=2025)
@pytest.mark.sla(seconds=5, phase="fct_yearly_events")
@pytest.mark.sla(seconds=5, phase="int_workforce_state")
@pytest.mark.sla(seconds=5, phase="fct_workforce_snapshot")
@pytest.mark.sla(seconds=60, memory_mb=1500, phase="dbt_total")
def test_workforce_simulation_five_years(simperf, simperf_dbt):
    years = simperf_dbt.simulation_years
    assert years == [2025, 2026, 2027, 2028, 2029]
    # Unmeasured (plain `pytest`, no --simperf) one build checks the same results: the extra
    # rounds are there for samples only.
    rounds = ROUNDS if simperf.measuring else 1
    builds = simperf_dbt.run_years(rounds=rounds)
    assert len(builds) == rounds * len(years)
    # Re-running a year that is already built is where history-rewriting strategies hide.
    simperf_dbt.rebuild_year(years[2], rounds=2 if simperf.measuring else 1)

    headcount = simperf_dbt.query(
        "select simulation_year, count(*) from fct_workforce_snapshot "
        "where employment_status = 'active' group by all order by all"
    )
    assert [year for year, _ in headcount] == years
    assert all(4_500 < active < 7_000 for _, active in headcount)
