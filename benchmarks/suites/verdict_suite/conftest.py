"""The verdict suite's shared data: one deterministic in-memory warehouse per session.

Each test gets its own cursor on it (a connection of its own, so its profiling settings are its
own) and hands it to ``simperf.track``. ``SIMPERF_BENCH_DURATIONS`` names a JSON-lines file that
receives every test phase's duration, for the cost comparison of bench_verdicts.py.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
import workload


@pytest.fixture(scope="session")
def warehouse() -> Iterator[Any]:
    con = duckdb.connect(":memory:")
    workload.build(con)
    yield con
    con.close()


@pytest.fixture
def con(simperf: Any, warehouse: Any) -> Iterator[Any]:
    cursor = warehouse.cursor()
    yield simperf.track(cursor)
    cursor.close()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    path = os.environ.get("SIMPERF_BENCH_DURATIONS")
    if path:
        with open(path, "a", encoding="utf-8") as fh:  # noqa: PTH123
            fh.write(
                json.dumps({"nodeid": report.nodeid, "when": report.when, "s": report.duration})
                + "\n"
            )
