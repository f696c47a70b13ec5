"""Evidence for the verdicts (issue 5): false alarms, power, cross-machine, and cost.

The suite in ``benchmarks/suites/verdict_suite`` (five perf tests of real single-threaded DuckDB
work, 20–100 ms a round, one of them with a phase per simulation year) is copied to a temporary
folder. Baselines are recorded once with ``--simperf-update-baseline``; then fresh pytest
sessions run against them, all conditions interleaved in one schedule so that the machine's load
drifts over every condition alike:

- **unchanged** (false alarms): default settings (``--simperf``, history off). Target: 0 failing
  tests over 20 sessions.
- **x1.3 / x1.6 / x2.0** (power): every measured call also runs pure-Python CPU work sized to
  (factor − 1) × the query's own CPU time (sized and checked here before the sessions), so the
  work is slower while DuckDB's counters stay the same. Expected class: x1.3 → MINOR or MAJOR,
  x1.6 and x2.0 → CRITICAL. Target: ≥ 95% flagged.
- **plan** (power): the query's main table is read twice, doubling its rows scanned. Expected
  CRITICAL, target 100%.
- **cross-machine**: a baseline recorded under ``taskset -c 0`` checked unrestricted, and the
  main (unrestricted) baseline checked under ``taskset -c 0``; unchanged and x2.0 each.
- **cost**: the unchanged sessions (defaults) against ``--simperf-rounds=1 --simperf-warmup=0
  --simperf-calibration=off`` (one plain round) and ``--simperf-quick``.

    .venv/bin/python benchmarks/bench_verdicts.py            # full: 10-16 minutes (≤ 30)
    .venv/bin/python benchmarks/bench_verdicts.py --quick    # a short look: under 5 minutes
    # baselines pooled over 3 recording sessions (--simperf-add-baseline-session):
    .venv/bin/python benchmarks/bench_verdicts.py --baseline-sessions 3

Writes ``benchmarks/results/bench_verdicts.json`` (``_quick`` with --quick, ``_baseline3`` with
--baseline-sessions 3).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SUITE = HERE / "suites" / "verdict_suite"
RESULTS = HERE / "results"
FACTORS = (1.3, 1.6, 2.0)
REGRESSIONS = ("MINOR", "MAJOR", "CRITICAL")
EXPECTED: dict[str, tuple[str, ...]] = {
    "x1.3": ("MINOR", "MAJOR"),
    "x1.6": ("CRITICAL",),
    "x2.0": ("CRITICAL",),
    "plan": ("CRITICAL",),
    "pinned→free x2.0": ("CRITICAL",),
    "free→pinned x2.0": ("CRITICAL",),
}
SPIN_PROBE = 200_000  # Python iterations timed to size the slowdown


from _common import git_state, load, write_results  # noqa: E402  (benchmarks/ is on sys.path when run)

# ----------------------------------------------------------------------------- sizing


def _suite_module() -> Any:
    sys.path.insert(0, str(SUITE))
    import workload

    return workload


def size_slowdown(reps: int) -> dict[str, Any]:
    """Python iterations equal to one run of each query (CPU time), and the realised factors.

    Query and spin are timed interleaved in this process; then the query alone and with the
    sized extra work at each factor (and the plan-regression variant) are timed interleaved,
    ``reps`` times, to report the slowdown the sessions actually see.
    """
    import duckdb

    workload = _suite_module()
    con = duckdb.connect()
    workload.build(con)
    params = {n: ({"year": 2027} if n == "yearly_events" else {}) for n in workload.QUERIES}

    def call(text: str, param: dict[str, int], extra: int) -> None:
        con.execute(text, param).fetchall()
        if extra:
            workload.spin(extra)

    def cpu_wall(text: str, param: dict[str, int], extra: int) -> tuple[float, float]:
        gc.disable()
        c0, t0 = time.process_time(), time.perf_counter()
        call(text, param, extra)
        t1, c1 = time.perf_counter(), time.process_time()
        gc.enable()
        return c1 - c0, t1 - t0

    burn: dict[str, int] = {}
    for name in workload.QUERIES:
        text = workload.sql(name, plan_regression=False)
        call(text, params[name], 0)
        q_cpu, s_cpu = [], []
        for _ in range(reps):
            q_cpu.append(cpu_wall(text, params[name], 0)[0])
            s_cpu.append(cpu_wall("SELECT 1", {}, SPIN_PROBE)[0])
        burn[name] = round(statistics.median(q_cpu) / statistics.median(s_cpu) * SPIN_PROBE)

    realised = _realised(con, workload, params, burn, reps, cpu_wall, call)
    # The spin's cost per iteration differs a little beside a query (caches, frequency): correct
    # the sizing once so that "x1.3" really is +30% of the query's CPU time, then re-measure.
    corrections: dict[str, float] = {}
    for name in workload.QUERIES:
        ratios = realised[name]["cpu_ratio"]
        factor = statistics.median(
            (f - 1) / (ratios[f"x{f}"] - 1) for f in FACTORS if ratios[f"x{f}"] > 1.05
        )
        corrections[name] = factor
        burn[name] = round(burn[name] * factor)
    realised = _realised(con, workload, params, burn, reps, cpu_wall, call)
    con.close()
    return {"burn_iterations": burn, "realised": realised, "reps": reps, "corrections": corrections}


def _realised(
    con: Any,
    workload: Any,
    params: dict[str, dict[str, int]],
    burn: dict[str, int],
    reps: int,
    cpu_wall: Any,
    call: Any,
) -> dict[str, dict[str, Any]]:
    """Each query alone, at each slowdown factor and as the plan regression, interleaved."""
    realised: dict[str, dict[str, Any]] = {}
    for name in workload.QUERIES:
        plain = workload.sql(name, plan_regression=False)
        doubled = workload.sql(name, plan_regression=True)
        variants: dict[str, tuple[str, int]] = {"x1.0": (plain, 0)}
        for f in FACTORS:
            variants[f"x{f}"] = (plain, round((f - 1) * burn[name]))
        variants["plan"] = (doubled, 0)
        samples: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
        for text, _ in variants.values():
            call(text, params[name], 0)
        for _ in range(reps):
            for key, (text, extra) in variants.items():
                samples[key].append(cpu_wall(text, params[name], extra))
        base_cpu = statistics.median(c for c, _ in samples["x1.0"])
        base_wall = statistics.median(w for _, w in samples["x1.0"])
        counters = {}
        for label, text in (("x1.0", plain), ("plan", doubled)):
            cur = con.cursor()
            cur.execute("SET enable_profiling='no_output'")
            cur.execute(text, params[name]).fetchall()
            counters[label] = json.loads(cur.get_profiling_information(format="json"))["query"][
                "total_rows_scanned"
            ]
            cur.close()
        realised[name] = {
            "query_cpu_ms": 1000 * base_cpu,
            "query_wall_ms": 1000 * base_wall,
            "cpu_ratio": {
                k: statistics.median(c for c, _ in v) / base_cpu for k, v in samples.items()
            },
            "wall_ratio": {
                k: statistics.median(w for _, w in v) / base_wall for k, v in samples.items()
            },
            "rows_scanned": counters["x1.0"],
            "plan_rows_scanned": counters["plan"],
        }
    return realised


# ----------------------------------------------------------------------------- sessions


@dataclass
class Spec:
    group: str
    baseline_dir: str = "baselines"
    factor: float = 1.0
    plan: bool = False
    pinned: bool = False
    extra: tuple[str, ...] = ()
    update: bool = False
    add_session: bool = False


@dataclass
class Outcome:
    spec: Spec
    index: int
    exit_code: int
    wall_s: float
    load: str
    tests: list[dict[str, Any]] = field(default_factory=list)
    call_s: float = 0.0
    error: str | None = None
    calibration: dict[str, Any] | None = None


def prepare(workdir: Path) -> None:
    for src in SUITE.glob("*.py"):
        shutil.copy2(src, workdir / src.name)
    (workdir / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")


def run_session(
    workdir: Path,
    spec: Spec,
    index: int,
    burn: dict[str, int],
    baselines: dict[str, Any] | None = None,
) -> Outcome:
    tag = f"{spec.group.replace(' ', '_').replace('→', '-')}_{index}"
    report = workdir / "reports" / f"{tag}.json"
    durations = workdir / "reports" / f"{tag}.durations.jsonl"
    report.parent.mkdir(exist_ok=True)
    env = dict(os.environ)
    env.update(
        SIMPERF_BENCH_FACTOR=str(spec.factor),
        SIMPERF_BENCH_PLAN="1" if spec.plan else "0",
        SIMPERF_BENCH_BURN=json.dumps(burn),
        SIMPERF_BENCH_DURATIONS=str(durations),
    )
    cmd = ["taskset", "-c", "0"] if spec.pinned else []
    cmd += [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    if spec.add_session:
        cmd += ["--simperf-add-baseline-session"]
    else:
        cmd += ["--simperf-update-baseline"] if spec.update else ["--simperf"]
    cmd += [
        "--simperf-history=off",
        f"--simperf-json={report}",
        f"--simperf-baseline-dir={spec.baseline_dir}",
        *spec.extra,
    ]
    started_load = load()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    out = Outcome(spec=spec, index=index, exit_code=proc.returncode, wall_s=wall, load=started_load)
    if not report.exists():
        out.error = (proc.stdout + proc.stderr)[-3000:]
        return out
    data = json.loads(report.read_text(encoding="utf-8"))
    out.calibration = data["run"].get("calibration")
    baseline = (baselines or {}).get(spec.baseline_dir)
    for test in data["tests"]:
        name = test["nodeid"].split("::")[-1]
        entry = None if baseline is None else baseline["tests"].get(name)
        for p in test["phases"]:
            key = p["name"] if p["year"] is None else f"{p['name']}@{p['year']}"
            p["cpu_rejudged"] = (
                None
                if entry is None
                else rejudge_on_cpu(p, entry, key, data["run"], baseline["machines"])
            )
        out.tests.append(
            {
                "test": test["nodeid"].split("::")[-1],
                "outcome": test["outcome"],
                "severity": test["severity"],
                "comparison": test["comparison"],
                "failed_reasons": test["failed_reasons"],
                "phases": [
                    {
                        "key": p["name"] if p["year"] is None else f"{p['name']}@{p['year']}",
                        "severity": p["severity"],
                        "time_severity": p["time_severity"],
                        "counter_severity": p["counter_severity"],
                        "memory_severity": p["memory_severity"],
                        "change_pct": p["change_pct"],
                        "confirmed": bool(p["confirm_samples_s"]),
                        "time_metric": p.get("time_metric"),
                        "median_s": p["median_s"],
                        "cpu_s": p["cpu_s"],
                        "cpu_rejudged": p["cpu_rejudged"],
                        "why": p["why"],
                        "raw": {
                            k: p.get(k)
                            for k in (
                                "samples_s",
                                "cpu_samples_s",
                                "confirm_samples_s",
                                "confirm_cpu_samples_s",
                                "runq_wait_s",
                                "rows_scanned",
                            )
                        },
                    }
                    for p in test["phases"]
                ],
            }
        )
    if durations.exists():
        rows = [json.loads(line) for line in durations.read_text().splitlines() if line]
        out.call_s = sum(r["s"] for r in rows if r["when"] == "call")
    if proc.returncode not in (0, 1):
        out.error = (proc.stdout + proc.stderr)[-3000:]
    return out


def interleave(groups: dict[str, tuple[Spec, int]]) -> list[tuple[Spec, int]]:
    """Spread each group's sessions evenly over the whole schedule (A B C A B C …)."""
    slots: list[tuple[float, int, Spec, int]] = []
    for order, (spec, count) in enumerate(groups.values()):
        for k in range(count):
            slots.append(((k + 0.5) / count, order, spec, k))
    slots.sort(key=lambda s: (round(s[0], 6), s[1]))
    return [(spec, k) for _, _, spec, k in slots]


