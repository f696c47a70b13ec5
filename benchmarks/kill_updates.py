"""kill -9 a baseline update again and again; count corrupt files, lost history runs, stray temps.

PRODUCT.md: "An interrupted ``--simperf-update-baseline`` leaves every baseline file either old
or new, never half-written." Issue 16 found the rest of the story: killed writes left
``.test_x.json.<random>.tmp`` files behind (some cut at 4,096 bytes) that no run removed.

Each round starts ``pytest --simperf-update-baseline`` or ``--simperf-add-baseline-session``
(alternately; history on) on a suite of several modules, and sends it SIGKILL: in half the
rounds at a random moment of its second half (where baselines and history are written), in the
other half within 4 ms of the first temporary file appearing (mid-write). Then:

* every baseline file must load (``corrupt`` counts those that do not);
* the history must open and still hold every run recorded before (``lost_history_runs``);
* the next run, ``pytest --simperf`` uninterrupted, must leave no temporary file of ours in the
  baseline folders (``stray_after_next_run``), having removed the ones the kill left
  (``temp_files_left_by_kills`` counts those, as the issue's 19 of 87).

    python benchmarks/kill_updates.py              # 100 kills; benchmarks/results/kill_updates.json
    python benchmarks/kill_updates.py --kills 20   # a quick look
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, git_state, load, write_results

sys.path.insert(0, str(ROOT))  # load baselines and history with the code under test

from pytest_simperf import baseline, history

QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--simperf-calibration=off"]
MODULE = """
import os
import random

def _samples(seed):
    rng = random.Random(seed + int(os.environ.get("ROUND", "0")))
    return [0.05 * (1 + 0.02 * rng.random()) for _ in range(7)]
{tests}
"""
TEST = """
def test_{i}(simperf):
    simperf.record("step", samples_s=_samples({i}), rows_scanned=1000)
    with simperf.phase("load", year=2026):
        sum(range(1000))
"""


def _env(round_no: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    env["ROUND"] = str(round_no)
    return env


def _args(mode: str) -> list[str]:
    return [sys.executable, "-m", "pytest", *QUIET, mode, "--simperf-history", "h.duckdb", "-q"]


def _temp_files(project: Path) -> list[Path]:
    folder = project / "baselines"
    return sorted(p for p in folder.rglob("*.tmp")) if folder.exists() else []


def _run_ids(path: Path) -> set[str]:
    if not path.exists():
        return set()
    with history.open_history(path) as con:
        return {row[0] for row in con.execute("SELECT run_id FROM runs").fetchall()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--modules", type=int, default=8)
    parser.add_argument("--tests", type=int, default=4, help="tests per module")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/kill_updates.json")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    totals = {
        "kills": 0,
        "killed_before_exit": 0,
        "corrupt": 0,
        "lost_history_runs": 0,
        "history_unusable": 0,
        "temp_files_left_by_kills": 0,
        "kills_that_left_temp_files": 0,
        "stray_after_next_run": 0,
        "next_run_failed": 0,
    }
    problems: list[str] = []
    with tempfile.TemporaryDirectory(prefix="simperf-kill-") as tmp:
        project = Path(tmp)
        for m in range(args.modules):
            tests = "".join(TEST.format(i=m * 100 + t) for t in range(args.tests))
            folder = project / "tests" / f"pkg{m % 3}"
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"test_mod{m}.py").write_text(MODULE.format(tests=tests), encoding="utf-8")
        first = subprocess.run(
            _args("--simperf-update-baseline"),
            cwd=project,
            env=_env(0),
            capture_output=True,
            text=True,
            check=False,
        )
        assert first.returncode == 0, first.stdout + first.stderr
        # How long an update takes here: kills aim at its second half, where files are written.
        timing = []
        for mode in ("--simperf-update-baseline", "--simperf-add-baseline-session"):
            t0 = time.monotonic()
            subprocess.run(_args(mode), cwd=project, env=_env(0), capture_output=True, check=False)
            timing.append(time.monotonic() - t0)
        duration = max(timing)
        known = _run_ids(project / "h.duckdb")
        for round_no in range(1, args.kills + 1):
            mode = ("--simperf-update-baseline", "--simperf-add-baseline-session")[round_no % 2]
            proc = subprocess.Popen(
                _args(mode),
                cwd=project,
                env=_env(round_no),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            aim = "at-write" if round_no % 4 in (1, 2) else "random"
            if aim == "at-write":
                # The moment a temporary file appears the session is writing baselines: kill
                # within the next few milliseconds, mid-write.
                while proc.poll() is None and not _temp_files(project):
                    time.sleep(0.0002)
                time.sleep(rng.uniform(0.0, 0.004))
            else:
                time.sleep(rng.uniform(0.5, 1.1) * duration)
            totals["kills"] += 1
            if proc.poll() is None:
                totals["killed_before_exit"] += 1
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            left = _temp_files(project)
            totals["temp_files_left_by_kills"] += len(left)
            totals["kills_that_left_temp_files"] += bool(left)
            for path in sorted((project / "baselines").rglob("*.json")):
                try:
                    baseline.load(path)
                except Exception as exc:  # any failure to load counts
                    totals["corrupt"] += 1
                    problems.append(f"round {round_no}: {path.name}: {exc}")
                    path.unlink()  # so later rounds measure themselves, not this one
            try:
                now = _run_ids(project / "h.duckdb")
            except history.HistoryError as exc:
                totals["history_unusable"] += 1
                problems.append(f"round {round_no}: history unusable: {exc}")
                shutil.move(project / "h.duckdb", project / f"h.broken{round_no}")
                now = set()
            lost = known - now
            totals["lost_history_runs"] += len(lost)
            if lost:
                problems.append(f"round {round_no}: lost history runs {sorted(lost)}")
            nxt = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pytest",
                    *QUIET,
                    "--simperf",
                    "--simperf-history",
                    "h.duckdb",
                    "-q",
                    "-W",
                    "ignore::pytest_simperf.errors.SimperfWarning",
                ],
                cwd=project,
                env=_env(round_no),
                capture_output=True,
                text=True,
                check=False,
            )
            if nxt.returncode not in (0, 1):
                totals["next_run_failed"] += 1
                problems.append(f"round {round_no}: next run exit {nxt.returncode}")
            stray = _temp_files(project)
            totals["stray_after_next_run"] += len(stray)
            if stray:
                problems.append(f"round {round_no}: stray after next run: {stray}")
            known = _run_ids(project / "h.duckdb") | now
            print(
                f"[{round_no}/{args.kills}] {mode[10:]:24} {aim:8} killed={proc.returncode == -9} "
                f"temps_left={len(left)} stray_after_next={len(stray)} runs={len(known)}",
                flush=True,
            )
    payload = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        **totals,
        "problems": problems,
        "update_duration_s": round(duration, 2),
        "modules": args.modules,
        "tests_per_module": args.tests,
        "wall_s": round(time.monotonic() - started, 1),
        "load": load(),
        **git_state(),
    }
    write_results(args.out, payload)
    print(totals)
    bad = totals["corrupt"] + totals["lost_history_runs"] + totals["stray_after_next_run"]
    return 1 if bad or totals["history_unusable"] else 0


if __name__ == "__main__":
    sys.exit(main())
