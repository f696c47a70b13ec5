"""The object a test receives: an open connection to its own workforce, plus what made it."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from pytest_simperf.workforce.generate import TABLES, Progress, build_workforce
from pytest_simperf.workforce.spec import WorkforceSpec

if TYPE_CHECKING:
    import duckdb


class Workforce:
    """A built workforce: ``con`` holds the tables ``census``, ``workforce_events`` and
    ``workforce_snapshots``; ``path`` is its database file, or None when it lives in memory."""

    def __init__(
        self, con: duckdb.DuckDBPyConnection, spec: WorkforceSpec, path: Path | None = None
    ) -> None:
        self.con = con
        self.spec = spec
        self.path = path

    @property
    def employees(self) -> int:
        """Active headcount at the census date (the census also lists some earlier leavers)."""
        return self.spec.employees

    @property
    def years(self) -> int:
        return self.spec.years

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def start_year(self) -> int:
        return self.spec.start_year

    @property
    def simulation_years(self) -> list[int]:
        return self.spec.simulation_years

    @property
    def tables(self) -> tuple[str, ...]:
        return TABLES

    def to_parquet(self, directory: str | os.PathLike[str]) -> dict[str, Path]:
        """Write each table to ``directory/<table>.parquet`` (e.g. a dbt project's census input)."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        written: dict[str, Path] = {}
        for table in TABLES:
            path = target / f"{table}.parquet"
            literal = str(path).replace("'", "''")
            self.con.execute(f"COPY {table} TO '{literal}' (FORMAT parquet)")
            written[table] = path
        return written

    def close(self) -> None:
        """Close the connection (the file, if any, stays)."""
        self.con.close()

    def __enter__(self) -> Workforce:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        where = str(self.path) if self.path else "memory"
        return f"<Workforce {self.spec.label()} at {where}>"


def create_workforce(spec: WorkforceSpec, *, progress: Progress | None = None) -> Workforce:
    """Build ``spec`` in a new in-memory DuckDB connection (no file, no cache)."""
    import duckdb

    con = duckdb.connect()
    try:
        build_workforce(con, spec, progress=progress)
    except BaseException:
        con.close()
        raise
    return Workforce(con, spec)


def open_workforce(
    path: str | os.PathLike[str], spec: WorkforceSpec, *, read_only: bool = False
) -> Workforce:
    """Open a database file written by :func:`build_database` for ``spec``."""
    import duckdb

    file = Path(path)
    return Workforce(duckdb.connect(str(file), read_only=read_only), spec, file)
