"""DuckDB's JSON profile read into counters, on profiles recorded from each DuckDB version the
package allows (``data/duckdb_profiles``, written by its ``capture.py``): these tests do not
depend on the DuckDB installed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_simperf.duckdb_profile import (
    ProfileState,
    incomplete_note,
    normalise_sql,
    parse_profile,
    read_counters,
    same_statement,
)

DATA = Path(__file__).parent / "data" / "duckdb_profiles"
VERSIONS = ("1.1.3", "1.2.2", "1.3.2", "1.4.4", "1.5.6", "2.0.1")
NESTED = ("2.0.1",)


def recorded(version: str, case: str) -> str:
    return (DATA / f"{version}_{case}.json").read_text()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_finished_statement_gives_its_rows_scanned_in_every_layout(version):
    profile = parse_profile(recorded(version, "fetchall"))
    assert profile.state is ProfileState.FINISHED
    assert profile.layout == ("nested" if version in NESTED else "flat")
    counters = profile.counters
    assert counters is not None
    assert counters.rows_scanned == 8000
    assert counters.intermediate_rows > 0
    assert counters.cpu_time_s > 0
    assert normalise_sql(counters.sql) == "SELECT count(*) FROM t WHERE i % 2 = 0"


@pytest.mark.parametrize("version", VERSIONS)
def test_a_plan_reading_twice_the_rows_scans_twice_the_rows(version):
    small = read_counters(recorded(version, "fetchall"))
    large = read_counters(recorded(version, "fetchall_16000"))
    assert small is not None and large is not None
    assert (small.rows_scanned, large.rows_scanned) == (8000, 16000)


@pytest.mark.parametrize("version", VERSIONS)
def test_a_result_read_with_fetchone_to_its_end_is_counted(version):
    counters = read_counters(recorded(version, "fetchone_finished"))
    assert counters is not None and counters.rows_scanned == 8000


@pytest.mark.parametrize("version", ["1.5.6", "2.0.1"])
def test_a_result_still_being_read_is_open_not_zero_work(version):
    # 1.5: a flat document with an empty name and zeros; 2.x: the operators only.
    profile = parse_profile(recorded(version, "fetchone_open"))
    assert profile.state is ProfileState.OPEN
    assert profile.counters is None


@pytest.mark.parametrize("version", ["1.1.3", "1.2.2", "1.3.2", "1.4.4"])
def test_before_1_5_an_open_result_writes_no_profile_file(version):
    assert (DATA / f"{version}_fetchone_open.none").exists()
    assert not (DATA / f"{version}_fetchone_open.json").exists()


def test_peak_buffer_memory_where_duckdb_reports_it():
    for version in ("1.3.2", "1.4.4", "1.5.6", "2.0.1"):
        counters = read_counters(recorded(version, "fetchall"))
        assert counters is not None and counters.peak_buffer_bytes, version
    for version in ("1.1.3", "1.2.2"):  # not a metric of theirs
        counters = read_counters(recorded(version, "fetchall"))
        assert counters is not None and counters.peak_buffer_bytes is None, version


@pytest.mark.parametrize("version", ["1.4.4", "1.5.6", "2.0.1"])
def test_ddl_is_profiled_as_zero_work_with_coverage_all(version):
    counters = read_counters(recorded(version, "ddl"))
    assert counters is not None and counters.rows_scanned == 0


@pytest.mark.parametrize("version", VERSIONS)
def test_insert_from_a_table_counts_the_rows_it_read(version):
    counters = read_counters(recorded(version, "insert"))
    assert counters is not None and counters.rows_scanned == 8000


@pytest.mark.parametrize("version", ["1.2.2", "1.3.2", "1.5.6", "2.0.1"])
def test_after_an_error_there_is_no_statement(version):
    assert parse_profile(recorded(version, "after_error")).state is ProfileState.NONE


def test_signature_tells_two_runs_of_the_same_text_apart():
    for version in VERSIONS:
        first = read_counters(recorded(version, "fetchall"))
        again = read_counters(recorded(version, "fetchone_finished"))
        assert first is not None and again is not None
        assert first.sql == again.sql
        assert first.signature != again.signature, version


@pytest.mark.parametrize(
    ("document", "state"),
    [
        (None, ProfileState.NONE),
        ({"result": "empty"}, ProfileState.NONE),
        ({"result": "error"}, ProfileState.NONE),
        ({}, ProfileState.OPEN),
        ({"operator": []}, ProfileState.OPEN),
        ({"query_name": "", "cumulative_rows_scanned": 0}, ProfileState.OPEN),
        ("not json", ProfileState.UNREADABLE),
        ([1, 2], ProfileState.UNREADABLE),
        ({"something": "else"}, ProfileState.UNREADABLE),
    ],
)
def test_states_of_documents_without_totals(document, state):
    profile = parse_profile(document if not isinstance(document, list) else json.dumps(document))
    assert profile.state is state
    assert profile.counters is None


def test_a_profile_missing_the_figures_says_which():
    nested = parse_profile({"query": {"sql": "select 1", "total_intermediate_rows": 1}})
    assert nested.state is ProfileState.UNREADABLE
    assert "total_rows_scanned" in (nested.reason or "")
    # 1.x with CUMULATIVE_ROWS_SCANNED switched off in custom_profiling_settings
    flat = parse_profile({"query_name": "select 1", "cumulative_cardinality": 1})
    assert flat.state is ProfileState.UNREADABLE
    assert "cumulative_rows_scanned" in (flat.reason or "")


def test_statement_text_is_compared_as_duckdb_names_it():
    assert same_statement("  select 1;\n", "select 1")
    assert same_statement(None, "select 1")  # unknown text: nothing to contradict
    assert not same_statement("select 1", "select 2")
    assert normalise_sql(" select 1 ;; ") == "select 1"


def test_the_incomplete_note():
    assert incomplete_note(0, 5, {}) is None
    note = incomplete_note(2, 7, {"b reason": 1, "a reason": 1})
    assert note == (
        "counters incomplete: 2 of 7 statements had no profile: a reason (1); b reason (1)"
    )
