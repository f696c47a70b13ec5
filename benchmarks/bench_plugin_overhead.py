"""What the plugin itself costs (issue 2): an ordinary suite, a perf test, and the import.

(a) **Suite overhead.** A generated suite of 200 trivial tests and 5 small DuckDB tests runs in
    fresh pytest processes with the plugin installed and ``--simperf`` off, and with the plugin
    absent (``-p no:simperf``), in interleaved pairs (ABBA order). Reported: the median session
    wall time of each and the median of per-pair ratios. Target ≤ 1.02. The same is done with
    plugin autoloading off (``PYTEST_DISABLE_PLUGIN_AUTOLOAD=1``), our plugin alone
    (``-p pytest_simperf.plugin``) against bare pytest, so the other plugins installed in this
    environment (hypothesis, xdist, pytest-benchmark) do not dilute the ratio.
(b) **Per-test cost.** A generated suite alternates 10 perf tests (``simperf.measure`` of a
    ~20 ms DuckDB query: 1 warm-up + 7 rounds) with 10 control tests that run the same query
    8 times by hand. Each call of the query is timed inside the user's function; a conftest
    records every test's setup + call + teardown duration. The plugin's cost per test is
    (perf test's duration − its query time) − (control test's duration − its query time), the
    median over pairs; the session's first perf test, which runs the machine calibration, is
    reported separately. Scenarios, interleaved: no baseline with calibration on, no baseline
    with calibration off, and against a recorded baseline (the real gate: verdicts and any
    confirmation reruns). Target ≤ 50 ms.
(c) **Import.** ``python -X importtime`` of ``pytest_simperf.plugin`` (pytest already imported),
    the import of everything the plugin loads at pytest start-up, and a check that neither
    imports duckdb or dbt.

(d) **Start-up against pytest-benchmark** (``--part startup``, issue 15). The same 205-test
    suite with autoloading off, in rotating order: bare pytest, ``-p pytest_simperf.plugin``,
    ``-p pytest_benchmark.plugin``; per-round ratios to bare pytest, with bytecode caching on
    (a private ``PYTHONPYCACHEPREFIX``, warmed) and off (``PYTHONDONTWRITEBYTECODE=1``).
(e) **Plain pytest on a perf suite** (``--part perf-once``, issue 15). ``pytest tests/perf`` of
    this repository without ``--simperf``: each perf test run once, unmeasured (the default),
    against ``--simperf-skip``, interleaved, wall time of the whole process.

    .venv/bin/python benchmarks/bench_plugin_overhead.py            # full, about 6 minutes
    .venv/bin/python benchmarks/bench_plugin_overhead.py --quick    # about 1.5 minutes
    .venv/bin/python benchmarks/bench_plugin_overhead.py --part startup --rounds 15
    .venv/bin/python benchmarks/bench_plugin_overhead.py --part perf-once --rounds 3
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
SUITE_TARGET = 1.02
PER_TEST_TARGET_MS = 50.0


from _common import git_state, load, write_results  # noqa: E402  (benchmarks/ is on sys.path when run)


def pytest_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args]


# ----------------------------------------------------------------------------- (a) suite


def write_ordinary_suite(root: Path) -> None:
    """200 trivial tests in 10 modules, plus 5 DuckDB tests; no perf test among them."""
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    for m in range(10):
        lines = ["import pytest", ""]
        for t in range(14):
            lines += [f"def test_plain_{t}():", f"    assert {t} + {m} == {t + m}", ""]
        lines += [
            "@pytest.fixture",
            "def payload():",
            "    return {'a': 1, 'b': [1, 2, 3]}",
            "",
            "@pytest.mark.parametrize('x', range(4))",
            "def test_param(x, payload):",
            "    assert x in range(4) and payload['a'] == 1",
            "",
            "class TestGroup:",
            "    def test_one(self):",
            "        assert 'x'.upper() == 'X'",
            "",
            "    def test_two(self, tmp_path):",
            "        (tmp_path / 'f').write_text('x')",
            "        assert (tmp_path / 'f').read_text() == 'x'",
            "",
        ]
        (root / f"test_ordinary_{m}.py").write_text("\n".join(lines), encoding="utf-8")
    (root / "test_duckdb_small.py").write_text(
        textwrap.dedent(
            """
            import duckdb
            import pytest


            @pytest.fixture
            def con():
                c = duckdb.connect()
                c.execute("CREATE TABLE t AS SELECT range AS i FROM range(100000)")
                yield c
                c.close()


            @pytest.mark.parametrize("k", [2, 3, 5, 7, 11])
            def test_count(con, k):
                n = con.execute("SELECT count(*) FROM t WHERE i % ? = 0", [k]).fetchone()[0]
                assert n == len(range(0, 100000, k))
            """
        ),
        encoding="utf-8",
    )


def run_ordinary_suite(root: Path, cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one pytest run of the ordinary suite in ``root``; it must pass whole."""
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or "205 passed" not in proc.stdout:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])
    return wall


