"""``simperf generate``: outputs DuckDB and a dbt project can read; clear refusals."""

from __future__ import annotations

import io

import duckdb
import pytest

from pytest_simperf.cli import main
from pytest_simperf.workforce import cli as generate_cli
from pytest_simperf.workforce import generate
from pytest_simperf.workforce.cli import ProgressOutput


def run(*args: str) -> int:
    return main(["generate", *args])


def test_duckdb_output(tmp_path, capsys):
    out = tmp_path / "w.duckdb"
    assert run("--employees", "80", "--years", "2", "--seed", "4", "--out", str(out)) == 0
    with duckdb.connect(str(out), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM census WHERE active").fetchone()[0] == 80
        years = con.execute("SELECT DISTINCT simulation_year FROM workforce_snapshots ORDER BY 1")
        assert [y for (y,) in years.fetchall()] == [2025, 2026]
    stdout = capsys.readouterr().out
    assert f"wrote {out} (duckdb): census 84 rows" in stdout


def test_parquet_output_is_a_census_dbt_can_read(tmp_path):
    out = tmp_path / "seeds"
    assert (
        run("--employees", "small", "--years", "1", "--start-year", "2030", "--out", str(out)) == 0
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "census.parquet",
        "workforce_events.parquet",
        "workforce_snapshots.parquet",
    ]
    # The kind of query a dbt staging model runs over the census.
    rows = duckdb.sql(
        f"""
        SELECT level_id, count(*) AS headcount, avg(employee_gross_compensation) AS pay
        FROM read_parquet('{out / "census.parquet"}')
        WHERE active AND employee_termination_date IS NULL
        GROUP BY level_id ORDER BY level_id
        """
    ).fetchall()
    assert sum(headcount for _, headcount, _ in rows) == 1_000
    assert [level for level, _, _ in rows] == [1, 2, 3, 4, 5]
    events = duckdb.sql(
        f"SELECT DISTINCT simulation_year FROM read_parquet('{out / 'workforce_events.parquet'}')"
    ).fetchall()
    assert events == [(2030,)]
    assert [p.name for p in tmp_path.iterdir()] == ["seeds"]  # no temporary folder left


def test_same_arguments_same_data(tmp_path):
    for name in ("a.duckdb", "b.duckdb"):
        assert run("--employees", "50", "--years", "2", "--out", str(tmp_path / name)) == 0
    with (
        duckdb.connect(str(tmp_path / "a.duckdb"), read_only=True) as a,
        duckdb.connect(str(tmp_path / "b.duckdb"), read_only=True) as b,
    ):
        for table in generate.TABLES:
            sql = f"SELECT * FROM {table}"
            assert a.execute(sql).fetchall() == b.execute(sql).fetchall()


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
def test_existing_target_needs_force(tmp_path, capsys, fmt):
    out = tmp_path / ("w.duckdb" if fmt == "duckdb" else "folder")
    assert run("--employees", "20", "--years", "1", "--out", str(out)) == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert run("--employees", "30", "--years", "1", "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert f"simperf generate: error: {out} already exists; pass --force to replace it" in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert run("--employees", "30", "--years", "1", "--out", str(out), "--force") == 0
    census = out if fmt == "duckdb" else out / "census.parquet"
    if fmt == "duckdb":
        with duckdb.connect(str(out), read_only=True) as con:
            active = con.execute("SELECT count(*) FROM census WHERE active").fetchone()[0]
    else:
        active = duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{census}') WHERE active"
        ).fetchall()[0][0]
    assert active == 30


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--employees", "huge"], "unknown workforce scale 'huge'; use a positive count or one of"),
        (["--employees", "-4"], "employees must be at least 1, got -4"),
        (["--employees", "10", "--years", "0"], "years must be between 1 and 50, got 0"),
        (["--employees", "10", "--seed", "-1"], "seed must be between"),
    ],
)
def test_bad_arguments(tmp_path, capsys, args, message):
    assert run(*args, "--out", str(tmp_path / "w.duckdb")) == 2
    assert f"simperf generate: error: {message}" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


def test_too_big_for_this_machine(tmp_path, capsys, monkeypatch):
    import psutil

    class Tiny:
        available = 64 * 2**20

    monkeypatch.setattr(psutil, "virtual_memory", lambda: Tiny())
    assert run("--employees", "xxl", "--out", str(tmp_path / "w.duckdb")) == 2
    err = capsys.readouterr().err
    assert "a workforce of 1,000,000 employees over 5 years needs about" in err
    assert "only 0.1 GiB is available" in err
    assert not any(tmp_path.iterdir())


def test_progress_in_a_log_is_one_line_per_year(tmp_path, capsys, monkeypatch):
    """stderr is no terminal here (as in CI): the years only, nothing else."""
    monkeypatch.setattr(generate_cli, "PROGRESS_THRESHOLD", 100)
    assert run("--employees", "60", "--years", "2", "--out", str(tmp_path / "w.duckdb")) == 0
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["year 2025", "year 2026"]
    assert all(line.startswith("simperf generate: year 20") for line in lines)
    assert (
        run("--employees", "60", "--years", "2", "--out", str(tmp_path / "q.duckdb"), "--quiet")
        == 0
    )
    assert capsys.readouterr().err == ""


def test_help_lists_the_command(capsys):
    with pytest.raises(SystemExit):
        main(["generate", "--help"])
    out = capsys.readouterr().out
    for flag in (
        "--employees",
        "--years",
        "--seed",
        "--start-year",
        "--out",
        "--format",
        "--force",
    ):
        assert flag in out


@pytest.mark.parametrize("fmt", ["duckdb", "parquet"])
def test_progress_on_a_terminal_shows_each_step_while_writing(tmp_path, monkeypatch, fmt):
    """On a terminal: census, each year (kept), and each table as it is written, on a status
    line rewritten in place and ended before the summary."""
    stream = io.StringIO()
    monkeypatch.setattr(generate_cli, "PROGRESS_THRESHOLD", 100)
    monkeypatch.setattr(generate_cli, "ProgressOutput", lambda: ProgressOutput(stream, tty=True))
    out = tmp_path / ("w.duckdb" if fmt == "duckdb" else "w")
    assert run("--employees", "60", "--years", "2", "--out", str(out), "--format", fmt) == 0
    text = stream.getvalue()
    steps = [part for part in text.replace("\n", "\r").split("\r") if part]
    names = [step.removeprefix("\x1b[Ksimperf generate: ").split(" (")[0] for step in steps]
    written = [n for n in names if n.startswith("writing ")]
    suffix = ".parquet" if fmt == "parquet" else ""
    assert written == [
        f"writing {table}{suffix}"
        for table in ("census", "workforce_events", "workforce_snapshots")
    ]
    assert names[0].startswith("census: 60 active")
    kept = [line for line in text.split("\n") if "year 20" in line]
    assert len(kept) == 2 and text.endswith("\n")


def test_progress_output_without_a_terminal_drops_all_but_years():
    stream = io.StringIO()
    progress = ProgressOutput(stream, tty=False)
    for message in ("census: 5 active", "year 2025: 5 active", "writing census (1 of 3)"):
        progress(message)
    progress.close()
    assert stream.getvalue() == "simperf generate: year 2025: 5 active\n"
