"""Noise probe: how much does one DuckDB query's timing move within and between sessions?

Grounds the defaults of ``pytest_simperf.stats`` (see docs/verdicts.md). Each *session* is a fresh
Python process that runs the calibration workload, then a ~45 ms single-threaded DuckDB aggregate
scaled to 1.0×, 1.3×, 1.6× and 2.0× the work (warm-up + ROUNDS rounds each), then the same 1.0×
query with ``threads=2`` (to show what thread over-subscription does), then calibration again.
Every round is timed twice: wall clock (``perf_counter``) and process CPU time (``process_time``);
calibration is run with each clock.

    python benchmarks/noise_probe.py collect --sessions 24 --gap 5 --out /tmp/noise.jsonl
    python benchmarks/noise_probe.py analyse /tmp/noise.jsonl [more.jsonl ...]

``analyse`` treats every ordered pair of sessions (A, B) as "baseline recorded in A, checked in
B" and reports, per clock, the spreads within and between sessions and what ``compare_times``
decides: with and without calibration rescaling, and with the first half of the rounds plus a
confirmation from the second half when the first is borderline. Figures: docs/verdicts.md.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROUNDS = 10
BASE_ROWS = 4_000_000
FACTORS = (1.0, 1.3, 1.6, 2.0)
SQL = "SELECT i % 1000 AS k, sum(hash(i) % 1000003) AS s FROM range(?) t(i) GROUP BY k"


def _timed(con, rows: int) -> tuple[float, float]:
    """Wall and CPU seconds of one run of the query (CPU time = this process, all threads)."""
    c0, t0 = time.process_time(), time.perf_counter()
    con.execute(SQL, [rows]).fetchall()
    return time.perf_counter() - t0, time.process_time() - c0


def child() -> None:
    import duckdb

    from pytest_simperf.calibration import run_calibration

    out: dict[str, object] = {"started": time.time()}
    out["calibration"] = run_calibration().to_dict()
    out["calibration_cpu"] = run_calibration(clock=time.process_time).to_dict()
    con = duckdb.connect()
    con.execute("SET threads=1")
    for f in FACTORS:
        rows = int(BASE_ROWS * f)
        con.execute(SQL, [rows]).fetchall()
        pairs = [_timed(con, rows) for _ in range(ROUNDS)]
        out[f"x{f}"] = [w for w, _ in pairs]
        out[f"cpu_x{f}"] = [c for _, c in pairs]
    con.execute("SET threads=2")
    con.execute(SQL, [BASE_ROWS]).fetchall()
    pairs = [_timed(con, BASE_ROWS) for _ in range(ROUNDS)]
    out["threads2"] = [w for w, _ in pairs]
    out["cpu_threads2"] = [c for _, c in pairs]
    out["calibration_end"] = run_calibration().to_dict()
    print(json.dumps(out))


def collect(sessions: int, gap: float, path: Path) -> None:
    with path.open("a", encoding="utf-8") as fh:
        for i in range(sessions):
            res = subprocess.run(
                [sys.executable, __file__, "child"], capture_output=True, text=True, check=True
            )
            fh.write(res.stdout.strip() + "\n")
            fh.flush()
            print(f"session {i + 1}/{sessions} done", file=sys.stderr)
            time.sleep(random.uniform(0, gap))


def _pct(x: float) -> str:
    return f"{100 * x:+.1f}%"


def _describe(sessions: list[dict], prefix: str, cal_key: str, rounds: int) -> None:
    from pytest_simperf.calibration import CalibrationResult
    from pytest_simperf.stats import median, relative_spread

    base = [s[f"{prefix}x1.0"][:rounds] for s in sessions]
    cals = [CalibrationResult.from_dict(s[cal_key]) for s in sessions]
    within = [relative_spread(b) for b in base]
    rng = [(max(b) - min(b)) / median(b) for b in base]
    print(
        "  within-session robust spread of the 1.0x query: median"
        f" {median(within):.1%}, max {max(within):.1%}; (max-min)/median: median"
        f" {median(rng):.1%}, max {max(rng):.1%}"
    )
    t2 = [s[f"{prefix}threads2"][:rounds] for s in sessions]
    print(
        "  threads=2: within-session spread median"
        f" {median([relative_spread(x) for x in t2]):.1%}; median ratio threads2/threads1"
        f" {median([median(a) / median(b) for a, b in zip(t2, base, strict=True)]):.3f}"
    )
    for label, stat in (("median", median), ("min", min)):
        vals = [stat(b) for b in base]
        norm = [v / c.score_s for v, c in zip(vals, cals, strict=True)]
        print(
            f"  between sessions, {label:6s}: spread {relative_spread(vals):.1%}, max/min"
            f" {max(vals) / min(vals):.3f};  calibrated: spread {relative_spread(norm):.1%},"
            f" max/min {max(norm) / min(norm):.3f}"
        )
    print(
        f"  calibration: own spread median {median([c.spread for c in cals]):.1%}, max"
        f" {max(c.spread for c in cals):.1%}; score between sessions: spread"
        f" {relative_spread([c.score_s for c in cals]):.1%}, max/min"
        f" {max(c.score_s for c in cals) / min(c.score_s for c in cals):.3f}"
    )


def _pairs(
    sessions: list[dict], prefix: str, cal_key: str, rounds: int, scaled: bool, confirm: bool
) -> None:
    from pytest_simperf.calibration import CalibrationResult, calibration_scale
    from pytest_simperf.stats import Thresholds, combine_confirmation, compare_times, median

    n = len(sessions)
    cals = [CalibrationResult.from_dict(s[cal_key]) for s in sessions]
    thresholds = Thresholds()
    first_n = rounds // 2 if confirm else rounds
    for f in FACTORS:
        true = median([median(s[f"{prefix}x{f}"]) / median(s[f"{prefix}x1.0"]) for s in sessions])
        counts: Counter[str] = Counter()
        reruns = 0
        for i in range(n):
            base = sessions[i][f"{prefix}x1.0"][:first_n]
            for j in range(n):
                if i == j:
                    continue
                scale = calibration_scale(cals[i].score_s, cals[j].score_s) if scaled else 1.0
                cur = sessions[j][f"{prefix}x{f}"]
                r = compare_times(base, cur[:first_n], thresholds=thresholds, scale=scale)
                if confirm and r.borderline:
                    reruns += 1
                    again = compare_times(
                        base, cur[first_n:rounds], thresholds=thresholds, scale=scale
                    )
                    r = combine_confirmation(r, again)
                counts[r.severity] += 1
        total = sum(counts.values())
        dist = ", ".join(f"{k} {v / total:.1%}" for k, v in sorted(counts.items()))
        extra = f"; reruns {reruns / total:.1%}" if confirm else ""
        print(f"    x{f} (true {_pct(true - 1)}): {dist}{extra}")


def analyse(paths: list[Path], rounds: int) -> None:
    sessions = [json.loads(line) for p in paths for line in p.read_text().splitlines() if line]
    n = len(sessions)
    print(f"{n} sessions, {n * (n - 1)} ordered (baseline, current) pairs, rounds={rounds}")
    metrics = [("wall", "", "calibration")]
    if all("cpu_x1.0" in s for s in sessions):
        metrics.append(("cpu", "cpu_", "calibration_cpu"))
    for name, prefix, cal_key in metrics:
        print(f"\n##### {name} time")
        _describe(sessions, prefix, cal_key, rounds)
        for scaled in (False, True):
            for confirm in (False, True):
                how = f"{rounds // 2}+{rounds - rounds // 2} confirm" if confirm else f"{rounds}"
                print(f"  compare_times, scale={'calibration' if scaled else '1'}, rounds {how}:")
                _pairs(sessions, prefix, cal_key, rounds, scaled, confirm)


def main() -> None:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("child")
    c = sub.add_parser("collect")
    c.add_argument("--sessions", type=int, default=20)
    c.add_argument("--gap", type=float, default=5.0)
    c.add_argument("--out", type=Path, required=True)
    a = sub.add_parser("analyse")
    a.add_argument("paths", type=Path, nargs="+")
    a.add_argument("--rounds", type=int, default=ROUNDS)
    args = ap.parse_args()
    if args.cmd == "child":
        child()
    elif args.cmd == "collect":
        collect(args.sessions, args.gap, args.out)
    else:
        analyse(args.paths, args.rounds)


if __name__ == "__main__":
    main()
