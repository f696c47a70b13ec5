"""dbt-duckdb under ``Simperf.intercept_connections()``: dbt opens its own connection and a
cursor per node, runs transactions and ``delete ...; insert ...`` scripts for incremental
models; all of it is counted, and dbt works as without pytest-simperf."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_every_statement_dbt_runs_is_counted_and_dbt_works(
    pytester: pytest.Pytester, run, shipped_project: Path
):
    pytester.makepyprojecttoml(
        f"""
        [tool.pytest.ini_options]
        simperf_dbt_project = "{shipped_project.as_posix()}"
        """
    )
    pytester.makepyfile(
        """
        import duckdb
        import pytest

        @pytest.mark.workforce(employees=200, years=2, seed=1)
        def test_pipeline(simperf, simperf_dbt):
            connect = duckdb.connect
            with simperf.intercept_connections():
                built = simperf_dbt.run_years()  # 2026 is incremental: delete; insert
            assert duckdb.connect is connect
            assert [inv.success for inv in built] == [True, True]
            totals = {r.key: r for r in simperf.records if r.name == "dbt_total"}
            assert sorted(totals) == ["dbt_total@2025", "dbt_total@2026"]
            for key, record in totals.items():
                assert record.rows_scanned, key
                assert record.counters_complete, record.meta.get("counters_note")
                assert record.meta["duckdb_connections"] > 1, key  # a cursor per node
            assert simperf_dbt.query("select count(*) from fct_workforce_snapshot")[0][0] > 0
        """
    )
    result = run("--simperf", subprocess=True)
    result.assert_outcomes(passed=1)
