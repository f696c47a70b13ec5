"""What ``--simperf-instructions`` costs on this repository's perf suite, against the default gate.

Runs ``pytest tests/perf --simperf`` and the same with ``--simperf-instructions``, interleaved
(``--pairs`` times each), in fresh processes, and reports the wall time of each run, the
valgrind children's share, and the median ratio. History off; the committed baselines are used.

    .venv/bin/python benchmarks/bench_instruction_cost.py --pairs 3 \\
        --out benchmarks/results/instruction_cost.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import ROOT, git_state, load, write_results


def one_run(extra: list[str], report: Path) -> dict[str, Any]:
    command = [sys.executable, "-m", "pytest", "tests/perf", "-q", "-p", "no:randomly"]
    command += ["--simperf", "--simperf-history=off", f"--simperf-json={report}", *extra]
    t0 = time.monotonic()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.monotonic() - t0
    data = json.loads(report.read_text()) if report.exists() else {}
    run = data.get("run") or {}
    return {
        "wall_s": wall,
        "exit": proc.returncode,
        "instruction_seconds": (run.get("instructions") or {}).get("seconds"),
        "confirm_runs": run.get("confirm_runs"),
        "load": load(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks/results/instruction_cost.json"
    )
    args = parser.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"default": [], "instructions": []}
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.pairs):
            for name, extra in (("default", []), ("instructions", ["--simperf-instructions"])):
                result = one_run(extra, Path(tmp) / f"{name}-{index}.json")
                runs[name].append(result)
                print(f"{name} {index + 1}/{args.pairs}: {result['wall_s']:.1f} s", flush=True)
    medians = {name: statistics.median(r["wall_s"] for r in rs) for name, rs in runs.items()}
    summary = {
        "median_wall_s": medians,
        "ratio": medians["instructions"] / medians["default"],
        "median_valgrind_s": statistics.median(
            r["instruction_seconds"] or 0.0 for r in runs["instructions"]
        ),
    }
    write_results(args.out, {"git": git_state(), "runs": runs, "summary": summary})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
