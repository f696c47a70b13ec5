"""Does the dbt gate hold on the shipped project? Unchanged sessions, a quadratic model, parsing.

On the shipped example project at 5,000 employees × 5 years, each year built as an
orchestrator builds it (``pytest_simperf.dbt.example.yearly_sequence``: four dbt invocations
and a Python step), then 2027 rebuilt twice:

1. a baseline is recorded over three sessions (``--simperf-update-baseline``, then
   ``--simperf-add-baseline-session`` twice: what ``make baselines`` does), with the default
   gate (MINOR/MAJOR/CRITICAL > 15/30/50%, fail on MINOR);
2. ``--sessions`` unchanged sessions, each a fresh ``pytest --simperf`` process: how many fail
   (target 0);
3. ``--quadratic`` sessions with ``events_strategy: pathological`` (the same rows, a quadratic
   ``fct_yearly_events``), interleaved with 2: in how many is
   ``fct_yearly_events:rebuild@2027`` CRITICAL through its counters (target all); these run
   with ``--simperf-quick`` (no fresh-process confirmation of time classes: the counters'
   class needs none, and the rerun doubled a session);
4. parse time per invocation with and without manifest reuse, in one fresh process: five years
   through the sequence with ``reuse_manifest=True`` and again with ``False``.

The package measured is ``--package`` (a git worktree of the commit under test, put first on
PYTHONPATH), so other work in the checkout cannot leak in.

    git worktree add /tmp/simperf-bench HEAD
    .venv/bin/python benchmarks/bench_dbt_gate.py --package /tmp/simperf-bench \\
        --sessions 20 --quadratic 20 --out benchmarks/results/dbt_gate.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, load, write_results

REBUILT = "fct_yearly_events:rebuild@2027"

SUITE = """
import os

import pytest

from pytest_simperf.dbt.example import yearly_sequence

STRATEGY = os.environ.get("BENCH_STRATEGY", "standard")


@pytest.mark.simperf(instructions=False)
@pytest.mark.workforce(employees=5000, years=5, seed=42, start_year=2025)
@pytest.mark.simperf_dbt(vars={"events_strategy": STRATEGY}, count_rows=False)
def test_five_years(simperf, simperf_dbt):
    year = yearly_sequence()
    simperf_dbt.run_years(sequence=year)
    simperf_dbt.rebuild_year(2027, rounds=2, sequence=year)
"""

PARSE = """
import json, shutil, statistics, sys, tempfile, time
from pathlib import Path

from pytest_simperf.dbt.example import yearly_sequence
from pytest_simperf.dbt.plugin import EXAMPLE_PROJECT
from pytest_simperf.dbt.runner import DbtProject, DbtRequest
from pytest_simperf.workforce import WorkforceSpec, build_database

YEARS = [2025, 2026, 2027, 2028, 2029]
root = Path(tempfile.mkdtemp(prefix="bench-dbt-parse-"))
census = build_database(WorkforceSpec(employees=5000, years=5, seed=42, start_year=2025),
                        root / "census.duckdb")
