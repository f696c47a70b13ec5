"""Performance gate over the shipped dbt project: five simulation years at medium scale, each
year built as an orchestrator builds it (four dbt invocations and a Python step).

Every model of every year is a phase (``fct_yearly_events@2027``, …) with its own DuckDB work
counters, compared with the committed baseline in ``baselines/tests/perf/test_dbt_workforce.json``;
``dbt_total:<step>@YEAR`` carries each invocation's wall time and peak memory,
``dbt_overhead:<step>@YEAR`` dbt's own share of it, ``log_year_start@YEAR`` the Python step.

    pytest --simperf tests/perf/test_dbt_workforce.py
    pytest --simperf-update-baseline tests/perf/test_dbt_workforce.py   # then commit baselines/
"""

from __future__ import annotations

import pytest

from pytest_simperf.dbt.example import LOG_TABLE, yearly_sequence

# Five rounds of the five-year build: five samples a side is where a model's time may be classed
# at all (the rank test can reach p < 0.01); below it, only its exact counters gate.
ROUNDS = 5


# At 5,000 employees a model takes 20–150 ms, most of it dbt's own per-node work, and on a
# shared two-core runner that moves by ±50% between sessions — and ×3 for one model while
# another job loads the machine (dbt reports wall time only, so the CPU-time gate cannot help).
# So the time gate here is for changes of growth class — a model turning quadratic is +500% to
# +5,000% — not for 15% drifts: classes past 100/200/400%, and only CRITICAL (> 400%) fails.
# DuckDB's counters per model are exact and gate on any machine: the quadratic variant moves
# them by orders of magnitude. The rebuilds have two samples: counters only.
# dbt's phases come from run results (simperf.record), which the instruction gate does not
# count, so the valgrind child would only pay for the builds: opt out.
@pytest.mark.simperf(thresholds=(100, 200, 400), fail_on="CRITICAL", instructions=False)
@pytest.mark.workforce(employees=5000, years=5, seed=42, start_year=2025)
@pytest.mark.sla(seconds=5, phase="fct_yearly_events")
@pytest.mark.sla(seconds=5, phase="int_workforce_state")
@pytest.mark.sla(seconds=5, phase="fct_workforce_snapshot")
@pytest.mark.sla(seconds=60, memory_mb=1500, phase="dbt_total")
def test_workforce_simulation_five_years(simperf, simperf_dbt):
    years = simperf_dbt.simulation_years
    assert years == [2025, 2026, 2027, 2028, 2029]
    year = yearly_sequence()
    # Unmeasured (a plain `pytest`, no --simperf) one build checks the same results: the extra
    # rounds are there for samples only.
    rounds = ROUNDS if simperf.measuring else 1
    builds = simperf_dbt.run_years(rounds=rounds, sequence=year)
    assert len(builds) == rounds * len(years) * 4  # four dbt invocations a year
    # Re-running a year that is already built is where history-rewriting strategies hide.
    simperf_dbt.rebuild_year(years[2], rounds=2 if simperf.measuring else 1, sequence=year)

    headcount = simperf_dbt.query(
        "select simulation_year, count(*) from fct_workforce_snapshot "
        "where employment_status = 'active' group by all order by all"
    )
    assert [y for y, _ in headcount] == years
    assert all(4_500 < active < 7_000 for _, active in headcount)
    # The Python step saw each year's calendar and ran before that year's marts.
    log = simperf_dbt.query(f"select simulation_year, calendar_year from {LOG_TABLE} order by 1")
    assert log == [(y, y) for y in years]
