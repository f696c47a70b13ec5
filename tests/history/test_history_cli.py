"""``simperf report | runs | compare | trend | sla | dashboard`` with good and bad arguments."""

from __future__ import annotations

import json

import pytest

from pytest_simperf import history
from pytest_simperf.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def hist(shared_history):
    return str(shared_history.path)


def test_help_lists_every_history_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("report", "runs", "compare", "trend", "sla", "dashboard"):
        assert command in out


def test_report_latest_puts_regressions_first(capsys, hist, shared_history):
    code, out, err = run(capsys, "report", "--history", hist)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith(f"run {shared_history.run_ids[-1]}")
    assert "2 tests, 30 phases, 1 regressions" in lines[1]
    assert out.index("Regressions") < out.index("Phases")
    regression_rows = out.split("Regressions\n", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    assert len(regression_rows) == 1
    assert "fct_yearly_events@2029" in regression_rows[0]
    assert "CRITICAL" in regression_rows[0]
    assert "ongoing" in regression_rows[0]  # it has regressed since the step
    first_phase = out.split("Phases\n", 1)[1].splitlines()[2]
    assert "fct_yearly_events@2029" in first_phase


def test_report_by_id_as_json(capsys, hist, shared_history):
    run_id = shared_history.run_ids[3]
    code, out, _ = run(capsys, "report", run_id[:-1], "--history", hist, "--json")
    assert code == 0
    data = json.loads(out)
    assert data["run"]["run_id"] == run_id
    assert len(data["performance"]) == 30
    assert data["regressions"] == []  # before the step


def test_report_as_markdown(capsys, hist):
    code, out, _ = run(capsys, "report", "latest", "--history", hist, "--markdown")
    assert code == 0
    assert out.startswith("## ❌ **pytest-simperf**: 1 regression")
    assert "### Regressions" in out


def test_runs_lists_newest_first(capsys, hist, shared_history):
    code, out, _ = run(capsys, "runs", "--history", hist, "--limit", "3")
    assert code == 0
    ids = [line.split()[0] for line in out.splitlines()[2:]]
    assert ids == shared_history.run_ids[::-1][:3]
    code, out, _ = run(capsys, "runs", "--history", hist, "--json", "--days", "2.5")
    assert [r["run_id"] for r in json.loads(out)] == shared_history.run_ids[::-1][:3]


def test_compare_shows_the_step(capsys, hist, shared_history):
    before = shared_history.run_ids[shared_history.step_run - 1]
    after = shared_history.run_ids[shared_history.step_run]
    code, out, _ = run(capsys, "compare", before, after, "--history", hist)
    assert code == 0
    rows = out.split("\n\n", 1)[1].splitlines()[2:]
    assert "test_yearly_events" in rows[0]
    assert "fct_yearly_events@2029" in rows[0]
    assert "CRITICAL" in rows[0] or "MAJOR" in rows[0]
    code, out, _ = run(capsys, "compare", before, after, "--history", hist, "--json")
    data = json.loads(out)
    assert data["run_a"]["run_id"] == before
    assert data["run_b"]["run_id"] == after
    assert len(data["phases"]) == 30


def test_trend_table_and_json(capsys, hist, shared_history):
    code, out, _ = run(capsys, "trend", "--history", hist)
    assert code == 0
    rows = out.splitlines()[2:]
    assert "fct_yearly_events@2029" in rows[0] and "degrading" in rows[0]
    assert shared_history.run_ids[shared_history.step_run] in rows[0]
    assert out.splitlines()[-1].startswith("30 series: 1 degrading, 0 improving, 29 stable")
    code, out, _ = run(capsys, "trend", "--history", hist, "--test", "int_hires", "--json")
    data = json.loads(out)
    assert len(data) == 10
    assert {r["phase"] for r in data} == {"int_hires"}


def test_sla_table_and_json(capsys, hist):
    code, out, _ = run(capsys, "sla", "--history", hist, "--days", "30")
    assert code == 0
    header = out.splitlines()[0]
    assert header.split()[:2] == ["component", "SLA"]
    assert header.split()[:3] == ["component", "SLA", "from"]
    table = out.split("\n\n", 1)[0]  # the percentiles table follows a blank line
    assert {line.split()[0] for line in table.splitlines()[2:]} == {
        "fct_yearly_events",
        "int_hires",
        "scd_workforce_state",
    }
    code, out, _ = run(capsys, "sla", "--history", hist, "--json")
    data = {r["component"]: r for r in json.loads(out)}
    assert data["int_hires"]["compliance_pct"] == 100.0
    assert data["int_hires"]["sla_seconds"] == 0.5
    # These runs' phases carry a memory limit their component SLAs do not: a marker's.
    assert data["int_hires"]["sla_source"] == "marker (shadows config memory none)"


def test_dashboard_writes_one_file(capsys, hist, tmp_path):
    out_file = tmp_path / "site" / "report.html"
    code, out, _ = run(
        capsys, "dashboard", "--history", hist, "--out", str(out_file), "--days", "3"
    )
    assert code == 0
    assert f"wrote {out_file} (3 runs, 6 components" in out
    assert out_file.read_text().startswith("<!DOCTYPE html>")
    assert [p.name for p in out_file.parent.iterdir()] == ["report.html"]  # no temp files left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "nope"], "no run 'nope'"),
        (["report", "latest~99"], "only 24 runs"),
        (["report", "latest~x"], "bad run reference"),
        (["compare", "latest", "nope"], "no run 'nope'"),
        (["trend", "--test", "test_[x"], "unclosed '['"),
        (["trend", "--test", "no_such_thing"], "no test or phase matches 'no_such_thing'"),
        (["trend", "--test", "  "], "pattern is empty"),
    ],
)
def test_bad_arguments_give_one_clear_line(capsys, hist, args, message):
    code, out, err = run(capsys, *args, "--history", hist)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"simperf {args[0]}: error: ")
    assert message in err