out = {}
for reuse in (True, False):
    work = root / ("reuse" if reuse else "parse-each")
    work.mkdir()
    shutil.copy(census, work / "db.duckdb")
    project = DbtProject(EXAMPLE_PROJECT, work / "db.duckdb", work, reuse_manifest=reuse,
                         console_log=False, start_year=2025)
    spent = []
    def timed(invoke=project.invoke):
        def call(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return invoke(*args, **kwargs)
            finally:
                spent.append(time.perf_counter() - t0)
        return call
    project.invoke = timed()
    t0 = time.perf_counter()
    runs = project.run_years(YEARS, sequence=yearly_sequence())
    total = time.perf_counter() - t0
    row = {
        "invocations": len(runs),
        "parses": project.parse_count,
        "run_years_s": total,
        "per_invocation_s": spent,
        "dbt_run_s": [inv.wall_s for inv in runs],
        "parse_s": [inv.parse_s for inv in runs if inv.parse_s is not None],
    }
    if reuse:
        checks = []
        merged = project._vars_for(None, YEARS[-1])
        for _ in range(10):
            t1 = time.perf_counter()
            project._manifest_for(merged, DbtRequest("build", YEARS[-1]))
            checks.append(time.perf_counter() - t1)
        row["reuse_check_and_copy_s"] = checks
    out["reuse" if reuse else "parse_each_invocation"] = row
shutil.rmtree(root, ignore_errors=True)
print("PARSE_RESULT " + json.dumps(out))
"""


def pytest_run(
    project: Path, env: dict[str, str], args: list[str], report: Path | None = None
) -> dict[str, Any]:
    """One fresh pytest process; its outcome and, with ``report``, the JSON report."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", *args]
    if report is not None:
        command.append(f"--simperf-json={report}")
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    result: dict[str, Any] = {
        "rc": proc.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "load": load(),
    }
    if proc.returncode not in (0, 1):
        result["tail"] = proc.stdout[-3000:] + proc.stderr[-2000:]
    if report is not None and report.is_file():
        result["report"] = json.loads(report.read_text())
    return result


