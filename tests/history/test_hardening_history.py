"""The ``simperf`` command and the history store under bad input (issue 16): every subcommand
answers a bad argument or a damaged file with one line naming it and exit status 2."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime

import duckdb
import pytest

from pytest_simperf import history
from pytest_simperf.cli import main

STARTED = datetime(2026, 11, 23, 8, 40)


def _run(capsys, *args):
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def _one_line_error(code, err, command, needle):
    """Exit status 2 and one error line naming the problem (argparse adds its usage above)."""
    assert code == 2
    errors = [line for line in err.strip().splitlines() if ": error:" in line]
    assert len(errors) == 1, err
    assert errors[0].startswith(f"simperf {command}: error:")
    assert needle in errors[0]
    assert "Traceback" not in err


@pytest.fixture
def hist(tmp_path, make_report):
    path = tmp_path / "history.duckdb"
    for day in range(2):
        history.record_run(path, make_report(started_at=STARTED.replace(day=20 + day), seed=day))
    return path


# -- item 5: arguments past what the store can represent -----------------------------------------


@pytest.mark.parametrize("command", ["runs", "trend", "sla"])
@pytest.mark.parametrize("days", ["1e10", "1e300", "99999999999999"])
def test_a_window_past_year_one_means_everything(capsys, hist, command, days):
    code, _, err = _run(capsys, command, "--history", hist, "--days", days)
    assert code == 0, err


def test_dashboard_with_a_huge_window_and_run_limit(capsys, hist, tmp_path):
    out = tmp_path / "d.html"
    args = ("dashboard", "--history", hist, "--out", out, "--days", "1e10")
    code, _, err = _run(capsys, *args, "--max-runs", "99999999999999999999")
    assert code == 0, err
    assert out.is_file()


def test_runs_with_a_huge_limit_lists_every_run(capsys, hist):
    code, out, err = _run(capsys, "runs", "--history", hist, "--limit", "9" * 40)
    assert code == 0, err
    assert len([line for line in out.splitlines() if line.startswith("2026")]) == 2


@pytest.mark.parametrize(
    "ref", ["latest~2", "latest~9223372036854775808", "latest~" + "9" * 5000, "latest~٣"]
)
def test_a_run_reference_past_the_history_is_one_line(capsys, hist, ref):
    code, _, err = _run(capsys, "report", "--history", hist, ref)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "the history holds only 2 runs" in err or "bad run reference" in err


def test_compare_with_a_huge_reference(capsys, hist):
    code, _, err = _run(capsys, "compare", "--history", hist, "latest", "latest~" + "9" * 30)
    _one_line_error(code, err, "compare", "holds only 2 runs")


@pytest.mark.parametrize(
    ("out", "needle"),
    [
        (".", "is a folder"),
        ("{tmp}", "is a folder"),
        ("", "expected a file path"),
        ("/proc/nope/d.html", "cannot be written"),
        ("/proc/d.html", "cannot be written"),
        ("{tmp}/blocker/d.html", "cannot be written"),
    ],
)
def test_dashboard_out_that_cannot_be_written(capsys, hist, tmp_path, monkeypatch, out, needle):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file where a folder should be\n")
    code, _, err = _run(capsys, "dashboard", "--history", hist, "--out", out.format(tmp=tmp_path))
    _one_line_error(code, err, "dashboard", needle)


@pytest.mark.parametrize("out", ["/proc/w.duckdb", "/proc/nope/w", "{tmp}/blocker/w.duckdb"])
def test_generate_out_that_cannot_be_written(capsys, tmp_path, out):
    (tmp_path / "blocker").write_text("a file where a folder should be\n")
    args = ("generate", "--employees", "20", "--years", "1", "--quiet")
    code, _, err = _run(capsys, *args, "--out", out.format(tmp=tmp_path))
    _one_line_error(code, err, "generate", "cannot be written")


# -- item 5: a damaged history -----------------------------------------------------------------


def test_a_truncated_history_is_one_line(capsys, hist, tmp_path):
    cut = tmp_path / "cut.duckdb"
    cut.write_bytes(hist.read_bytes()[: hist.stat().st_size // 3])
    for command in ("runs", "report", "trend", "sla"):
        code, _, err = _run(capsys, command, "--history", cut)
        _one_line_error(code, err, command, str(cut))


def test_an_unreadable_schema_version_is_one_line_and_the_file_is_untouched(capsys, hist):
    con = duckdb.connect(str(hist))
    con.execute("UPDATE simperf_meta SET value = 'two' WHERE key = 'schema_version'")
    con.close()
    before = hist.read_bytes()
    code, _, err = _run(capsys, "runs", "--history", hist)
    _one_line_error(code, err, "runs", "unreadable schema version 'two'")
    assert str(hist) in err
    assert hist.read_bytes() == before


@pytest.mark.parametrize("table", ["performance", "runs", "regressions", "sla_definitions"])
def test_a_dropped_table_is_one_line(capsys, hist, tmp_path, table):
    damaged = tmp_path / f"no_{table}.duckdb"
    shutil.copy(hist, damaged)
    con = duckdb.connect(str(damaged))
    con.execute(f"DROP TABLE {table}")
    con.close()
    for command in ("runs", "report", "trend", "sla", "compare"):
        extra = ("latest", "latest~1") if command == "compare" else ()
        code, _, err = _run(capsys, command, "--history", damaged, *extra)
        if code == 0:  # a command that never reads that table
            continue
        _one_line_error(code, err, command, str(damaged))


def test_a_folder_at_the_history_path_is_one_line(capsys, tmp_path):
    code, _, err = _run(capsys, "runs", "--history", tmp_path)
    _one_line_error(code, err, "runs", "is not a file")


# -- item 11: a SQLite file is refused before DuckDB opens it ----------------------------------


def test_a_sqlite_file_is_refused_before_duckdb_opens_it(tmp_path, make_report):
    path = tmp_path / "history.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (i INTEGER)")
    con.commit()
    con.close()
    before = path.read_bytes()
    opened = []

    def connect(target, read_only):
        opened.append(target)
        raise AssertionError("DuckDB must not open a SQLite file")

    with pytest.raises(history.HistoryError, match="is a SQLite database"):
        history.record_run(path, make_report(started_at=STARTED), connect=connect)
    with pytest.raises(history.HistoryError, match="is a SQLite database"):
        history.list_runs(path)
    assert opened == [] and path.read_bytes() == before


# -- item 11: a figure past its column costs that figure, not the run ---------------------------


def test_out_of_range_integers_keep_the_run_and_store_null(tmp_path, make_report):
    report = make_report(started_at=STARTED)
    phase = report["tests"][0]["phases"][0]
    phase.update(year=10**12, rows=10**30, rows_scanned=2**63, rounds=10**400)
    path = tmp_path / "history.duckdb"
    run_id = history.record_run(path, report)
    data = history.load_run(path, run_id)
    assert len(data["performance"]) == sum(len(t["phases"]) for t in report["tests"])
    nulls = [p for p in data["performance"] if p["year"] is None]
    assert len(nulls) == 1
    assert nulls[0]["rows"] is None and nulls[0]["rows_scanned"] is None


def test_huge_numbers_in_a_report_are_stored_as_null_not_raised(tmp_path, make_report):
    report = make_report(started_at=STARTED)
    report["tests"][0]["phases"][0]["median_s"] = 10**400
    report["run"]["duration_s"] = 10**400
    path = tmp_path / "history.duckdb"
    run_id = history.record_run(path, report)
    assert history.load_run(path, run_id)["run"]["duration_s"] is None
