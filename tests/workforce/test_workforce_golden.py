"""Golden checksums: the generated tables must not change by a single value or row position.

The committed perf baselines and every user's cached workforce depend on the generator giving
the same bytes for the same spec, so a speed-up of the SQL must leave these hashes alone. If the
data is changed on purpose, bump ``GENERATOR_VERSION`` and update the hashes here, and expect to
re-record the baselines.
"""

from __future__ import annotations

import hashlib

import duckdb
import pytest

from pytest_simperf.workforce import Rates, WorkforceSpec, build_workforce
from pytest_simperf.workforce import generate as g

SPECS = {
    "default_1000x5": WorkforceSpec(1_000, years=5, seed=42),
    # Many census leavers, half enrolled, a leap census year and a higher escalation cap.
    "leavers_300x3": WorkforceSpec(
        300,
        years=3,
        seed=7,
        start_year=2028,
        rates=Rates(census_terminated=0.3, enrolled=0.5, escalation_cap=0.15),
    ),
}

GOLDEN = {
    ("default_1000x5", "census"):
        "5e9d71710e2a511fe209a3d9f84c49d4ac406fc8160c491822052551a3f8057a",
    ("default_1000x5", "workforce_events"):
        "f910d368044deb930454ca0358190cd2ae72e291e22648e0c197e63d2c1a37cc",
    ("default_1000x5", "workforce_snapshots"):
        "872d912b1a2e694d7df9ab7054d51bbe467b6fa96fea5ad911b3c9b34614ae51",
    ("leavers_300x3", "census"):
        "02d4b230dd82426b6b0af6ef22356e0e7e9af021b8d4b0fd3b6ca7033b619165",
    ("leavers_300x3", "workforce_events"):
        "50840e36e27acba465a03022efc0a089cb1f8ce186e272d89b5c14a2c06465f3",
    ("leavers_300x3", "workforce_snapshots"):
        "844aefff83e44e58e98af256d74270fe15559915ec5184a05ccac786afe89adc",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(SPECS))
@pytest.mark.parametrize("threads", [1, 2])
def test_tables_match_their_golden_checksums(name, threads):
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    build_workforce(con, SPECS[name])
    con.execute("SET preserve_insertion_order = true")
    for table in g.TABLES:
        rows = con.execute(f"SELECT * FROM {table}").fetchall()  # stored order, no ORDER BY
        digest = hashlib.sha256(repr(rows).encode()).hexdigest()
        assert digest == GOLDEN[(name, table)], f"{name}: {table} changed"
    con.close()
