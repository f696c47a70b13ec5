"""dbt-duckdb integration: run a dbt project in-process and gate each model's time.

``DbtProject`` (in ``runner``) is plain Python and usable without pytest; the ``simperf_dbt``
fixture (in ``plugin``) binds one to a test's synthetic workforce and records every model's
time as a ``simperf`` phase. Nothing here imports dbt until a project actually runs.
"""

from __future__ import annotations

from pytest_simperf.dbt.runner import DbtInvocation, DbtProject, DbtRunError, NodeResult

__all__ = ["DbtInvocation", "DbtProject", "DbtRunError", "NodeResult"]
