"""Synthetic workforces: seeded, scaled, multi-year DuckDB data built with set-based SQL.

Importing this package does not import duckdb; the builders import it when they run.
"""

from __future__ import annotations

from pytest_simperf.workforce.cache import WorkforceCache
from pytest_simperf.workforce.generate import TABLES, build_database, build_workforce
from pytest_simperf.workforce.handle import Workforce, create_workforce, open_workforce
from pytest_simperf.workforce.spec import SCALES, Rates, WorkforceSpec, resolve_employees

__all__ = [
    "SCALES",
    "TABLES",
    "Rates",
    "Workforce",
    "WorkforceCache",
    "WorkforceSpec",
    "build_database",
    "build_workforce",
    "create_workforce",
    "open_workforce",
    "resolve_employees",
]
