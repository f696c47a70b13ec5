"""The newcomer's path, walked as a new user walks it (issue 15, "Done means").

Build the wheel from this checkout, install it into a clean virtualenv (no site packages: the
wheel's declared dependencies must be enough), ``simperf init`` in an empty project, record
baselines, compare (passes), make the starter's work twice as large, compare again: the run
fails with a regression, and the terminal, the Markdown summary and the JSON report say the same
thing — the same phases, metric, Δ% (to the precision shown) and class.

Every step is a subprocess with the user's own commands (``pytest --simperf``, not our quiet
test flags), in a folder outside this repository. Measured here (2-core machine shared with
other jobs): 12.4 s in all — wheel, venv and install from pip's configured index and cache
7.4 s, then ``simperf init`` and four pytest runs 4.5 s.

Figures are parsed from each report's rows, not matched against a layout, so a change of
column order or spacing in one report does not break this test; a disagreement of numbers does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SLOWED_PHASES = ("yearly_events@2025", "yearly_events@2026", "yearly_events@2027")
PERCENT = re.compile(r"[+\-−]\d+(?:\.\d+)?%")


def _env() -> dict[str, str]:
    """The user's environment, without this test run's pytest and Python settings."""
    drop = ("PYTEST_", "PYTHON", "VIRTUAL_ENV", "COV_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env["COLUMNS"] = "240"  # the failure line unabridged in the short summary
    return env


def _run(args: list[str], cwd: Path, *, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=600, check=False
    )
    if ok and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\n{proc.stdout[-4000:]}\n"
            f"{proc.stderr[-4000:]}"
        )
    return proc


def _percent(text: str) -> float:
    return float(text.replace("−", "-").rstrip("%"))


def _rows_with(text: str, phase: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(rf"\b{re.escape(phase)}\b", line)]


def _agrees(rows: list[str], metric: str, change_pct: float, severity: str) -> bool:
    """Does one of these report rows show this metric, this Δ% to its shown precision, and
    this class?"""
    for row in rows:
        if metric not in row or severity not in row:
            continue
        for token in PERCENT.findall(row):
            decimals = len(token.rstrip("%").partition(".")[2])
            if round(change_pct, decimals) == _percent(token):
                return True
    return False


def test_wheel_init_record_compare_slowdown_reports_agree(tmp_path: Path) -> None:
    started = time.perf_counter()
    dist, venv, project = tmp_path / "dist", tmp_path / "venv", tmp_path / "project"
    _run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(dist)], ROOT
    )
    wheels = list(dist.glob("pytest_simperf-*.whl"))
    assert len(wheels) == 1, wheels
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    bin_dir = venv / "bin"
    _run([str(bin_dir / "python"), "-m", "pip", "install", "-q", str(wheels[0])], tmp_path)
    installed = time.perf_counter()

    project.mkdir()
    version = _run([str(bin_dir / "simperf"), "--version"], project).stdout
    assert version.startswith("simperf ")
    init = _run([str(bin_dir / "simperf"), "init"], project).stdout
    assert "tests/perf/test_pipeline.py" in init and "pytest --simperf-update-baseline" in init
    pytest_bin = str(bin_dir / "pytest")

    plain = _run([pytest_bin], project).stdout  # unmeasured: each perf test once
    assert "2 passed" in plain and "run once without measuring" in plain
    _run([pytest_bin, "--simperf-update-baseline"], project)
    assert (project / "baselines/tests/perf/test_pipeline.json").is_file()
    same = _run([pytest_bin, "--simperf"], project).stdout
    assert "2 passed" in same

    # ×2: the starter's yearly query now runs twice per call.
    test_file = project / "tests/perf/test_pipeline.py"
    source = test_file.read_text(encoding="utf-8")
    once = "        return con.execute(EVENTS_BY_LEVEL, [year]).fetchall()\n"
    assert source.count(once) == 1
    test_file.write_text(
        source.replace(once, "        con.execute(EVENTS_BY_LEVEL, [year]).fetchall()\n" + once),
        encoding="utf-8",
    )
    slowed = _run(
        [pytest_bin, "--simperf", "--simperf-markdown=report.md", "--simperf-json=report.json"],
        project,
        ok=False,
    )
    finished = time.perf_counter()
    terminal = slowed.stdout
    assert slowed.returncode == 1, terminal[-4000:]
    assert "1 failed, 1 passed" in terminal
    markdown = (project / "report.md").read_text(encoding="utf-8")
    report = json.loads((project / "report.json").read_text(encoding="utf-8"))

    (test,) = [t for t in report["tests"] if t["nodeid"].endswith("::test_yearly_events")]
    assert test["outcome"] == "failed"
    phases = {p["name"] + (f"@{p['year']}" if p["year"] else ""): p for p in test["phases"]}
    assert set(SLOWED_PHASES) <= set(phases)
    for key in SLOWED_PHASES:
        phase = phases[key]
        # The JSON names the metric as an identifier (rows_scanned), the others as a label.
        metric = phase["metric"].replace("_", " ")
        change, severity = phase["change_pct"], phase["severity"]
        # Doubled work doubles DuckDB's rows scanned, exactly: the verdict's metric says so.
        assert (metric, round(change, 1), severity) == ("rows scanned", 100.0, "CRITICAL")
        assert _agrees(_rows_with(terminal, key), metric, change, severity), (key, terminal)
        assert _agrees(_rows_with(markdown, key), metric, change, severity), (key, markdown)
    # The failure line carries the first regression, with the same figure and metric.
    failure = re.search(
        r"pytest-simperf: (\S+) (yearly_events@\d{4}) ([+\-−][\d.]+%) (.+)", terminal
    )
    assert failure is not None, terminal[-4000:]
    severity, key, change, rest = failure.groups()
    assert severity == phases[key]["severity"]
    assert rest.startswith(phases[key]["metric"].replace("_", " "))
    assert _percent(change) == round(phases[key]["change_pct"], 1)
    # Untouched test: not a regression in any report.
    (other,) = [
        t for t in report["tests"] if t["nodeid"].endswith("::test_headcount_by_department")
    ]
    assert other["outcome"] == "passed"
    print(f"newcomer path: install {installed - started:.1f} s, walk {finished - installed:.1f} s")
