"""One judged figure, many renderers: every report of a run names the same metric and Δ%.

The run is real (pytester, the plugin, a baseline, then a slower run) with injected samples: wall
time doubles while CPU time grows by a quarter, the case where reports used to disagree (a
CPU-time Δ% beside wall-time medians). The verdict judges CPU time; the terminal table, the
per-test section, the JSON report, JUnit, Markdown, the history's ``simperf report`` and
``compare``, and the dashboard data must all say ``cpu`` and the same change.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET

import pytest

from pytest_simperf import history
from pytest_simperf.cli import main

SLOWER = """
import os
import pytest

WALL = float(os.environ.get("WALL", "1.0"))
CPU = float(os.environ.get("CPU", "1.0"))
BASE = [0.100, 0.102, 0.098, 0.101, 0.099, 0.103, 0.097]

@pytest.mark.sla(seconds=1)
def test_step(simperf):
    simperf.record(
        "step",
        year=2026,
        samples_s=[s * WALL for s in BASE],
        cpu_s=[s * 0.9 * CPU for s in BASE],
    )
"""


def test_every_renderer_shows_the_judged_metric_and_change(
    pytester, run, monkeypatch, read_json, capsys
):
    pytester.makepyfile(test_mod=SLOWER)
    hist = pytester.path / "history.duckdb"
    run("--simperf-update-baseline").assert_outcomes(passed=1)
    monkeypatch.setenv("CPU", "1.25")  # first a run like the baseline, for compare
    run("--simperf", "--simperf-fail-on=never", f"--simperf-history={hist}")
    monkeypatch.setenv("WALL", "2.0")
    monkeypatch.setenv("CPU", "1.5")
    result = run(
        "--simperf",
        "--simperf-fail-on=never",
        "-rA",
        f"--simperf-history={hist}",
        "--simperf-json=report.json",
        "--simperf-markdown=report.md",
        "--junitxml=junit.xml",
    )
    result.assert_outcomes(passed=1)

    # JSON: the entry itself carries the figures, and its Δ% is theirs
    (phase,) = read_json(pytester.path / "report.json")["tests"][0]["phases"]
    assert phase["metric"] == "cpu"
    assert phase["time_metric"] == "cpu"
    assert phase["value"] / phase["baseline_value"] - 1 == pytest.approx(phase["change_pct"] / 100)
    assert phase["change_pct"] > 30  # CPU time +50%; wall doubled (not what is judged)
    pct = f"{phase['change_pct']:+.1f}%"

    # terminal table: metric, now, baseline, Δ% of the judged figure; wall as secondary
    out = result.stdout.str()
    (row,) = [line for line in out.splitlines() if line.startswith("test_mod.py::test_step")]
    cells = row.split()
    assert cells[2] == "cpu" and cells[5] == pct, row
    # the per-test section (-rA) says the same
    assert re.search(rf"step@2026: cpu \S+ vs \S+ {re.escape(pct)} ", out), out

    # JUnit
    props = {
        p.get("name"): p.get("value")
        for p in ET.parse(pytester.path / "junit.xml").iter("property")
    }
    (junit,) = json.loads(props["simperf_phases"])
    assert junit["metric"] == "cpu"
    assert f"{junit['change_pct']:+.1f}%" == pct
    assert junit["value"] == phase["value"]

    # Markdown: the regressions table and the all-phases table name the metric beside its change
    md = (pytester.path / "report.md").read_text()
    md_rows = [[c.strip() for c in x.split("|")] for x in md.splitlines() if "step@2026" in x]
    assert len(md_rows) == 2, md
    for cells in md_rows:
        assert cells[3] == "cpu" and pct in cells, cells

    # history: the stored row, `simperf report`, `simperf compare`, the dashboard
    # (both runs may start within one second, so the runs are told apart by what they hold)
    stored = {
        r["run_id"]: history.load_run(hist, r["run_id"])["performance"][0]
        for r in history.list_runs(hist)
    }
    (slower,) = [run_id for run_id, row in stored.items() if row["value"] == phase["value"]]
    (before,) = set(stored) - {slower}
    assert stored[slower]["metric"] == "cpu"
    capsys.readouterr()
    assert main(["report", slower, "--history", str(hist)]) == 0
    report_text = capsys.readouterr().out
    lines = [x for x in report_text.splitlines() if "step@2026" in x and "test_mod" in x]
    assert len(lines) == 2  # the regression and the phase
    assert all(" cpu " in x and pct in x for x in lines), report_text
    assert main(["compare", before, slower, "--history", str(hist)]) == 0
    compare_text = capsys.readouterr().out
    (line,) = [x for x in compare_text.splitlines() if "step@2026" in x]
    assert " cpu " in line, compare_text
    compared = history.compare_runs(hist, before, slower)["phases"][0]
    assert compared["metric"] == "cpu" and compared["metric_recorded"]
    assert compared["change_pct"] < 30  # CPU 1.25 → 1.5: +20%, while wall doubled
    assert compared["wall_change_pct"] > 90
    dash = history.dashboard_data(hist)["latest"]
    shown = stored[dash["run"]["run_id"]]
    (latest,) = dash["phases"]
    assert latest["metric"] == "cpu"
    assert latest["change_pct"] == pytest.approx(shown["change_pct"])