def rejudge_on_cpu(
    phase: dict[str, Any], entry: dict[str, Any], key: str, run: dict[str, Any], machines: Any
) -> str | None:
    """The time class this phase would get if its region were judged on CPU time.

    A counterfactual, not what the gate did: the gate picks wall time when the baseline's CPU
    time is under half its wall time (``verdict.time_metric``), which a loaded machine causes
    for CPU-bound work. Uses the package's own ``judge_time`` with the session's samples
    (and confirmation samples, where the gate took them) and the baseline's CPU samples.
    """
    from pytest_simperf.calibration import compare_machines
    from pytest_simperf.markers import TestOptions
    from pytest_simperf.results import PhaseRecord
    from pytest_simperf.stats import Thresholds
    from pytest_simperf.verdict import judge_time

    base = entry["phases"].get(key)
    if not base or not base.get("cpu_samples_s") or not phase.get("cpu_samples_s"):
        return None
    comparability = compare_machines(machines.get(str(entry.get("machine"))), run["machine"])
    forced = dict(base, samples_s=base["cpu_samples_s"], median_s=base["cpu_s"])
    record = PhaseRecord(
        name=phase["name"],
        year=phase["year"],
        samples_s=list(phase["cpu_samples_s"]),
        cpu_s=list(phase["cpu_samples_s"]),
        confirm_samples_s=phase.get("confirm_cpu_samples_s") or None,
        confirm_cpu_s=phase.get("confirm_cpu_samples_s") or None,
    )
    options = TestOptions(
        thresholds=Thresholds(),
        memory_thresholds=Thresholds(0.25, 0.5, 1.0),
        fail_on="MINOR",
        rounds=len(phase["cpu_samples_s"]),
        warmup=1,
    )
    cmp = judge_time(record, forced, options, comparability)
    return None if cmp is None else cmp.severity