def suite_overhead(pairs: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="simperf-overhead-suite-"))
    try:
        write_ordinary_suite(root)
        env_iso = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        configs = {
            "autoload": {
                "with": (pytest_cmd(), os.environ.copy()),
                "without": (pytest_cmd("-p", "no:simperf"), os.environ.copy()),
            },
            "isolated": {
                "with": (pytest_cmd("-p", "pytest_simperf.plugin"), env_iso),
                "without": (pytest_cmd(), env_iso),
            },
        }
        # Sanity: the plugin really is absent/present in each arm.
        absent = subprocess.run(
            [*configs["autoload"]["without"][0], "--simperf"], cwd=root, capture_output=True
        )
        present = subprocess.run(
            [*configs["isolated"]["with"][0], "--co", "--simperf"],
            cwd=root,
            env=env_iso,
            capture_output=True,
        )
        assert absent.returncode == 4, "-p no:simperf did not remove the plugin"
        assert present.returncode == 0, present.stdout.decode() + present.stderr.decode()

        results: dict[str, Any] = {}
        samples: dict[str, dict[str, list[float]]] = {
            c: {"with": [], "without": []} for c in configs
        }
        for c in configs:  # one warm-up pair per config (file cache, .pyc)
            for arm in ("with", "without"):
                run_ordinary_suite(root, *configs[c][arm])
        for i in range(pairs):
            for c, arms in configs.items():
                order = ("with", "without") if i % 2 == 0 else ("without", "with")
                for arm in order:
                    samples[c][arm].append(run_ordinary_suite(root, *arms[arm]))
            if (i + 1) % 5 == 0:
                print(f"  suite pairs {i + 1}/{pairs}, load average {load()}", flush=True)
        for c, s in samples.items():
            ratios = [a / b for a, b in zip(s["with"], s["without"], strict=True)]
            results[c] = {
                "pairs": pairs,
                "median_with_s": statistics.median(s["with"]),
                "median_without_s": statistics.median(s["without"]),
                "ratio_of_medians": statistics.median(s["with"]) / statistics.median(s["without"]),
                "median_paired_ratio": statistics.median(ratios),
                "paired_ratio_quartiles": statistics.quantiles(ratios, n=4),
                "extra_ms": 1000 * (statistics.median(s["with"]) - statistics.median(s["without"])),
                "samples_with_s": s["with"],
                "samples_without_s": s["without"],
            }
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------------------- (b) per test

COST_CONFTEST = '''
import json
import os

import duckdb
import pytest

QUERY = """
SELECT department_id, count(*), sum(salary), avg(salary)
FROM employees GROUP BY ALL ORDER BY ALL
"""


@pytest.fixture(scope="session")
def warehouse():
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute(
        "CREATE TABLE employees AS SELECT i AS employee_id, (i % 40)::INTEGER AS department_id,"
        " (40000 + hash(i) % 120000)::BIGINT AS salary FROM range(ROWS) t(i)"
    )
    yield con
    con.close()


def make_work(con, calls):
    import time

    def work():
        t0 = time.perf_counter()
        rows = con.execute(QUERY).fetchall()
        calls.append(time.perf_counter() - t0)
        return rows

    return work


_STATE = {}


def pytest_runtest_logreport(report):
    entry = _STATE.setdefault(report.nodeid, {"nodeid": report.nodeid})
    entry[report.when] = report.duration
    for key, value in report.user_properties:
        entry[key] = value
    if report.when == "teardown":
        with open(os.environ["BENCH_OUT"], "a", encoding="utf-8") as fh:
            fh.write(json.dumps(_STATE.pop(report.nodeid)) + "\\n")
'''

