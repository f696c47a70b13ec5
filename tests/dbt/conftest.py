"""Shared set-up for the dbt tests: the shipped project and its models, and a small synthetic
workforce, built once, copied per use."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from pytest_simperf.dbt.runner import DbtProject
from pytest_simperf.workforce import WorkforceSpec, build_database

SHIPPED_PROJECT = Path(__file__).resolve().parents[2] / "pytest_simperf" / "dbt" / "example_project"
#: The shipped project's models, in build order (seeds are not models).
MODELS = (
    "stg_census",
    "int_baseline_workforce",
    "int_active_workforce_start",
    "int_termination_events",
    "int_promotion_events",
    "int_merit_events",
    "int_hiring_events",
    "fct_yearly_events",
    "int_workforce_state",
    "fct_workforce_snapshot",
)
SMALL = WorkforceSpec(employees=400, years=3, seed=42, start_year=2025)
YEARS = SMALL.simulation_years


@pytest.fixture(scope="session")
def shipped_project() -> Path:
    """The dbt project this repository ships (``dbt_project/``)."""
    return SHIPPED_PROJECT


@pytest.fixture(scope="session")
def shipped_models() -> tuple[str, ...]:
    """Names of the shipped project's models, in build order."""
    return MODELS


@pytest.fixture(scope="session")
def small_workforce_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("workforce") / "small.duckdb"
    return build_database(SMALL, path)


@pytest.fixture(scope="session")
def make_project(
    small_workforce_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., DbtProject]:
    """A DbtProject on a fresh copy of the small workforce (census as a table), with dbt's log
    kept off the console."""

    def make(**kwargs) -> DbtProject:
        work = tmp_path_factory.mktemp("dbt")
        database = work / "simperf_dbt.duckdb"
        shutil.copy(small_workforce_db, database)
        kwargs.setdefault("start_year", YEARS[0])
        kwargs.setdefault("console_log", False)  # dbt's full log is in project.log_file
        return DbtProject(SHIPPED_PROJECT, database, work, **kwargs)

    return make