# ----------------------------------------------------------------------------- analysis


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _cpu_test_class(test: dict[str, Any]) -> str | None:
    """A test's class had every phase's time been judged on CPU time (counters and memory as
    the gate judged them); None when some phase cannot be re-judged."""
    from pytest_simperf.verdict import worst

    classes = []
    for p in test["phases"]:
        if p["cpu_rejudged"] is None:
            return None
        classes.append(worst([p["cpu_rejudged"], p["counter_severity"], p["memory_severity"]]))
    return worst(classes)


def analyse(outcomes: list[Outcome]) -> dict[str, Any]:
    by_group: dict[str, list[Outcome]] = {}
    for o in outcomes:
        by_group.setdefault(o.spec.group, []).append(o)
    summary: dict[str, Any] = {}
    for group, runs in by_group.items():
        tests = [t for o in runs for t in o.tests]
        phases = [p for t in tests for p in t["phases"]]
        failing = [
            {
                "session": o.index,
                "test": t["test"],
                "severity": t["severity"],
                "why": [p["why"] for p in t["phases"] if p["severity"] in REGRESSIONS]
                or t["failed_reasons"],
            }
            for o in runs
            for t in o.tests
            if t["outcome"] != "passed"
        ]
        entry: dict[str, Any] = {
            "sessions": len(runs),
            "errors": [o.error for o in runs if o.error],
            "tests_judged": len(tests),
            "failing_tests": len(failing),
            "sessions_with_failures": sum(
                1 for o in runs if any(t["outcome"] != "passed" for t in o.tests)
            ),
            "failing": failing,
            "test_classes": dict(Counter(t["severity"] for t in tests)),
            "phase_classes": dict(Counter(p["severity"] for p in phases)),
            "time_classes": dict(Counter(str(p["time_severity"]) for p in phases)),
            "counter_classes": dict(Counter(str(p["counter_severity"]) for p in phases)),
            "memory_classes": dict(Counter(str(p["memory_severity"]) for p in phases)),
            "confirmation_reruns": sum(p["confirmed"] for p in phases),
            "phases_judged": len(phases),
            "comparisons": dict(Counter(t["comparison"] for t in tests)),
            "median_wall_s": statistics.median(o.wall_s for o in runs),
            "median_call_s": statistics.median(o.call_s for o in runs),
            "loads": [o.load for o in runs],
        }
        changes = [p["change_pct"] for p in phases if p["change_pct"] is not None]
        if changes:
            entry["change_pct"] = {
                "median": statistics.median(changes),
                "min": min(changes),
                "max": max(changes),
            }
        if tests:
            entry["flagged_tests"] = sum(t["severity"] in REGRESSIONS for t in tests) / len(tests)
            entry["flagged_phases"] = sum(p["severity"] in REGRESSIONS for p in phases) / len(
                phases
            )
        entry["time_metrics"] = dict(Counter(str(p["time_metric"]) for p in phases))
        cf_tests = [_cpu_test_class(t) for t in tests]
        if tests and all(c is not None for c in cf_tests):
            cf: dict[str, Any] = {
                "test_classes": dict(Counter(str(c) for c in cf_tests)),
                "failing_tests": sum(c in REGRESSIONS for c in cf_tests),
                "flagged_tests": sum(c in REGRESSIONS for c in cf_tests) / len(tests),
            }
            if group in EXPECTED:
                cf["class_match_tests"] = sum(c in EXPECTED[group] for c in cf_tests) / len(tests)
            entry["cpu_rejudged"] = cf
        expected = EXPECTED.get(group)
        if expected and tests:
            entry["expected"] = list(expected)
            entry["class_match_tests"] = sum(t["severity"] in expected for t in tests) / len(tests)
            entry["class_match_phases"] = sum(p["severity"] in expected for p in phases) / len(
                phases
            )
            entry["missed"] = [
                {
                    "session": o.index,
                    "test": t["test"],
                    "phase": p["key"],
                    "severity": p["severity"],
                    "why": p["why"],
                }
                for o in runs
                for t in o.tests
                for p in t["phases"]
                if p["severity"] not in expected
            ]
        summary[group] = entry
    return summary