COST_TEST_PERF = """
def test_perf_{i:02d}(simperf, warehouse, record_property):
    calls = []
    con = simperf.track(warehouse.cursor())
    simperf.measure(make_work(con, calls))
    record_property("user_s", sum(calls))
    record_property("calls", len(calls))

"""
COST_TEST_CONTROL = """
def test_control_{i:02d}(warehouse, record_property):
    calls = []
    con = warehouse.cursor()
    work = make_work(con, calls)
    for _ in range(8):
        work()
    record_property("user_s", sum(calls))
    record_property("calls", len(calls))

"""


def size_rows(target_s: float) -> int:
    """Rows that make the cost suite's query take about ``target_s`` here (single thread)."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 1")
    rows = 1_000_000
    con.execute(
        "CREATE TABLE employees AS SELECT i AS employee_id, (i % 40)::INTEGER AS department_id,"
        f" (40000 + hash(i) % 120000)::BIGINT AS salary FROM range({rows}) t(i)"
    )
    query = "SELECT department_id, count(*), sum(salary), avg(salary) FROM employees GROUP BY ALL"
    con.execute(query).fetchall()
    times = []
    for _ in range(9):
        t0 = time.perf_counter()
        con.execute(query).fetchall()
        times.append(time.perf_counter() - t0)
    con.close()
    return max(100_000, round(rows * target_s / statistics.median(times)))


def per_test_cost(sessions: int, rows: int) -> dict[str, Any]:
    root = Path(tempfile.mkdtemp(prefix="simperf-overhead-pertest-"))
    try:
        (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (root / "conftest.py").write_text(
            COST_CONFTEST.replace("ROWS", str(rows)), encoding="utf-8"
        )
        # The session-scoped warehouse is built by a first test of its own, so that its build is
        # not charged to the first perf test (whose extra is the plugin's one-off per session).
        body = "from conftest import make_work\n\n\ndef test_000_build(warehouse):\n    pass\n\n"
        for i in range(10):
            body += COST_TEST_PERF.format(i=i) + COST_TEST_CONTROL.format(i=i)
        (root / "test_cost.py").write_text(body, encoding="utf-8")
        base = ["--simperf-history=off"]
        scenarios = {
            "new, calibration on": ["--simperf", *base],
            "new, calibration off": ["--simperf", "--simperf-calibration=off", *base],
            "vs baseline, calibration on": [
                "--simperf",
                "--simperf-baseline-dir=recorded",
                *base,
            ],
        }
        rec = subprocess.run(
            pytest_cmd("--simperf-update-baseline", "--simperf-baseline-dir=recorded", *base),
            cwd=root,
            env=dict(os.environ, BENCH_OUT=str(root / "record.jsonl")),
            capture_output=True,
            text=True,
        )
        if rec.returncode != 0:
            raise RuntimeError(rec.stdout[-3000:] + rec.stderr[-2000:])
        rows_by: dict[str, list[list[dict[str, Any]]]] = {s: [] for s in scenarios}
        walls: dict[str, list[float]] = {s: [] for s in scenarios}
        for k in range(sessions):
            names = list(scenarios)
            names = names[k % len(names) :] + names[: k % len(names)]
            for name in names:
                out = root / f"out_{len(walls[name])}_{names.index(name)}_{k}.jsonl"
                env = dict(os.environ, BENCH_OUT=str(out))
                t0 = time.perf_counter()
                proc = subprocess.run(
                    pytest_cmd(*scenarios[name]), cwd=root, env=env, capture_output=True, text=True
                )
                walls[name].append(time.perf_counter() - t0)
                if proc.returncode != 0:
                    raise RuntimeError(proc.stdout[-3000:] + proc.stderr[-2000:])
                rows_by[name].append(
                    [json.loads(line) for line in out.read_text().splitlines() if line]
                )
            print(f"  per-test sessions {k + 1}/{sessions}, load average {load()}", flush=True)

        def overhead(entry: dict[str, Any]) -> float:
            total = entry.get("setup", 0.0) + entry.get("call", 0.0) + entry.get("teardown", 0.0)
            return float(total - entry["user_s"])

        results: dict[str, Any] = {}
        for name, per_session in rows_by.items():
            extra_ms: list[float] = []
            first_extra_ms: list[float] = []
            perf_over: list[float] = []
            ctrl_over: list[float] = []
            user_ms: list[float] = []
            calls: list[int] = []
            for tests in per_session:
                perf = [t for t in tests if "test_perf_" in t["nodeid"]]
                ctrl = [t for t in tests if "test_control_" in t["nodeid"]]
                for j, (p, c) in enumerate(zip(perf, ctrl, strict=True)):
                    extra = 1000 * (overhead(p) - overhead(c))
                    (first_extra_ms if j == 0 else extra_ms).append(extra)
                    perf_over.append(1000 * overhead(p))
                    ctrl_over.append(1000 * overhead(c))
                    user_ms.append(1000 * p["user_s"] / p["calls"])
                    calls.append(int(p["calls"]))
            median_extra = statistics.median(extra_ms)
            results[name] = {
                "sessions": len(per_session),
                "median_extra_ms_per_test": median_extra,
                "extra_ms_quartiles": statistics.quantiles(extra_ms, n=4),
                "median_first_test_extra_ms": statistics.median(first_extra_ms),
                "first_test_one_off_ms": statistics.median(first_extra_ms) - median_extra,
                "median_perf_overhead_ms": statistics.median(perf_over),
                "median_control_overhead_ms": statistics.median(ctrl_over),
                "median_query_ms": statistics.median(user_ms),
                "query_calls_per_perf_test": dict(
                    sorted((str(n), calls.count(n)) for n in set(calls))
                ),
                "median_session_wall_s": statistics.median(walls[name]),
            }
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


def calibration_cost(reps: int) -> dict[str, Any]:
    """The session's one-off calibration, timed directly (in this process, after a first run)."""
    from pytest_simperf.calibration import run_calibration

    run_calibration()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        run_calibration()
        times.append(time.perf_counter() - t0)
    return {"reps": reps, "median_ms": 1000 * statistics.median(times)}


