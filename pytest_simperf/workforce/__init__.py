"""Synthetic workforces: seeded, scaled, multi-year DuckDB data built with set-based SQL.

Importing this package imports neither duckdb nor the builders: the names below load from their
modules on first use, so the pytest plugin (which lives in ``workforce.plugin``) stays cheap to
start when no workforce is asked for.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_simperf.workforce.cache import WorkforceCache
    from pytest_simperf.workforce.generate import TABLES, build_database, build_workforce
    from pytest_simperf.workforce.handle import Workforce, create_workforce, open_workforce
    from pytest_simperf.workforce.spec import SCALES, Rates, WorkforceSpec, resolve_employees

_HOME = {
    "WorkforceCache": "cache",
    "TABLES": "generate",
    "build_database": "generate",
    "build_workforce": "generate",
    "Workforce": "handle",
    "create_workforce": "handle",
    "open_workforce": "handle",
    "SCALES": "spec",
    "Rates": "spec",
    "WorkforceSpec": "spec",
    "resolve_employees": "spec",
}

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


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_simperf.workforce' has no attribute {name!r}")
    return getattr(importlib.import_module(f"pytest_simperf.workforce.{module}"), name)
