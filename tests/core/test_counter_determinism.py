"""DuckDB's work counters gate plan regressions exactly only if they are reproducible. Rows
scanned follow DuckDB's row groups (zone-map pruning), so a workforce database must be written
with the same row groups every time: full row groups, only the last one partial. A parallel write
splits them differently from run to run (seen here: 122,880 vs 116,307 rows scanned for the
same query on identical data)."""

from __future__ import annotations

import duckdb

from pytest_simperf.workforce import WorkforceSpec, build_database

LAYOUT = """
SELECT row_group_id, sum(count) FROM pragma_storage_info('workforce_events')
WHERE column_id = 0 GROUP BY 1 ORDER BY 1
"""


def test_workforce_files_have_the_same_row_groups_every_build(tmp_path):
    layouts = set()
    for index in range(3):
        path = build_database(
            WorkforceSpec(employees=25_000, years=5, seed=5), tmp_path / f"w{index}.duckdb"
        )
        with duckdb.connect(str(path), read_only=True) as con:
            sizes = tuple(size for _, size in con.execute(LAYOUT).fetchall())
        assert len(sizes) >= 2, "needs more than one row group to say anything"
        assert len(set(sizes[:-1])) == 1 and sizes[-1] <= sizes[0], sizes
        layouts.add(sizes)
    assert len(layouts) == 1