def print_tables(summary: dict[str, Any], sizing: dict[str, Any]) -> None:
    print("\nRealised slowdown of the measured call (bare, interleaved, median ratios):")
    print(
        f"{'query':20s} {'cpu ms':>7s} "
        + " ".join(
            f"{k:>13s}"
            for k in (
                "x1.3 cpu/wall",
                "x1.6 cpu/wall",
                "x2.0 cpu/wall",
                "plan cpu/wall",
                "plan rows",
            )
        )
    )
    for name, r in sizing["realised"].items():
        cells = [
            f"{r['cpu_ratio'][k]:.2f}/{r['wall_ratio'][k]:.2f}"
            for k in ("x1.3", "x1.6", "x2.0", "plan")
        ]
        rows = f"×{r['plan_rows_scanned'] / r['rows_scanned']:.2f}"
        print(
            f"{name:20s} {r['query_cpu_ms']:7.1f} "
            + " ".join(f"{c:>13s}" for c in cells)
            + f" {rows:>13s}"
        )
    print("\nSessions (per test: the worst class over its phases):")
    head = (
        f"{'group':22s} {'sess':>4s} {'fail tests':>10s} {'flagged':>8s} {'class ok':>8s}"
        f" {'phases ok':>9s} {'reruns':>7s} {'wall s':>7s}  classes"
    )
    print(head)
    print("-" * len(head))
    for group, e in summary.items():
        flagged = _pct(e["flagged_tests"]) if "flagged_tests" in e else "-"
        ok = _pct(e["class_match_tests"]) if "class_match_tests" in e else "-"
        ok_p = _pct(e["class_match_phases"]) if "class_match_phases" in e else "-"
        reruns = f"{e['confirmation_reruns']}/{e['phases_judged']}"
        classes = ", ".join(f"{k} {v}" for k, v in sorted(e["test_classes"].items()))
        print(
            f"{group:22s} {e['sessions']:4d} {e['failing_tests']:10d} {flagged:>8s} {ok:>8s}"
            f" {ok_p:>9s} {reruns:>7s} {e['median_wall_s']:7.1f}  {classes}"
        )


