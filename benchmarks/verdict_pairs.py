"""Re-judge a bench_verdicts run offline: every session as a baseline for every other session.

``bench_verdicts.py`` records one baseline and judges 20 unchanged sessions against it, so its
false-alarm figure rests on one recording session's luck. Its results keep every round of every
session, so any session (or a pool of consecutive sessions) can stand in as the baseline of any
other: 20 unchanged sessions give 380 ordered one-session pairs. This script replays those pairs
through the package's own ``judge_time`` and ``baseline.phase_entry``, for several assumed
between-session drifts, and reports per (drift, recording sessions):

- false alarms: fraction of (baseline, session) pairs in which at least one test would fail,
  and of tests failing; the chance that a 20-session run stays clean follows from it;
- power: x1.3 flagged, x1.6 and x2.0 classed CRITICAL, baselines from unchanged sessions.

Only the first run of each session is replayed (a confirmation rerun exists only where the real
gate asked for one), and a confirmation can only withdraw a class, so the false-alarm figures are
upper bounds of what the gate does. Machine comparison is "same machine, unscaled".

    .venv/bin/python benchmarks/verdict_pairs.py benchmarks/results/bench_verdicts.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pytest_simperf import verdict as verdict_mod
from pytest_simperf.baseline import phase_entry
from pytest_simperf.calibration import MachineComparison
from pytest_simperf.markers import TestOptions
from pytest_simperf.results import PhaseRecord
from pytest_simperf.stats import REGRESSIONS, Thresholds, severity_rank

SAME = MachineComparison("same_machine", 1.0, 0.0, "same machine")
OPTIONS = TestOptions(Thresholds(), Thresholds(0.25, 0.5, 1.0), "MINOR", 7, 1)
DRIFTS = (0.0, 0.02, 0.04, 0.05, 0.06, 0.08)
POWER = {"x1.3": REGRESSIONS, "x1.6": ("CRITICAL",), "x2.0": ("CRITICAL",)}


def _phase_dict(key: str, raw: dict[str, Any]) -> dict[str, Any]:
    name, _, year = key.partition("@")
    cpu = raw.get("cpu_samples_s") or []
    return {
        "name": name,
        "year": int(year) if year else None,
        "samples_s": raw["samples_s"],
        "median_s": statistics.median(raw["samples_s"]),
        "cpu_samples_s": cpu,
        "cpu_s": statistics.median(cpu) if cpu else None,
        "runq_wait_s": raw.get("runq_wait_s"),
    }


def baseline_from(sessions: Sequence[dict[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """Baseline entries as ``--simperf-update-baseline`` then ``--simperf-add-baseline-session``
    would write them from these sessions, per test and phase."""
    tests: dict[str, dict[str, dict[str, Any]]] = {}
    for k, session in enumerate(sessions):
        for test, data in session["tests"].items():
            for key, raw in data["raw"].items():
                previous = tests.get(test, {}).get(key)
                entry = phase_entry(_phase_dict(key, raw), previous, add_session=k > 0)
                tests.setdefault(test, {})[key] = entry
    return tests


def judge_session(
    baseline: dict[str, dict[str, dict[str, Any]]], session: dict[str, Any]
) -> dict[str, str]:
    """The time class each test of ``session`` would get (worst over its phases)."""
    classes: dict[str, str] = {}
    for test, data in session["tests"].items():
        worst = "OK"
        for key, raw in data["raw"].items():
            base = baseline.get(test, {}).get(key)
            if base is None:
                continue
            phase = _phase_dict(key, raw)
            record = PhaseRecord(
                phase["name"],
                phase["year"],
                list(raw["samples_s"]),
                cpu_s=list(raw["cpu_samples_s"]),
            )
            cmp = verdict_mod.judge_time(record, base, OPTIONS, SAME)
            if cmp is not None and severity_rank(cmp.severity) > severity_rank(worst):
                worst = cmp.severity
        classes[test] = worst
    return classes


def pools(sessions: Sequence[dict[str, Any]], size: int) -> Iterator[tuple[int, ...]]:
    """Baselines of ``size`` consecutive sessions (in the run's order), as index tuples."""
    for start in range(len(sessions) - size + 1):
        yield tuple(range(start, start + size))


def analyse(data: dict[str, Any], drift: float, size: int) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for s in data["sessions"]:
        if s["tests"] and not s.get("error"):  # a session that crashed judged nothing
            groups.setdefault(s["group"], []).append(s)
    unchanged = groups["unchanged"]
    verdict_mod.DEFAULT_CPU_SESSION_DRIFT = drift  # type: ignore[misc]
    pairs = failing_pairs = tests = failing_tests = 0
    power_hits: dict[str, list[int]] = {g: [0, 0] for g in POWER}
    for pool in pools(unchanged, size):
        baseline = baseline_from([unchanged[i] for i in pool])
        for j, session in enumerate(unchanged):
            if j in pool:
                continue
            classes = judge_session(baseline, session)
            bad = sum(c in REGRESSIONS for c in classes.values())
            pairs += 1
            failing_pairs += bad > 0
            tests += len(classes)
            failing_tests += bad
        for group, expected in POWER.items():
            for session in groups.get(group, []):
                for c in judge_session(baseline, session).values():
                    power_hits[group][0] += c in expected
                    power_hits[group][1] += 1
    p_session = failing_pairs / pairs if pairs else float("nan")
    return {
        "drift": drift,
        "baseline_sessions": size,
        "pairs": pairs,
        "failing_pairs": failing_pairs,
        "failing_tests": failing_tests,
        "tests": tests,
        "p_session_fails": p_session,
        "p_20_sessions_clean": (1 - p_session) ** 20,
        "power": {g: (h / n if n else None) for g, (h, n) in power_hits.items()},
    }


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", type=Path, help="bench_verdicts results JSON")
    ap.add_argument("--sizes", default="1,3", help="baseline sessions to pool (default 1,3)")
    ap.add_argument("--json", type=Path, default=None, help="write the rows to this file")
    args = ap.parse_args(argv)
    rows = []
    for path in args.results:
        data = json.loads(path.read_text(encoding="utf-8"))
        judged = [s for s in data["sessions"] if s["tests"]]
        if not judged or "raw" not in next(iter(judged[0]["tests"].values())):
            print(f"{path}: no raw rounds kept (older run); skipped", file=sys.stderr)
            continue
        print(f"{path} ({data['started_at']}, load {data['load_average_start']})")
        print(
            "  drift  sessions  pairs  pairs failing  tests failing  P(20 clean)"
            "  x1.3 flagged  x1.6 CRIT  x2.0 CRIT"
        )
        for size in (int(x) for x in args.sizes.split(",")):
            for drift in DRIFTS:
                r = analyse(data, drift, size)
                r["results"] = str(path)
                rows.append(r)
                pw = r["power"]
                print(
                    f"  {100 * drift:4.0f}%  {size:8d}  {r['pairs']:5d}  "
                    f"{r['failing_pairs']:5d} ({100 * r['p_session_fails']:4.1f}%)  "
                    f"{r['failing_tests']:5d}/{r['tests']:<5d}  {r['p_20_sessions_clean']:10.2f}"
                    + "".join(
                        f"  {'n/a' if pw[g] is None else f'{100 * pw[g]:.0f}%':>10s}" for g in POWER
                    )
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
