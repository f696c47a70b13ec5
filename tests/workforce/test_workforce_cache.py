"""The build-once cache: one build per spec, even when processes race; copies are private."""

from __future__ import annotations

import subprocess
import sys

import duckdb

from pytest_simperf.workforce import WorkforceCache, WorkforceSpec

SPEC = WorkforceSpec(120, years=2, seed=8)


CHILD = """
import sys
from pathlib import Path
from pytest_simperf.workforce import WorkforceCache, WorkforceSpec
cache = WorkforceCache(Path(sys.argv[1]))
spec = WorkforceSpec(120, years=2, seed=8)
sys.stdin.readline()  # everything is imported: wait for the start signal, then race
print(cache.get(spec))
"""


def test_builds_once_then_reuses(tmp_path):
    cache = WorkforceCache(tmp_path / "cache")
    first = cache.get(SPEC)
    inode = first.stat().st_ino
    assert cache.get(SPEC) == first
    assert WorkforceCache(tmp_path / "cache").get(SPEC) == first  # a fresh instance too
    assert first.stat().st_ino == inode
    assert [entry["file"] for entry in cache.builds()] == [first.name]


def test_each_spec_has_its_own_file(tmp_path):
    cache = WorkforceCache(tmp_path)
    paths = {cache.get(SPEC), cache.get(WorkforceSpec(120, years=2, seed=9))}
    assert len(paths) == 2
    assert len(cache.builds()) == 2


def test_racing_processes_build_once(tmp_path):
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for child in children:  # release them together so their builds overlap
        child.stdin.write("go\n")
        child.stdin.flush()
    paths = set()
    for child in children:
        out, _ = child.communicate(timeout=120)
        assert child.returncode == 0
        paths.add(out.strip())
    assert len(paths) == 1
    builds = WorkforceCache(tmp_path).builds()
    assert len(builds) == 1, builds
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_copies_are_isolated(tmp_path):
    cache = WorkforceCache(tmp_path / "cache")
    first = cache.open_copy(SPEC, tmp_path / "a")
    second = cache.open_copy(SPEC, tmp_path / "a")  # same folder: a second file, not a clash
    try:
        assert first.path != second.path
        assert first.path.parent == tmp_path / "a"
        first.con.execute("DELETE FROM census")
        first.con.execute("CREATE TABLE scratch AS SELECT 1")
        assert second.con.execute("SELECT count(*) FROM census").fetchone()[0] > 0
    finally:
        first.close()
        second.close()
    with duckdb.connect(str(cache.get(SPEC)), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM census").fetchone()[0] > 0
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        assert "scratch" not in tables
    assert len(cache.builds()) == 1


def test_copy_is_described_by_its_spec(tmp_path):
    with WorkforceCache(tmp_path).open_copy(SPEC, tmp_path / "copy") as workforce:
        assert (workforce.employees, workforce.years, workforce.seed) == (120, 2, 8)
        assert workforce.simulation_years == [2025, 2026]
        assert workforce.spec == SPEC
        written = workforce.to_parquet(tmp_path / "parquet")
    assert sorted(written) == ["census", "workforce_events", "workforce_snapshots"]
    rows = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{written['census']}') WHERE active"
    ).fetchall()
    assert rows == [(120,)]