# ----------------------------------------------------------------------------- (c) import

_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def _importtime(
    cmd: list[str], env: dict[str, str] | None = None
) -> list[tuple[int, int, int, str]]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    rows = []
    for line in proc.stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if m:
            rows.append((int(m[1]), int(m[2]), len(m[3]), m[4]))
    return rows


def import_cost(reps: int) -> dict[str, Any]:
    py = sys.executable
    plugin_ms: list[float] = []
    startup_ms: list[float] = []
    heavy: set[str] = set()
    simperf_modules: set[str] = set()
    empty = Path(tempfile.mkdtemp(prefix="simperf-overhead-empty-"))
    try:
        (empty / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        (empty / "test_nothing.py").write_text("def test_x():\n    pass\n", encoding="utf-8")
        env_iso = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
        for _ in range(reps):
            rows = _importtime(
                [py, "-X", "importtime", "-c", "import pytest, pytest_simperf.plugin"]
            )
            plugin_ms += [cum / 1000 for _, cum, _, name in rows if name == "pytest_simperf.plugin"]
            # Everything imported while pytest starts with only our plugin, the way a project
            # that never runs a perf test pays for it (`pytest --co`).
            rows = _importtime(
                [
                    py,
                    "-X",
                    "importtime",
                    "-m",
                    "pytest",
                    "--co",
                    "-q",
                    "-p",
                    "pytest_simperf.plugin",
                    "-p",
                    "no:cacheprovider",
                    str(empty),
                ],
                env_iso,
            )
            total = 0
            for _self_us, cum, depth, name in rows:
                if name.startswith("pytest_simperf"):
                    simperf_modules.add(name)
                    if depth == 1:  # not nested in another import
                        total += cum
                if name.split(".")[0] in ("duckdb", "dbt", "psutil", "numpy", "pandas"):
                    heavy.add(name)
            startup_ms.append(total / 1000)
    finally:
        shutil.rmtree(empty, ignore_errors=True)
    return {
        "reps": reps,
        "plugin_module_median_ms": statistics.median(plugin_ms),
        "plugin_at_pytest_startup_median_ms": statistics.median(startup_ms),
        "simperf_modules_imported_at_startup": sorted(simperf_modules),
        "heavy_modules_imported_at_startup": sorted(heavy),
        "imports_duckdb_or_dbt": any(m.split(".")[0] in ("duckdb", "dbt") for m in heavy),
    }


# ----------------------------------------------------------------------------- (d) startup


def _quartiles(values: list[float]) -> list[float]:
    return statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3


def startup_vs_benchmark(rounds: int) -> dict[str, Any]:
    """Our plugin's start-up cost with --simperf off against pytest-benchmark's, both alone
    (autoload off) on the same ordinary suite, with and without a bytecode cache."""
    root = Path(tempfile.mkdtemp(prefix="simperf-startup-"))
    try:
        write_ordinary_suite(root)
        arms = {
            "bare": pytest_cmd(),
            "simperf": pytest_cmd("-p", "pytest_simperf.plugin"),
            "benchmark": pytest_cmd("-p", "pytest_benchmark.plugin"),
        }
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        base["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
        conditions = {
            "bytecode cache": dict(base, PYTHONPYCACHEPREFIX=str(root / "pyc")),
            "no bytecode cache": dict(base, PYTHONDONTWRITEBYTECODE="1"),
        }

        results: dict[str, Any] = {}
        names = list(arms)
        samples: dict[str, dict[str, list[float]]] = {c: {a: [] for a in arms} for c in conditions}
        for env in conditions.values():
            for cmd in arms.values():
                # warm-up: file cache and, with a cache, the .pyc files
                run_ordinary_suite(root, cmd, env)
        for i in range(rounds):
            for c, env in conditions.items():
                order = names[i % 3 :] + names[: i % 3]
                for arm in order if i % 2 == 0 else reversed(order):
                    samples[c][arm].append(run_ordinary_suite(root, arms[arm], env))
            if (i + 1) % 5 == 0:
                print(f"  startup rounds {i + 1}/{rounds}, load average {load()}", flush=True)
        for c, s in samples.items():
            entry: dict[str, Any] = {"rounds": rounds}
            for arm in names:
                entry[f"median_{arm}_s"] = statistics.median(s[arm])
                entry[f"samples_{arm}_s"] = s[arm]
            for arm, ref in (("simperf", "bare"), ("benchmark", "bare"), ("simperf", "benchmark")):
                ratios = [a / b for a, b in zip(s[arm], s[ref], strict=True)]
                extra = [1000 * (a - b) for a, b in zip(s[arm], s[ref], strict=True)]
                entry[f"{arm}_vs_{ref}"] = {
                    "median_paired_ratio": statistics.median(ratios),
                    "paired_ratio_quartiles": _quartiles(ratios),
                    "median_paired_extra_ms": statistics.median(extra),
                }
            results[c] = entry
        return results
    finally:
        shutil.rmtree(root, ignore_errors=True)


# ----------------------------------------------------------------------------- (e) perf once


def perf_once_cost(rounds: int) -> dict[str, Any]:
    """``pytest tests/perf`` of this repository: perf tests run once unmeasured (the default
    without --simperf) against skipped (--simperf-skip), interleaved."""
    repo = Path(__file__).resolve().parents[1]
    arms = {
        "once unmeasured": pytest_cmd("tests/perf"),
        "skipped": pytest_cmd("tests/perf", "--simperf-skip"),
    }
    samples: dict[str, list[float]] = {a: [] for a in arms}
    outcomes: dict[str, str] = {}
    for i in range(rounds):
        order = list(arms) if i % 2 == 0 else list(reversed(arms))
        for arm in order:
            t0 = time.perf_counter()
            proc = subprocess.run(arms[arm], cwd=repo, capture_output=True, text=True)
            samples[arm].append(time.perf_counter() - t0)
            tail = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
            if proc.returncode != 0:
                raise RuntimeError(f"{arm}: exit {proc.returncode}: {proc.stdout[-2000:]}")
            outcomes[arm] = tail
        print(f"  perf-once round {i + 1}/{rounds}, load average {load()}", flush=True)
    once, skipped = samples["once unmeasured"], samples["skipped"]
    return {
        "rounds": rounds,
        "median_once_s": statistics.median(once),
        "median_skipped_s": statistics.median(skipped),
        "extra_s": statistics.median(once) - statistics.median(skipped),
        "samples_once_s": once,
        "samples_skipped_s": skipped,
        "outcomes": outcomes,
    }


def run_part(part: str, rounds: int, out: Path | None) -> int:
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    load_start = load()
    no_pyc = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    print(f"bench_plugin_overhead --part {part}, load average {load_start}", flush=True)
    if part == "startup":
        data = startup_vs_benchmark(rounds)
        for condition, r in data.items():
            print(
                f"\n(d) {condition}: medians bare {r['median_bare_s']:.3f} s, simperf "
                f"{r['median_simperf_s']:.3f} s, pytest-benchmark {r['median_benchmark_s']:.3f} s"
            )
            for key in ("simperf_vs_bare", "benchmark_vs_bare", "simperf_vs_benchmark"):
                q = ", ".join(f"{x:.3f}" for x in r[key]["paired_ratio_quartiles"])
                print(
                    f"  {key:22s} ratio {r[key]['median_paired_ratio']:.3f} [{q}]"
                    f"  extra {r[key]['median_paired_extra_ms']:+.0f} ms"
                )
    else:
        data = perf_once_cost(rounds)
        print(
            f"\n(e) pytest tests/perf: once unmeasured {data['median_once_s']:.1f} s, "
            f"skipped {data['median_skipped_s']:.1f} s (medians of {rounds}); "
            f"{data['outcomes']}"
        )
    payload = {
        "benchmark": f"bench_plugin_overhead --part {part}",
        "started_at_utc": started,
        "load_average_start": load_start,
        "load_average_end": load(),
        "python": platform.python_version(),
        "pythondontwritebytecode": no_pyc,
        "git": git_state(),
        "results": data,
    }
    path = out or RESULTS / f"bench_plugin_overhead_{part}.json"
    write_results(path, payload)
    print(f"results: {path}")
    return 0


# ----------------------------------------------------------------------------- main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer pairs and sessions")
    ap.add_argument("--out", type=Path, default=None, help="results JSON path")
    ap.add_argument(
        "--part",
        choices=("startup", "perf-once"),
        default=None,
        help="only (d) start-up against pytest-benchmark, or (e) plain pytest on tests/perf",
    )
    ap.add_argument("--rounds", type=int, default=15, help="rounds for --part (default 15)")
    args = ap.parse_args()
    if args.part is not None:
        return run_part(args.part, args.rounds, args.out)
    out_path = args.out or RESULTS / (
        "bench_plugin_overhead_quick.json" if args.quick else "bench_plugin_overhead.json"
    )
    started = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    load_start = load()
    t_start = time.perf_counter()
    # Without bytecode caching every pytest start compiles our modules (and pytest re-rewrites the
    # plugin modules): the start-up cost depends on it, so it is recorded with the figures.
    no_pyc = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
    print(
        f"bench_plugin_overhead ({'quick' if args.quick else 'full'}), load average {load_start}"
        f", PYTHONDONTWRITEBYTECODE {'set' if no_pyc else 'unset'}"
    )

    imports = import_cost(reps=5 if args.quick else 15)
    print(f"  import done, load average {load()}", flush=True)
    suite = suite_overhead(pairs=6 if args.quick else 20)
    rows = size_rows(0.020)
    per_test = per_test_cost(sessions=2 if args.quick else 6, rows=rows)
    calibration = calibration_cost(reps=5 if args.quick else 15)

    print("\n(a) ordinary suite: 200 trivial + 5 DuckDB tests, fresh processes, interleaved pairs")
    print(
        f"{'config':10s} {'pairs':>5s} {'with s':>7s} {'without s':>9s} {'extra ms':>9s}"
        f" {'ratio':>6s} {'paired':>7s}  paired quartiles"
    )
    for c, r in suite.items():
        q = ", ".join(f"{x:.3f}" for x in r["paired_ratio_quartiles"])
        print(
            f"{c:10s} {r['pairs']:5d} {r['median_with_s']:7.3f} {r['median_without_s']:9.3f}"
            f" {r['extra_ms']:9.1f} {r['ratio_of_medians']:6.3f}"
            f" {r['median_paired_ratio']:7.3f}  [{q}]"
        )
    print(f"\n(b) per perf test beyond the user's rounds (query ~{rows:,} rows, 1+7 calls)")
    print(
        f"{'scenario':28s} {'sess':>4s} {'query ms':>8s} {'extra ms':>8s} {'IQR':>15s}"
        f" {'1st test +ms':>12s} {'calls':>12s}"
    )
    for name, r in per_test.items():
        iqr = f"{r['extra_ms_quartiles'][0]:.1f}..{r['extra_ms_quartiles'][2]:.1f}"
        calls = ",".join(f"{k}×{v}" for k, v in r["query_calls_per_perf_test"].items())
        print(
            f"{name:28s} {r['sessions']:4d} {r['median_query_ms']:8.1f}"
            f" {r['median_extra_ms_per_test']:8.1f} {iqr:>15s} {r['first_test_one_off_ms']:12.1f}"
            f" {calls:>12s}"
        )
    print(f"calibration run directly: median {calibration['median_ms']:.1f} ms")
    print(
        f"\n(c) import: pytest_simperf.plugin {imports['plugin_module_median_ms']:.1f} ms"
        f" (pytest already imported); all pytest_simperf modules at pytest start-up"
        f" {imports['plugin_at_pytest_startup_median_ms']:.1f} ms (a lower bound: modules that"
        f" pytest loads through its assertion-rewriting hook, plugin.py and the feature plugins,"
        f" are not logged by importtime); heavy modules imported:"
        f" {imports['heavy_modules_imported_at_startup'] or 'none'}"
    )
    targets = {
        "suite_ratio_le_1.02": suite["autoload"]["median_paired_ratio"] <= SUITE_TARGET,
        "suite_ratio_isolated_le_1.02": suite["isolated"]["median_paired_ratio"] <= SUITE_TARGET,
        "per_test_le_50ms": all(
            r["median_extra_ms_per_test"] <= PER_TEST_TARGET_MS for r in per_test.values()
        ),
        "no_duckdb_or_dbt_at_import": not imports["imports_duckdb_or_dbt"],
    }
    elapsed = time.perf_counter() - t_start
    print("\ntargets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))
    print(f"elapsed {elapsed:.0f} s, load average at end {load()}")
    payload = {
        "benchmark": "bench_plugin_overhead",
        "command": "python benchmarks/bench_plugin_overhead.py"
        + (" --quick" if args.quick else ""),
        "started_at": started,
        "elapsed_s": elapsed,
        "load_average_start": load_start,
        "load_average_end": load(),
        "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
        "python_dont_write_bytecode": no_pyc,
        "git": git_state(),
        "suite": suite,
        "per_test": {"query_rows": rows, "scenarios": per_test, "calibration": calibration},
        "import": imports,
        "targets": targets,
    }
    write_results(out_path, payload)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
