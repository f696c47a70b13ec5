"""dbt-duckdb integration: run a dbt project in-process and gate each model's time.

``DbtProject`` (in ``runner``) is plain Python and usable without pytest; the ``simperf_dbt``
fixture (in ``plugin``) binds one to a test's synthetic workforce and records every model's
time as a ``simperf`` phase. ``YearSequence`` (with ``DbtStep`` and ``PythonStep``) states what
one simulation year runs. Nothing here imports dbt until a project actually runs, and the
runner itself loads on first use of these names, keeping the plugin's start-up cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pytest_simperf.dbt.runner import DbtInvocation, DbtProject, DbtRunError, NodeResult
    from pytest_simperf.dbt.sequence import DbtStep, PythonStep, YearSequence

__all__ = [
    "DbtInvocation",
    "DbtProject",
    "DbtRunError",
    "DbtStep",
    "NodeResult",
    "PythonStep",
    "YearSequence",
]
_SEQUENCE = frozenset({"DbtStep", "PythonStep", "YearSequence"})


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'pytest_simperf.dbt' has no attribute {name!r}")
    if name in _SEQUENCE:
        from pytest_simperf.dbt import sequence

        return getattr(sequence, name)
    from pytest_simperf.dbt import runner

    return getattr(runner, name)
