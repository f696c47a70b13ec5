"""Perf tests of real DuckDB work (20–100 ms a round) for the false-alarm and power benchmark."""

from __future__ import annotations

from typing import Any

import pytest
import workload


@pytest.mark.sla(seconds=2.0)
def test_event_totals(simperf: Any, con: Any) -> None:
    rows = simperf.measure(workload.runner(con, "event_totals"))
    assert len(rows) == 25


@pytest.mark.sla(seconds=2.0)
def test_department_events(simperf: Any, con: Any) -> None:
    rows = simperf.measure(workload.runner(con, "department_events"))
    assert len(rows) == 200


def test_top_earners(simperf: Any, con: Any) -> None:
    rows = simperf.measure(workload.runner(con, "top_earners"))
    assert len(rows) == 400


def test_distinct_employees(simperf: Any, con: Any) -> None:
    rows = simperf.measure(workload.runner(con, "distinct_employees"))
    assert len(rows) == 5


@pytest.mark.sla(seconds=2.0)
def test_yearly_events(simperf: Any, con: Any) -> None:
    for year in workload.YEARS:
        with simperf.phase("yearly_events", year=year):
            rows = simperf.measure(workload.runner(con, "yearly_events", {"year": year}))
        assert len(rows) == 45