def print_counterfactual(summary: dict[str, Any]) -> None:
    print(
        "\nCounterfactual (not what the gate did): the same sessions with every region's time"
        " judged on CPU time (package's judge_time on the CPU samples):"
    )
    head = (
        f"{'group':22s} {'gate metric':>18s} {'fail tests':>10s} {'flagged':>8s} {'class ok':>8s}"
    )
    print(head)
    print("-" * len(head))
    for group, e in summary.items():
        cf = e.get("cpu_rejudged")
        metrics = ", ".join(f"{k} {v}" for k, v in sorted(e["time_metrics"].items()))
        if cf is None:
            print(f"{group:22s} {metrics:>18s} {'n/a':>10s}")
            continue
        ok = _pct(cf["class_match_tests"]) if "class_match_tests" in cf else "-"
        print(
            f"{group:22s} {metrics:>18s} {cf['failing_tests']:10d} {_pct(cf['flagged_tests']):>8s}"
            f" {ok:>8s}"
        )


def recording(outcome: Outcome) -> dict[str, Any]:
    """What the baseline recorded per phase: wall and CPU medians and their ratio."""
    return {
        f"{t['test']}::{p['key']}": {
            "median_ms": round(1000 * p["median_s"], 2),
            "cpu_ms": round(1000 * p["cpu_s"], 2),
            "cpu_over_wall": round(p["cpu_s"] / p["median_s"], 3),
            "raw": p["raw"],
        }
        for t in outcome.tests
        for p in t["phases"]
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="few sessions: a look, not evidence")
    ap.add_argument("--keep", action="store_true", help="keep the temporary suite folder")
    ap.add_argument("--out", type=Path, default=None, help="results JSON path")
    ap.add_argument(
        "--baseline-sessions",
        type=int,
        default=1,
        metavar="N",
        help="record each baseline over N sessions (an update, then N-1 times"
        " --simperf-add-baseline-session); default 1",
    )
    args = ap.parse_args()
    sessions_tag = "" if args.baseline_sessions == 1 else f"_baseline{args.baseline_sessions}"
    out_path = args.out or RESULTS / (
        f"bench_verdicts{sessions_tag}{'_quick' if args.quick else ''}.json"
    )
    t_start = time.perf_counter()
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    load_start = load()
    print(
        f"bench_verdicts ({'quick' if args.quick else 'full'}, baselines over"
        f" {args.baseline_sessions} session(s)), load average {load_start}"
    )

    sizing = size_slowdown(reps=5 if args.quick else 11)
    burn = sizing["burn_iterations"]

    n = (
        {"unchanged": 4, "power": 2, "cross": 1, "cost": 2}
        if args.quick
        else {"unchanged": 20, "power": 10, "cross": 5, "cost": 8}
    )
    workdir = Path(tempfile.mkdtemp(prefix="simperf-verdicts-"))
    prepare(workdir)
    try:
        records = []
        for k in range(args.baseline_sessions):
            records.append(
                run_session(workdir, Spec("record", update=True, add_session=k > 0), k, burn)
            )
            records.append(
                run_session(
                    workdir,
                    Spec(
                        "record pinned",
                        baseline_dir="baselines_pinned",
                        pinned=True,
                        update=True,
                        add_session=k > 0,
                    ),
                    k,
                    burn,
                )
            )
        for r in records:
            if r.error or r.exit_code != 0:
                print(f"recording failed ({r.spec.group}):\n{r.error}", file=sys.stderr)
                return 2
        baselines = {
            d: json.loads((workdir / d / "test_verdict_suite.json").read_text(encoding="utf-8"))
            for d in ("baselines", "baselines_pinned")
        }
        groups: dict[str, tuple[Spec, int]] = {
            "unchanged": (Spec("unchanged"), n["unchanged"]),
            "x1.3": (Spec("x1.3", factor=1.3), n["power"]),
            "x1.6": (Spec("x1.6", factor=1.6), n["power"]),
            "x2.0": (Spec("x2.0", factor=2.0), n["power"]),
            "plan": (Spec("plan", plan=True), n["power"]),
            "pinned→free unchanged": (
                Spec("pinned→free unchanged", baseline_dir="baselines_pinned"),
                n["cross"],
            ),
            "pinned→free x2.0": (
                Spec("pinned→free x2.0", baseline_dir="baselines_pinned", factor=2.0),
                n["cross"],
            ),
            "free→pinned unchanged": (Spec("free→pinned unchanged", pinned=True), n["cross"]),
            "free→pinned x2.0": (Spec("free→pinned x2.0", pinned=True, factor=2.0), n["cross"]),
            "cost: one plain round": (
                Spec(
                    "cost: one plain round",
                    extra=("--simperf-rounds=1", "--simperf-warmup=0", "--simperf-calibration=off"),
                ),
                n["cost"],
            ),
            "cost: quick": (Spec("cost: quick", extra=("--simperf-quick",)), n["cost"]),
        }
        schedule = interleave(groups)
        outcomes: list[Outcome] = []
        for i, (spec, k) in enumerate(schedule):
            o = run_session(workdir, spec, k, burn, baselines)
            outcomes.append(o)
            fails = sum(t["outcome"] != "passed" for t in o.tests)
            print(
                f"[{i + 1:3d}/{len(schedule)}] {spec.group:22s} #{k:<2d} exit {o.exit_code}"
                f" failing {fails} wall {o.wall_s:5.1f}s load {o.load}"
                + (" ERROR" if o.error else ""),
                flush=True,
            )
    finally:
        if args.keep:
            print(f"suite kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    summary = analyse(outcomes)
    defaults = summary["unchanged"]
    cost = {
        "defaults_median_wall_s": defaults["median_wall_s"],
        "plain_median_wall_s": summary["cost: one plain round"]["median_wall_s"],
        "quick_median_wall_s": summary["cost: quick"]["median_wall_s"],
        "defaults_median_call_s": defaults["median_call_s"],
        "plain_median_call_s": summary["cost: one plain round"]["median_call_s"],
        "quick_median_call_s": summary["cost: quick"]["median_call_s"],
    }
    cost["wall_ratio_defaults_vs_plain"] = (
        cost["defaults_median_wall_s"] / cost["plain_median_wall_s"]
    )
    cost["wall_ratio_quick_vs_plain"] = cost["quick_median_wall_s"] / cost["plain_median_wall_s"]
    cost["call_ratio_defaults_vs_plain"] = (
        cost["defaults_median_call_s"] / cost["plain_median_call_s"]
    )
    cost["call_ratio_quick_vs_plain"] = cost["quick_median_call_s"] / cost["plain_median_call_s"]

    print_tables(summary, sizing)
    print_counterfactual(summary)
    print(
        f"\ncost (median session wall / sum of test call phases): defaults"
        f" {cost['defaults_median_wall_s']:.1f} s / {cost['defaults_median_call_s']:.1f} s,"
        f" one plain round {cost['plain_median_wall_s']:.1f} s / "
        f"{cost['plain_median_call_s']:.1f} s, quick {cost['quick_median_wall_s']:.1f} s /"
        f" {cost['quick_median_call_s']:.1f} s; defaults ÷ plain ×"
        f"{cost['wall_ratio_defaults_vs_plain']:.2f} (calls ×"
        f"{cost['call_ratio_defaults_vs_plain']:.2f}), quick ÷ plain ×"
        f"{cost['wall_ratio_quick_vs_plain']:.2f} (calls ×{cost['call_ratio_quick_vs_plain']:.2f})"
    )
    errors = sum(1 for o in outcomes if o.error)
    if errors:
        print(f"\n{errors} session(s) ended in an error (see 'errors' per group): figures void")
    targets = {
        "no_session_errors": errors == 0,
        "false_alarms_zero": defaults["failing_tests"] == 0,
        "flagged_at_30pct_or_more_ge_95pct": all(
            summary[g]["flagged_tests"] >= 0.95 for g in ("x1.3", "x1.6", "x2.0", "plan")
        ),
        "plan_regression_100pct": summary["plan"]["class_match_tests"] == 1.0,
        "cross_machine_no_false_regression": summary["pinned→free unchanged"]["failing_tests"] == 0
        and summary["free→pinned unchanged"]["failing_tests"] == 0,
        "cross_machine_x2_caught": summary["pinned→free x2.0"]["flagged_tests"] == 1.0
        and summary["free→pinned x2.0"]["flagged_tests"] == 1.0,
    }
    elapsed = time.perf_counter() - t_start
    print("\ntargets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))
    print(f"elapsed {elapsed / 60:.1f} min, load average at end {load()}")
    result = {
        "benchmark": "bench_verdicts",
        "command": "python benchmarks/bench_verdicts.py"
        + (" --quick" if args.quick else "")
        + (f" --baseline-sessions {args.baseline_sessions}" if args.baseline_sessions != 1 else ""),
        "started_at": started,
        "elapsed_s": elapsed,
        "load_average_start": load_start,
        "load_average_end": load(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "git": git_state(),
        "sessions_per_group": {g: c for g, (_, c) in groups.items()},
        "sizing": sizing,
        "baseline_sessions": args.baseline_sessions,
        "recordings": {
            f"{r.spec.group} #{r.index}": {"load": r.load, "phases": recording(r)} for r in records
        },
        "groups": summary,
        "cost": cost,
        "targets": targets,
        "sessions": [
            {
                "group": o.spec.group,
                "index": o.index,
                "exit_code": o.exit_code,
                "wall_s": round(o.wall_s, 3),
                "call_s": round(o.call_s, 3),
                "load": o.load,
                "calibration": o.calibration,
                "error": o.error,
                "tests": {
                    t["test"]: {
                        "severity": t["severity"],
                        "outcome": t["outcome"],
                        "phases": {
                            p["key"]: [
                                p["severity"],
                                None if p["change_pct"] is None else round(p["change_pct"], 1),
                                p["confirmed"],
                            ]
                            for p in t["phases"]
                        },
                        # Every round, so other verdict rules can be re-judged offline
                        # (benchmarks/verdict_pairs.py).
                        "raw": {p["key"]: p["raw"] for p in t["phases"]},
                    }
                    for t in o.tests
                },
            }
            for o in outcomes
        ],
    }
    write_results(out_path, result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
