"""What monitoring costs (issue 4): a DuckDB workload bare vs under the ``simperf`` instrument.

Two real single-threaded DuckDB workloads on a table built deterministically in this process, one
of about 0.2 s and one of about 2 s, each run in these modes, interleaved (the order rotates every
repetition) and repeated:

- ``bare``: ``time.perf_counter`` around the call on the raw connection;
- ``phase``: ``with simperf.phase(...)`` around the call on the tracked connection — DuckDB's
  profiler on (rows scanned, intermediate rows, peak buffer memory), peak-RSS tracking with the
  kernel's high-water mark (the Linux default), CPU time;
- ``phase+sampler``: the same with the portable psutil reader, whose sampling thread polls RSS
  every 5 ms (what runs where the kernel has no resettable high-water mark);
- ``measure``: ``simperf.measure(fn)`` with one warm-up (profiled) and a few timed rounds; the
  external time is divided by the number of calls, and the samples measure() reports are compared
  with the bare time too.

The ``Simperf`` object is built directly (as tests/core/test_measure.py does) with real clocks and
real memory readers, so this measures the instrument, not pytest. Ratios are monitored ÷ bare:
the ratio of the medians, and the median of per-repetition ratios (each monitored run against the
bare run of the same repetition). Target: < 1.05.

    .venv/bin/python benchmarks/bench_monitoring_overhead.py            # full, about 4 minutes
    .venv/bin/python benchmarks/bench_monitoring_overhead.py --quick    # about 1 minute
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from pytest_simperf.calibration import MachineComparison
from pytest_simperf.fixtures import Simperf, TestContext
from pytest_simperf.markers import TestOptions
from pytest_simperf.measure import (
    LinuxMemoryReader,
    MemoryReader,
    MemoryTracker,
    PsutilMemoryReader,
    default_memory_reader,
)
from pytest_simperf.results import TestCollector
from pytest_simperf.stats import Thresholds

RESULTS = Path(__file__).resolve().parent / "results"
TARGET = 1.05

BUILD = [
    "SET threads = 1",
    """
    CREATE TABLE employees AS
    SELECT i AS employee_id, (i % 40)::INTEGER AS department_id, (i % 9)::INTEGER AS level_id,
           (40000 + hash(i) % 120000)::BIGINT AS salary
    FROM range(500000) t(i)
    """,
    """
    CREATE TABLE events AS
    SELECT i AS event_id, (hash(i) % 500000)::BIGINT AS employee_id,
           (2025 + i * 5 // 20000000)::INTEGER AS simulation_year,
           (hash(i * 3) % 5)::INTEGER AS event_type,
           (hash(i * 11) % 10000)::DOUBLE / 100 AS amount
    FROM range(20000000) t(i)
    """,
]

# ~0.2 s: a grouped aggregate over a slice of the events; ~2 s: a join, a distinct count and a
# window over all of them (single-threaded).
WORKLOADS: dict[str, str] = {
    "0.2s": """
        SELECT simulation_year, event_type, count(*), sum(amount), avg(amount),
               quantile_cont(amount, 0.9)
        FROM events WHERE event_id < 10000000 GROUP BY ALL ORDER BY ALL
    """,
    "2s": """
        WITH joined AS (
            SELECT e.simulation_year, m.department_id, m.level_id, e.employee_id, e.amount
            FROM events e JOIN employees m USING (employee_id)
        )
        , grouped AS (
            SELECT simulation_year, department_id, count(*) AS n,
                   count(DISTINCT employee_id) AS employees, sum(amount) AS total,
                   quantile_cont(amount, 0.5) AS median_amount
            FROM joined GROUP BY ALL
        )
        SELECT *, rank() OVER (PARTITION BY simulation_year ORDER BY total DESC) AS r
        FROM grouped ORDER BY ALL
    """,
}
MODES = ("bare", "phase", "phase+sampler", "measure")


from _common import git_state, load, write_results  # noqa: E402  (benchmarks/ is on sys.path when run)


def make_simperf(reader: MemoryReader, *, rounds: int, warmup: int) -> Simperf:
    context = TestContext(
        collector=TestCollector("bench_monitoring_overhead.py::workload"),
        options=TestOptions(
            thresholds=Thresholds(),
            memory_thresholds=Thresholds(),
            fail_on="MINOR",
            rounds=rounds,
            warmup=warmup,
        ),
        baseline=None,
        comparability=MachineComparison("none", 1.0, 0.0, "no baseline"),
        confirm=False,
        duckdb_threads=1,
        memory=MemoryTracker(reader),
    )
    return Simperf(context)


def timed(fn: Callable[[], Any]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; GC paused, as measure() pauses it inside rounds."""
    gc.collect()
    gc.disable()
    try:
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        t1, c1 = time.perf_counter(), time.process_time()
    finally:
        gc.enable()
    return t1 - t0, c1 - c0


def run_mode(
    mode: str, con: Any, sql: str, measure_rounds: int, exact: MemoryReader
) -> dict[str, Any]:
    """One run of ``mode``; wall/CPU are per call of the workload."""
    if mode == "bare":
        wall, cpu = timed(lambda: con.execute(sql).fetchall())
        return {"wall": wall, "cpu": cpu}
    if mode in ("phase", "phase+sampler"):
        reader = exact if mode == "phase" else PsutilMemoryReader()
        simperf = make_simperf(reader, rounds=1, warmup=0)
        tracked = simperf.track(con)

        def body() -> None:
            with simperf.phase("workload"):
                tracked.execute(sql).fetchall()

        wall, cpu = timed(body)
        (record,) = simperf.records
        assert record.rows_scanned, "the profiler saw no rows: the phase did not monitor"
        return {"wall": wall, "cpu": cpu, "peak_alloc_mb": record.peak_alloc_mb}
    simperf = make_simperf(exact, rounds=measure_rounds, warmup=1)
    tracked = simperf.track(con)
    wall, cpu = timed(lambda: simperf.measure(lambda: tracked.execute(sql).fetchall()))
    (record,) = simperf.records
    assert record.rows_scanned, "the profiler saw no rows: measure() did not monitor"
    calls = measure_rounds + 1
    return {
        "wall": wall / calls,
        "cpu": cpu / calls,
        "sample_wall": statistics.median(record.samples_s),
        "sample_cpu": statistics.median(record.cpu_s),
        "peak_alloc_mb": record.peak_alloc_mb,
    }


def summarise(runs: list[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    bare_wall = statistics.median(r["bare"]["wall"] for r in runs)
    bare_cpu = statistics.median(r["bare"]["cpu"] for r in runs)
    out["bare"] = {"median_wall_s": bare_wall, "median_cpu_s": bare_cpu}
    for mode in MODES[1:]:
        walls = [r[mode]["wall"] for r in runs]
        cpus = [r[mode]["cpu"] for r in runs]
        entry = {
            "median_wall_s": statistics.median(walls),
            "median_cpu_s": statistics.median(cpus),
            "wall_ratio": statistics.median(walls) / bare_wall,
            "cpu_ratio": statistics.median(cpus) / bare_cpu,
            "paired_wall_ratio": statistics.median(
                r[mode]["wall"] / r["bare"]["wall"] for r in runs
            ),
            "paired_cpu_ratio": statistics.median(r[mode]["cpu"] / r["bare"]["cpu"] for r in runs),
            "extra_ms": 1000 * (statistics.median(walls) - bare_wall),
        }
        if mode == "measure":
            entry["sample_wall_ratio"] = (
                statistics.median(r[mode]["sample_wall"] for r in runs) / bare_wall
            )
            entry["sample_cpu_ratio"] = (
                statistics.median(r[mode]["sample_cpu"] for r in runs) / bare_cpu
            )
        out[mode] = entry
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--out", type=Path, default=None, help="results JSON path")
    args = ap.parse_args()
    reps = {"0.2s": 7, "2s": 3} if args.quick else {"0.2s": 31, "2s": 15}
    measure_rounds = 3
    out_path = args.out or RESULTS / (
        "bench_monitoring_overhead_quick.json" if args.quick else "bench_monitoring_overhead.json"
    )
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    load_start = load()
    t_start = time.perf_counter()
    exact = default_memory_reader()
    print(
        f"bench_monitoring_overhead ({'quick' if args.quick else 'full'}), load average"
        f" {load_start}; memory reader {type(exact).__name__}"
        f" (kernel high-water mark: {LinuxMemoryReader.available()})"
    )
    con = duckdb.connect(":memory:")
    for statement in BUILD:
        con.execute(statement)

    results: dict[str, Any] = {}
    for name, sql in WORKLOADS.items():
        con.execute(sql).fetchall()  # warm the buffer pool and the plan
        runs: list[dict[str, dict[str, Any]]] = []
        for rep in range(reps[name]):
            order = MODES[rep % len(MODES) :] + MODES[: rep % len(MODES)]
            runs.append({mode: run_mode(mode, con, sql, measure_rounds, exact) for mode in order})
        results[name] = {"reps": reps[name], "summary": summarise(runs), "runs": runs}
        print(f"  {name}: {reps[name]} repetitions done, load average {load()}", flush=True)

    print(
        f"\n{'workload':8s} {'mode':14s} {'bare ms':>8s} {'mon. ms':>8s} {'extra ms':>9s}"
        f" {'wall ratio':>10s} {'paired':>7s} {'cpu ratio':>9s} {'paired':>7s}"
    )
    for name, res in results.items():
        s = res["summary"]
        for mode in MODES[1:]:
            e = s[mode]
            print(
                f"{name:8s} {mode:14s} {1000 * s['bare']['median_wall_s']:8.1f}"
                f" {1000 * e['median_wall_s']:8.1f} {e['extra_ms']:9.1f} {e['wall_ratio']:10.3f}"
                f" {e['paired_wall_ratio']:7.3f} {e['cpu_ratio']:9.3f} {e['paired_cpu_ratio']:7.3f}"
            )
        m = s["measure"]
        print(
            f"{name:8s} {'measure samples':14s} (median of measure()'s own rounds ÷ bare): wall"
            f" {m['sample_wall_ratio']:.3f}, cpu {m['sample_cpu_ratio']:.3f}"
        )
    worst = max(
        max(res["summary"][m]["wall_ratio"], res["summary"][m]["paired_wall_ratio"])
        for res in results.values()
        for m in MODES[1:]
    )
    met = worst < TARGET
    elapsed = time.perf_counter() - t_start
    print(
        f"\nworst wall ratio {worst:.3f}: target < {TARGET} {'met' if met else 'MISSED'};"
        f" elapsed {elapsed:.0f} s, load average at end {load()}"
    )
    payload = {
        "benchmark": "bench_monitoring_overhead",
        "command": "python benchmarks/bench_monitoring_overhead.py"
        + (" --quick" if args.quick else ""),
        "started_at": started,
        "elapsed_s": elapsed,
        "load_average_start": load_start,
        "load_average_end": load(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "git": git_state(),
        "memory_reader": type(exact).__name__,
        "measure_rounds": measure_rounds,
        "target_ratio": TARGET,
        "worst_wall_ratio": worst,
        "target_met": met,
        "workloads": results,
    }
    write_results(out_path, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
