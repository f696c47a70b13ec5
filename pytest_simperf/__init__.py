"""pytest-simperf: performance regression gates for DuckDB and dbt-duckdb pipelines.

The public surface is small on purpose: the fixtures and markers are what users type; these are
the names worth importing (for type hints, catching our errors, filtering our warnings). Importing
this package imports neither DuckDB nor dbt.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_simperf.errors import BaselineError, SimperfError, SimperfWarning, UsageError

if TYPE_CHECKING:
    from pytest_simperf.fixtures import Simperf
    from pytest_simperf.unmeasured import PhaseHandle

__version__ = "0.1.0"

__all__ = [
    "BaselineError",
    "PhaseHandle",
    "Simperf",
    "SimperfError",
    "SimperfWarning",
    "UsageError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """``Simperf`` and ``PhaseHandle`` on first use, keeping ``import pytest_simperf`` cheap."""
    if name in ("Simperf", "PhaseHandle"):
        from pytest_simperf import fixtures

        return getattr(fixtures, name)
    raise AttributeError(f"module 'pytest_simperf' has no attribute {name!r}")