def summarise_session(run: dict[str, Any]) -> dict[str, Any]:
    """What a session says: failed or not, why, and the rebuilt model's verdict."""
    report = run.pop("report", None) or {}
    tests = report.get("tests") or []
    summary: dict[str, Any] = {"rc": run["rc"], "seconds": run["seconds"], "load": run["load"]}
    if "tail" in run:
        summary["tail"] = run["tail"]
    if not tests:
        summary["error"] = "no report"
        return summary
    (test,) = tests
    summary["outcome"] = test.get("outcome")
    summary["failed_reasons"] = [r[:400] for r in test.get("failed_reasons") or []]
    flagged = []
    for phase in test.get("phases") or []:
        key = phase["name"] if phase.get("year") is None else f"{phase['name']}@{phase['year']}"
        if phase.get("severity") not in ("OK", "NEW", "IMPROVED"):
            flagged.append(
                {
                    "phase": key,
                    "severity": phase.get("severity"),
                    "counter_severity": phase.get("counter_severity"),
                    "why": str(phase.get("why"))[:300],
                }
            )
        if key == REBUILT:
            summary["rebuilt"] = {
                "severity": phase.get("severity"),
                "counter_severity": phase.get("counter_severity"),
                "intermediate_rows": phase.get("intermediate_rows"),
                "baseline_intermediate_rows": phase.get("baseline_intermediate_rows"),
                "median_s": phase.get("median_s"),
                "baseline_median_s": phase.get("baseline_median_s"),
            }
    summary["flagged"] = flagged
    return summary


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 4) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--quadratic", type=int, default=20)
    parser.add_argument("--skip-parse", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/dbt_gate.json")
    args = parser.parse_args()

    package = args.package.resolve()
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=package, capture_output=True, text=True
    ).stdout.strip()
    env = {**os.environ, "PYTHONPATH": str(package), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    # Never from the checkout's folder: Python puts the current folder first on sys.path.
    outside = tempfile.gettempdir()
    probe = subprocess.run(
        [sys.executable, "-c", "import pytest_simperf; print(pytest_simperf.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        cwd=outside,
    )
    if not probe.stdout.strip().startswith(str(package)):
        print(f"pytest_simperf does not come from {package}: {probe.stdout}{probe.stderr}")
        return 2

    payload: dict[str, Any] = {
        "commit": commit,
        "package": str(package),
        "python": sys.version.split()[0],
        "setup": "shipped example project, 5,000 employees x 5 years, yearly_sequence "
        "(4 dbt invocations + 1 Python step a year), rebuild of 2027 x2; default gate "
        "(15/30/50%, fail on MINOR); baseline over 3 sessions",
        "started_load": load(),
    }

    def save() -> None:
        write_results(args.out, payload)

    if not args.skip_parse:
        print("parse time with and without manifest reuse")
        proc = subprocess.run(
            [sys.executable, "-c", PARSE], env=env, capture_output=True, text=True, cwd=outside
        )
        line = next((x for x in proc.stdout.splitlines() if x.startswith("PARSE_RESULT ")), None)
        if line is None:
            payload["parse"] = {"error": (proc.stdout + proc.stderr)[-3000:]}
        else:
            raw = json.loads(line.split(" ", 1)[1])
            reuse, each = raw["reuse"], raw["parse_each_invocation"]
            payload["parse"] = {
                "raw": raw,
                "reuse_parses": reuse["parses"],
                "invocations": reuse["invocations"],
                "reuse_parse_s_median": median(reuse["parse_s"]),
                "reuse_check_and_copy_s_median": median(reuse["reuse_check_and_copy_s"]),
                "reuse_per_invocation_s_median": median(reuse["per_invocation_s"]),
                "parse_each_per_invocation_s_median": median(each["per_invocation_s"]),
                "reuse_run_years_s": round(reuse["run_years_s"], 2),
                "parse_each_run_years_s": round(each["run_years_s"], 2),
                "parse_share_per_invocation_s_median": median(
                    [b - a for a, b in zip(reuse["dbt_run_s"], each["dbt_run_s"], strict=True)]
                ),
            }
        save()

    if args.sessions <= 0 and args.quadratic <= 0:
        print(json.dumps({k: v for k, v in (payload.get("parse") or {}).items() if k != "raw"}))
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-dbt-gate-") as tmp:
        project = Path(tmp)
        (project / "pyproject.toml").write_text(
            '[tool.pytest.ini_options]\naddopts = ["-p", "no:cacheprovider"]\n'
        )
        (project / "test_dbt_gate.py").write_text(SUITE)
        standard = {**env, "BENCH_STRATEGY": "standard"}
        quadratic = {**env, "BENCH_STRATEGY": "pathological"}
        off = ["--simperf-history=off"]
        recording = []
        for flag in ("--simperf-update-baseline", *["--simperf-add-baseline-session"] * 2):
            print(f"baseline: {flag}")
            run = pytest_run(project, standard, [flag, *off])
            recording.append({k: v for k, v in run.items() if k != "report"})
            if run["rc"] != 0:
                payload["baseline_error"] = recording
                save()
                return 1
        payload["baseline_sessions"] = recording
        unchanged: list[dict[str, Any]] = []
        caught: list[dict[str, Any]] = []
        payload["unchanged"], payload["quadratic"] = unchanged, caught
        for index in range(max(args.sessions, args.quadratic)):
            if index < args.sessions:
                run = pytest_run(project, standard, ["--simperf", *off], project / "r.json")
                unchanged.append(summarise_session(run))
                print(f"unchanged {index + 1}: rc={run['rc']} {run['seconds']} s")
            if index < args.quadratic:
                # --simperf-quick: no fresh-process confirmation of the time classes (which
                # doubled a session); the counters' class needs none.
                quick = ["--simperf", "--simperf-quick", *off]
                run = pytest_run(project, quadratic, quick, project / "r.json")
                caught.append(summarise_session(run))
                print(f"quadratic {index + 1}: {caught[-1].get('rebuilt')}")
            payload["summary"] = {
                "unchanged_sessions": len(unchanged),
                "unchanged_failing": sum(1 for s in unchanged if s.get("rc") != 0),
                "unchanged_flagged_phases": sum(len(s.get("flagged") or []) for s in unchanged),
                "quadratic_sessions": len(caught),
                "quadratic_critical_by_counters": sum(
                    1
                    for s in caught
                    if (s.get("rebuilt") or {}).get("counter_severity") == "CRITICAL"
                ),
                "quadratic_failing": sum(1 for s in caught if s.get("rc") != 0),
                "session_seconds_median": median([s["seconds"] for s in unchanged]),
            }
            save()
    print(json.dumps(payload.get("summary"), indent=1))
    print(json.dumps({k: v for k, v in (payload.get("parse") or {}).items() if k != "raw"}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
