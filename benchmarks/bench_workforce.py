"""Speed and memory of the synthetic workforce (issue 3), against its targets.

Targets on the project's 2-core machine: 100K employees × 5 years, all three tables, ≤ 1 s;
1M × 5 ≤ 10 s; a fresh isolated copy at 100K ≤ 0.3 s; the SQL census ≥ 100× faster than a
per-row Python generator of the same census; peak RSS of 1M × 5 reported (and bounded).

All timed cases run interleaved, round after round, so a change in the machine's load hits each
of them alike; every figure is a median. Peak RSS is measured in a fresh child process per size.
The Python side is :mod:`pytest_simperf.workforce.reference`, which produces the very same rows
(the tests prove it), timed twice: rows only, and rows handed to DuckDB through a CSV file, the
way per-row census scripts deliver their output.

    .venv/bin/python benchmarks/bench_workforce.py            # about 2-3 minutes
    .venv/bin/python benchmarks/bench_workforce.py --quick    # smaller and fewer rounds

Writes ``benchmarks/results/workforce.json`` (``workforce_quick.json`` with --quick).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from pytest_simperf.workforce import WorkforceCache, WorkforceSpec, build_database, build_workforce
from pytest_simperf.workforce.generate import TABLES, census_sql
from pytest_simperf.workforce.reference import census_rows
from pytest_simperf.workforce.spec import estimate_bytes, expected_rows

RESULTS = Path(__file__).parent / "results"


def rows_in(con) -> dict[str, int]:
    return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def digest(con) -> str:
    h = hashlib.sha256()
    for table in TABLES:
        h.update(repr(con.execute(f"SELECT * FROM {table}").fetchall()).encode())
    return h.hexdigest()


def case_build(employees: int, years: int = 5) -> Callable[[], dict]:
    def run() -> dict:
        con = duckdb.connect()
        started = time.perf_counter()
        build_workforce(con, WorkforceSpec(employees, years=years))
        seconds = time.perf_counter() - started
        counts = rows_in(con)
        con.close()
        return {"seconds": seconds, "rows": sum(counts.values()), "tables": counts}

    return run


def case_build_file(employees: int, folder: Path) -> Callable[[], dict]:
    def run() -> dict:
        path = folder / f"build-{employees}.duckdb"
        started = time.perf_counter()
        build_database(WorkforceSpec(employees), path)
        seconds = time.perf_counter() - started
        size = path.stat().st_size
        path.unlink()
        return {"seconds": seconds, "bytes": size}

    return run


def case_copy(cache: WorkforceCache, spec: WorkforceSpec, folder: Path) -> Callable[[], dict]:
    cache.get(spec)  # built before timing: the copy is what each test pays

    def run() -> dict:
        started = time.perf_counter()
        workforce = cache.open_copy(spec, folder)
        workforce.con.execute("SELECT count(*) FROM census").fetchall()
        seconds = time.perf_counter() - started
        workforce.close()
        workforce.path.unlink()
        return {"seconds": seconds}

    return run


def case_sql_census(employees: int) -> Callable[[], dict]:
    spec = WorkforceSpec(employees)
    leavers = expected_rows(spec)["census"] - employees

    def run() -> dict:
        con = duckdb.connect()
        started = time.perf_counter()
        con.execute(
            f"CREATE TABLE census AS SELECT * EXCLUDE (n) FROM ({census_sql(spec, leavers)})"
        )
        seconds = time.perf_counter() - started
        con.close()
        return {"seconds": seconds}

    return run


def case_python_census(employees: int, folder: Path, *, load: bool) -> Callable[[], dict]:
    spec = WorkforceSpec(employees)

    def run() -> dict:
        started = time.perf_counter()
        rows = list(census_rows(spec))
        generated = time.perf_counter() - started
        if load:
            path = folder / "census.csv"
            with path.open("w", newline="") as handle:
                csv.writer(handle).writerows(rows)
            con = duckdb.connect()
            con.execute(f"CREATE TABLE census AS SELECT * FROM read_csv('{path}', header = false)")
            con.close()
            path.unlink()
        return {"seconds": time.perf_counter() - started, "generate_seconds": generated}

    return run


def case_range(rows: int) -> Callable[[], dict]:
    def run() -> dict:
        con = duckdb.connect()
        started = time.perf_counter()
        con.execute(f"CREATE TABLE t AS SELECT range AS n FROM range({rows})")
        seconds = time.perf_counter() - started
        con.close()
        return {"seconds": seconds, "rows": rows}

    return run


def high_water_kib() -> int:
    """Peak RSS of this process so far. VmHWM, not ru_maxrss: on Linux a child's ru_maxrss
    starts at its parent's RSS at fork time, which would hide the build's own peak."""
    with Path("/proc/self/status").open() as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # pragma: no cover - not Linux


def child_rss(employees: int, years: int, memory_limit: str = "") -> dict:
    """Run in a fresh process: build in memory, report time and peak RSS.

    With ``memory_limit``, DuckDB spills to a temporary directory beyond it, which bounds RSS.
    """
    spec = WorkforceSpec(employees, years=years)
    con = duckdb.connect()
    if memory_limit:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        con.execute(f"SET temp_directory = '{tempfile.mkdtemp(prefix='bench-spill-')}'")
    before = high_water_kib()
    started = time.perf_counter()
    build_workforce(con, spec)
    seconds = time.perf_counter() - started
    peak = high_water_kib()
    counts = rows_in(con)
    return {
        "employees": employees,
        "years": years,
        "memory_limit": memory_limit or None,
        "seconds": seconds,
        "rss_before_mb": before / 1024,
        "peak_rss_mb": peak / 1024,
        "estimate_mb": estimate_bytes(spec) / 2**20,
        "rows": counts,
        "bytes_per_row": (peak - before) * 1024 / sum(counts.values()),
    }


def measure_rss(employees: int, years: int = 5, memory_limit: str = "") -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child-rss", str(employees), str(years), memory_limit],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)


def determinism(employees: int) -> dict:
    digests = {}
    for threads in (1, 2):
        con = duckdb.connect()
        con.execute(f"SET threads = {threads}")
        build_workforce(con, WorkforceSpec(employees))
        digests[threads] = digest(con)
        con.close()
    return {"employees": employees, "threads_1": digests[1], "threads_2": digests[2],
            "identical": digests[1] == digests[2]}  # fmt: skip


def median_of(samples: list[dict], key: str = "seconds") -> float:
    return statistics.median(s[key] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, fewer rounds")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--child-rss", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        employees, years, limit = args.child_rss
        print(json.dumps(child_rss(int(employees), int(years), limit)))
        return

    big = 200_000 if args.quick else 1_000_000
    rounds = args.rounds or (3 if args.quick else 5)
    load_start = os.getloadavg()
    folder = Path(tempfile.mkdtemp(prefix="bench-workforce-"))
    cache = WorkforceCache(folder / "cache")
    cases: dict[str, Callable[[], dict]] = {
        "build_100k_x5": case_build(100_000),
        f"build_{big // 1000}k_x5": case_build(big),
        "build_file_100k_x5": case_build_file(100_000, folder),
        "copy_100k": case_copy(cache, WorkforceSpec(100_000), folder / "copies"),
        "census_sql_100k": case_sql_census(100_000),
        "census_python_100k": case_python_census(100_000, folder, load=False),
        "census_python_csv_100k": case_python_census(100_000, folder, load=True),
        f"census_sql_{big // 1000}k": case_sql_census(big),
        f"census_python_{big // 1000}k": case_python_census(big, folder, load=False),
        "range_10m": case_range(10_000_000),
    }
    # The big build and the slow Python census get fewer rounds; everything stays interleaved.
    sparse = {
        f"build_{big // 1000}k_x5",
        "census_python_100k",
        "census_python_csv_100k",
        f"census_python_{big // 1000}k",
    }
    samples: dict[str, list[dict]] = {name: [] for name in cases}
    for round_ in range(rounds):
        for name, run in cases.items():
            if name in sparse and round_ >= 3:
                continue
            cpu = time.process_time()
            sample = run()
            sample["cpu"] = time.process_time() - cpu  # all threads; wall is what users wait
            samples[name].append(sample)
        print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)

    med = {name: median_of(s) for name, s in samples.items()}
    build_rows = samples["build_100k_x5"][0]["rows"]
    results = {
        "command": "python benchmarks/bench_workforce.py" + (" --quick" if args.quick else ""),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "duckdb": duckdb.__version__,
            "platform": platform.platform(),
            "load_average_start": [round(x, 2) for x in load_start],
            "load_average_end": [round(x, 2) for x in os.getloadavg()],
        },
        "rounds": rounds,
        "cases": {
            name: {
                "median_s": round(med[name], 4),
                "median_cpu_s": round(median_of(samples[name], "cpu"), 4),
                "samples_s": [round(s["seconds"], 4) for s in samples[name]],
            }
            for name in cases
        },
        "build_100k_x5_rows": samples["build_100k_x5"][0]["tables"],
        f"build_{big // 1000}k_x5_rows": samples[f"build_{big // 1000}k_x5"][0]["tables"],
        "build_100k_x5_rows_per_s": round(build_rows / med["build_100k_x5"]),
        "range_rows_per_s": round(10_000_000 / med["range_10m"]),
        "file_100k_bytes": samples["build_file_100k_x5"][0]["bytes"],
        "census_ratio_generate_only": round(med["census_python_100k"] / med["census_sql_100k"], 1),
        "census_ratio_into_duckdb": round(
            med["census_python_csv_100k"] / med["census_sql_100k"], 1
        ),
        f"census_ratio_generate_only_{big // 1000}k": round(
            med[f"census_python_{big // 1000}k"] / med[f"census_sql_{big // 1000}k"], 1
        ),
        "memory": [measure_rss(100_000), measure_rss(big), measure_rss(big, memory_limit="600MB")],
        "determinism_threads_1_vs_2": determinism(100_000),
    }
    targets = {
        "build_100k_x5 <= 1 s": med["build_100k_x5"] <= 1.0,
        "copy_100k <= 0.3 s": med["copy_100k"] <= 0.3,
        "census_ratio_into_duckdb >= 100": results["census_ratio_into_duckdb"] >= 100,
        "census_ratio_generate_only >= 100": results["census_ratio_generate_only"] >= 100,
        f"census_ratio_generate_only_{big // 1000}k >= 100": results[
            f"census_ratio_generate_only_{big // 1000}k"
        ]
        >= 100,
    }
    if big == 1_000_000:
        targets["build_1000k_x5 <= 10 s"] = med["build_1000k_x5"] <= 10.0
    results["targets_met"] = targets

    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / ("workforce_quick.json" if args.quick else "workforce.json")
    out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")

    print(f"\n{'case':28} {'median':>10} {'cpu':>9}  samples")
    for name in cases:
        cpu = median_of(samples[name], "cpu")
        runs = [round(s["seconds"], 3) for s in samples[name]]
        print(f"{name:28} {med[name]:9.3f}s {cpu:8.3f}s  {runs}")
    print(f"\nrows/s (100K x 5, all tables): {results['build_100k_x5_rows_per_s']:,}"
          f"   bare range(): {results['range_rows_per_s']:,}")  # fmt: skip
    big_ratio = results[f"census_ratio_generate_only_{big // 1000}k"]
    print(f"census, Python per row / SQL at 100K: {results['census_ratio_generate_only']}x "
          f"(rows only), {results['census_ratio_into_duckdb']}x (into DuckDB via CSV); at "
          f"{big:,}: {big_ratio}x (rows only)")  # fmt: skip
    for mem in results["memory"]:
        limit = f" (memory_limit {mem['memory_limit']})" if mem["memory_limit"] else ""
        print(f"peak RSS {mem['employees']:,} x {mem['years']}{limit}: {mem['peak_rss_mb']:.0f} MB "
              f"(estimate {mem['estimate_mb']:.0f} MB, {mem['bytes_per_row']:.0f} B/row), "
              f"{mem['seconds']:.2f} s")  # fmt: skip
    print(f"threads 1 vs 2 identical: {results['determinism_threads_1_vs_2']['identical']}")
    for target, met in targets.items():
        print(f"{'met ' if met else 'MISS'} {target}")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