@pytest.mark.parametrize(
    "command", [["report"], ["runs"], ["trend"], ["sla"], ["compare", "a", "b"]]
)
def test_missing_history(capsys, tmp_path, command):
    missing = tmp_path / "nothing" / "history.duckdb"
    code, _, err = run(capsys, *command, "--history", str(missing))
    assert code == 2
    assert f"no history at {missing}" in err
    assert not missing.exists()  # reading never creates a file


def test_missing_history_for_dashboard_writes_nothing(capsys, tmp_path):
    out_file = tmp_path / "d.html"
    code, _, err = run(
        capsys, "dashboard", "--history", str(tmp_path / "h.duckdb"), "--out", str(out_file)
    )
    assert code == 2
    assert "no history at" in err
    assert not out_file.exists()


@pytest.mark.parametrize("command", [["report"], ["trend"], ["sla"], ["runs"]])
def test_empty_history(capsys, tmp_path, command):
    path = tmp_path / "history.duckdb"
    with history.open_history(path, write=True):
        pass
    code, _, err = run(capsys, *command, "--history", str(path))
    assert code == 2
    assert "holds no runs yet" in err


def test_window_without_runs(capsys, tmp_path, make_report):
    from datetime import datetime

    path = tmp_path / "history.duckdb"
    history.record_run(path, make_report(started_at=datetime(2020, 1, 1)))
    code, _, err = run(capsys, "trend", "--history", str(path), "--days", "7")
    assert code == 2
    assert "no runs from the last 7 days (1 older runs); widen --days" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["trend", "--days", "0"], "days must be a positive number"),
        (["sla", "--days", "abc"], "expected a number of days"),
        (["runs", "--limit", "0"], "must be at least 1"),
        (["dashboard"], "the following arguments are required: --out"),
        (["compare", "only-one"], "the following arguments are required: RUN_B"),
    ],
)
def test_argparse_rejects_bad_values(capsys, args, message):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
