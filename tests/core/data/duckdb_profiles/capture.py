"""Record the JSON profiles DuckDB gives for a few statements, as test data.

Run with each DuckDB version the package allows (a throwaway venv per version)::

    python3 -m venv /tmp/ddb && /tmp/ddb/bin/pip install duckdb==1.4.4
    /tmp/ddb/bin/python tests/core/data/duckdb_profiles/capture.py

It writes ``<version>_<case>.json`` next to itself. DuckDB 1.5 and later hand the profile out
through ``get_profiling_information``; before 1.5 the Python API has no such call and the profile
is read from the file ``profiling_output`` names, which is what pytest-simperf does there too.
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
VERSION = duckdb.__version__


def main() -> None:
    con = duckdb.connect()
    con.execute("CREATE TABLE t AS SELECT range AS i FROM range(8000)")
    con.execute("CREATE TABLE u AS SELECT range AS i FROM range(16000)")
    api = hasattr(con, "get_profiling_information")
    out = Path(tempfile.mkdtemp()) / "profile.json"
    if api:
        con.execute("SET enable_profiling = 'no_output'")
    else:
        con.execute(f"SET profiling_output = '{out}'")
        con.execute("SET enable_profiling = 'json'")
    with contextlib.suppress(duckdb.Error):  # before 1.4 only statements with a plan are
        con.execute("SET profiling_coverage = 'ALL'")

    def save(case: str) -> None:
        if api:
            text = con.get_profiling_information(format="json")
        elif out.exists():
            text = out.read_text()
            out.unlink()
        else:
            text = None
        target = HERE / f"{VERSION}_{case}.json"
        if text is None:
            target.with_suffix(".none").write_text("no profile file was written\n")
            return
        target.write_text(json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n")

    con.execute("SELECT count(*) FROM t WHERE i % 2 = 0").fetchall()
    save("fetchall")
    con.execute("SELECT count(*) FROM u WHERE i % 2 = 0").fetchall()
    save("fetchall_16000")
    con.execute("SELECT count(*) FROM t WHERE i % 2 = 0").fetchone()
    save("fetchone_open")
    con.fetchone()  # the end of the result: now the statement is finished
    save("fetchone_finished")
    con.execute("CREATE TABLE v (i BIGINT)")
    save("ddl")
    con.execute("INSERT INTO v SELECT i FROM t")
    save("insert")
    try:
        con.execute("SELECT nope FROM t")
    except duckdb.Error:
        save("after_error")


if __name__ == "__main__":
    sys.exit(main())
