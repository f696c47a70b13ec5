"""The shipped five-year example, run for real: nightly production runs beside a test run.

Five ordinary nights build the reference; the sixth does year 3's events twice (×2). It must be
classed and alerted, breach the SLA that the nights set, and make ``simperf check`` fail; and
``simperf report / sla / trend / dashboard`` show the production runs beside the test run. Real
clocks on a shared machine: the assertions are on classes and exit codes, which the slowdown
decides with a wide margin (x2 against a class threshold of +15% plus the noise allowance).
"""

from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pytest_simperf import cli, history

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "five_year_simulation.py"
EMPLOYEES = 300_000
SLOW_YEAR = 2027  # the third simulation year


def load_example():
    spec = importlib.util.spec_from_file_location("five_year_simulation", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def a_test_session_report(started_at: datetime) -> dict:
    """A test session's report, as the plugin writes it, for the same history."""
    return {
        "schema_version": 1,
        "run": {"started_at": started_at.isoformat(), "exit_status": 0, "machine": {"id": "ci"}},
        "tests": [
            {
                "nodeid": "tests/perf/test_pipeline.py::test_yearly_events",
                "outcome": "passed",
                "severity": "OK",
                "phases": [
                    {
                        "name": "fct_yearly_events",
                        "year": year,
                        "samples_s": [0.03, 0.031, 0.029],
                        "severity": "OK",
                        "sla_seconds": 1.0,
                        "sla_status": "WITHIN_SLA",
                        "sla_category": "EXCELLENT",
                    }
                    for year in (2025, 2026, 2027)
                ],
            }
        ],
    }


def simperf(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out + err


@pytest.fixture(scope="module")
def nights(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Five nights, an SLA from their events, a test run, then the slowed night by the script."""
    folder = tmp_path_factory.mktemp("nightly")
    path = folder / "history.duckdb"
    example = load_example()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # the config is found from the working directory: none here yet
        normal = [
            example.simulate(EMPLOYEES, history=str(path), host="nightly-host") for _ in range(5)
        ]
        events = [
            r.wall_s
            for run in normal
            for r in run.results
            if r.component == "fct_yearly_events" and r.year == SLOW_YEAR
        ]
        # An SLA the normal nights meet and a doubled year 3 does not: 1.6x their median.
        sla = round(1.6 * statistics.median(events), 4)
        (folder / "pyproject.toml").write_text(f"[tool.simperf.sla]\nfct_yearly_events = {sla}\n")
        history.record_run(path, a_test_session_report(datetime.now(UTC)))
        slowed = subprocess.run(
            [sys.executable, str(EXAMPLE), "--employees", str(EMPLOYEES), "--host", "nightly-host"],
            cwd=folder,
            env={**os.environ, "SIMPERF_HISTORY": str(path), "SIMPERF_SLOWDOWN_YEAR": "2027"},
            capture_output=True,
            text=True,
            timeout=300,
        )
    return {"path": path, "normal": normal, "slowed": slowed, "sla": sla, "events": events}


def test_normal_nights_write_production_runs_and_need_history_before_a_class(nights):
    first, *_, last = nights["normal"]
    assert first.run_id and last.run_id
    assert {r.severity for r in first.results} == {"NEW"}
    assert len(first.results) == 1 + 5 * 3  # census, then three steps a year
    assert all(r.status == "ok" for r in last.results)
    rows = {(r.component, r.year): r for r in last.results}
    assert rows[("census", None)].rows_out == EMPLOYEES
    assert rows[("workforce_summary", 2025)].rows_out > 0  # a list's length
    assert rows[("fct_yearly_events", 2025)].rows_out > 0  # from the rows_out callable
    assert rows[("scd_workforce_state", 2025)].rows_in == (
        EMPLOYEES + rows[("fct_yearly_events", 2025)].rows_out
    )
    assert rows[("fct_yearly_events", 2025)].rows_scanned > 0  # counters of the tracked con
    assert not [a for run in nights["normal"] for a in run.alerts if a.kind == "sla_breach"]


def test_the_doubled_year_is_classed_breaches_and_alerts(nights):
    slowed = nights["slowed"]
    assert slowed.returncode == 0, slowed.stderr
    data = history.load_run(nights["path"], "latest")
    assert data["run"]["kind"] == "production"
    rows = {(p["phase"], p["year"]): p for p in data["performance"]}
    year3 = rows[("fct_yearly_events", SLOW_YEAR)]
    assert year3["severity"] in ("MINOR", "MAJOR", "CRITICAL"), year3["why"]
    assert year3["change_pct"] > 50
    assert year3["sla_status"] == "SLA_BREACH"
    assert year3["metric"] == "cpu" and year3["baseline_median_s"] > 0  # one thread, CPU-bound
    alerts = [line for line in slowed.stderr.splitlines() if line.startswith("ALERT")]
    assert any(f"fct_yearly_events@{SLOW_YEAR}" in a and "regression" in a for a in alerts)
    assert any(f"fct_yearly_events@{SLOW_YEAR} SLA breach" in a for a in alerts)
    assert f"pytest_simperf.monitor: five_year_simulation: fct_yearly_events@{SLOW_YEAR}" in (
        slowed.stderr
    )


def test_simperf_check_fails_on_it(nights, capsys):
    path = str(nights["path"])
    code, out = simperf("check", "--history", path, capsys=capsys)
    assert code == 1
    assert f"SLA_BREACH five_year_simulation::fct_yearly_events@{SLOW_YEAR}" in out
    code, out = simperf("check", "--history", path, "--fail-on", "MINOR", "--json", capsys=capsys)
    assert code == 1
    found = json.loads(out)
    assert not found["ok"]
    kinds = {(p["problem"], p["component"], p["year"]) for p in found["problems"]}
    assert ("regression", "fct_yearly_events", SLOW_YEAR) in kinds
    assert ("sla_breach", "fct_yearly_events", SLOW_YEAR) in kinds
    code, out = simperf("check", "--history", path, "--run", "latest~1", capsys=capsys)
    assert code == 0, out  # the night before: clean
    assert out.startswith("ok: run ")


def test_report_sla_trend_and_dashboard_show_production_beside_test_runs(nights, tmp_path, capsys):
    path = str(nights["path"])
    code, out = simperf("report", "--history", path, capsys=capsys)
    assert code == 0 and f"fct_yearly_events@{SLOW_YEAR}" in out
    assert "production five_year_simulation" in out.splitlines()[0]
    code, out = simperf("runs", "--history", path, capsys=capsys)
    kinds = [line.split()[2] for line in out.splitlines()[2:]]
    assert code == 0 and sorted(set(kinds)) == ["production", "test"]

    code, out = simperf("sla", "--history", path, "--json", capsys=capsys)
    assert code == 0
    (events,) = [r for r in json.loads(out) if r["component"] == "fct_yearly_events"]
    assert events["breaches"] >= 1 and events["p50_s"] <= events["p95_s"] <= events["p99_s"]
    assert {y["year"] for y in events["years"]} >= {2025, 2026, 2027, 2028, 2029}
    code, out = simperf("sla", "--history", path, "--kind", "production", capsys=capsys)
    assert code == 0 and "Wall time percentiles" in out and "production" in out

    code, out = simperf("trend", "--history", path, "--json", capsys=capsys)
    series = json.loads(out)
    nodeids = {s["nodeid"] for s in series}
    assert {"five_year_simulation", "tests/perf/test_pipeline.py::test_yearly_events"} <= nodeids
    assert all(s["p50_s"] is not None for s in series)
    code, out = simperf("trend", "--history", path, "--json", "--kind", "test", capsys=capsys)
    assert {s["nodeid"] for s in json.loads(out)} == {
        "tests/perf/test_pipeline.py::test_yearly_events"
    }

    page = tmp_path / "dash.html"
    code, out = simperf("dashboard", "--history", path, "--out", str(page), capsys=capsys)
    assert code == 0 and page.is_file()
    data = history.dashboard_data(nights["path"])
    assert {r["kind"] for r in data["runs"]} == {"production", "test"}
    kinds = {p["kind"] for p in data["percentiles"]}
    assert kinds == {"production", "test"}
