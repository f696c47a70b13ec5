"""The shipped example project's multi-step simulation year, as a production orchestrator runs it.

A real workforce pipeline does not run one ``dbt build`` per year: it seeds, builds staging,
builds the year's events, runs Python between invocations, then accumulates state. This is
that year for ``example_project/`` (the selectors are in its ``selectors.yml``)::

    seed → build -s staging → build --selector yearly_events → log_year_start (Python)
         → build --selector accumulate

``log_year_start`` writes one row per year to ``simulation_log``: the year the ephemeral
calendar was compiled for, the population and planned hires of the year, and the last year
the marts held when it ran. The tests read it back to prove that every step ran in its place
and every year was built for that year (``tests/dbt/test_example_sequence.py``).

Importing this module imports neither dbt nor duckdb.
"""

from __future__ import annotations

from typing import Any

from pytest_simperf.dbt.sequence import PythonStep, YearSequence

#: The table ``log_year_start`` writes, one row per simulation year.
LOG_TABLE = "simulation_log"


def log_year_start(project: Any, year: int) -> None:
    """Between the events and the marts: note what the year's events were built from.

    ``marts_through`` is the latest year ``fct_yearly_events`` held at that moment, so it is
    ``year - 1`` (``None`` in the first year, after a full refresh) when the step runs where
    it belongs.
    """
    import duckdb

    con = duckdb.connect(str(project.database_path))
    try:
        con.execute(
            f"create table if not exists {LOG_TABLE} (simulation_year integer primary key, "
            "calendar_year integer, active_start integer, planned_hires integer, "
            "marts_through integer)"
        )
        marts = con.execute(
            "select count(*) from information_schema.tables where table_name = 'fct_yearly_events'"
        ).fetchone()
        through: Any = None
        if marts and marts[0]:
            row = con.execute("select max(simulation_year) from fct_yearly_events").fetchone()
            through = row[0] if row else None
        con.execute(f"delete from {LOG_TABLE} where simulation_year = ?", [year])
        con.execute(
            f"insert into {LOG_TABLE} select ?, "
            "(select any_value(simulation_year) from int_active_workforce_start), "
            "(select count(*) from int_active_workforce_start), "
            "(select count(*) from int_hiring_events), ?",
            [year, through],
        )
    finally:
        con.close()


def yearly_sequence() -> YearSequence:
    """The example project's simulation year in five steps (see the module docstring)."""
    return YearSequence(
        [
            {"command": "seed"},
            {"select": "staging"},
            {"selector": "yearly_events"},
            PythonStep(log_year_start),
            {"selector": "accumulate"},
        ]
    )
