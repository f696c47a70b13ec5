"""Throw generated bad input at the plugin and the ``simperf`` command; check the contract.

The contract (issue 16, "Bad input gets a clear error and loses nothing" in PRODUCT.md):

* exit status 0, 1, or a usage error — pytest's 4, the command's 2 — whose error line names
  the option, ini key, marker, test, file or argument it is about;
* never a traceback (``Traceback (most recent call last)``, ``INTERNALERROR``);
* never a hang: every case runs under a time bound (``--timeout``);
* never a changed file that should not change: a baseline file is untouched by a run that does
  not update, and is either untouched or still loadable after one that does; a history file is
  untouched by the read-only commands; a failed ``dashboard``/``generate`` leaves no output;
  ``import-benchmark`` writes nothing outside ``baselines/``.

Families of cases, each generated from one seed: ``marker`` (``sla``/``simperf`` arguments),
``option`` (command-line values), ``ini`` (``[pytest]`` and ``[tool.simperf.sla]`` values),
``baseline`` (a recorded baseline file with one value replaced, or cut short), ``record``
(``simperf.record`` arguments under ``--simperf-update-baseline``), ``cli`` (arguments of every
``simperf`` subcommand, damaged histories, hostile saved runs). Every case is a fresh process.

    python benchmarks/fuzz_inputs.py                       # 300 cases, seed 16
    python benchmarks/fuzz_inputs.py --cases 60 --seed 3   # a quick look
    python benchmarks/fuzz_inputs.py --family baseline     # one family

Writes benchmarks/results/fuzz_inputs.json: cases tried and failures per family, and each
failure with what reproduces it.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, git_state, load, write_results

sys.path.insert(0, str(ROOT))  # the checks load baselines with the code under test

QUIET = ["-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--simperf-calibration=off"]
# Values that have broken parsers before: out of range, wrong type, non-finite, huge, empty.
NASTY_NUMBERS: list[Any] = [
    0,
    -1,
    1,
    7,
    0.5,
    -0.0,
    1e-12,
    1e308,
    10**12,
    2**63,
    10**400,
    -(10**400),
    float("nan"),
    float("inf"),
    float("-inf"),
    True,
    None,
]
NASTY_TEXT: list[str] = [
    "",
    " ",
    "0",
    "-1",
    "1e999",
    "inf",
    "nan",
    "NaN",
    "9" * 40,
    "9" * 5000,
    "1_000",
    "0x10",
    "maybe",
    "MINOR",
    "never",
    "critical",
    "10,20,40",
    "40,20,10",
    "a,b,c",
    "10,20",
    "1,2,3,4",
    "auto",
    "off",
    "on",
    "1024",
    "1025",
    "2147483647",
    "/proc/nope",
    "/proc/x.json",
    ".",
    "../outside",
    "é",
    "ø/∂",
    "a b",
    "10**12",
]
NASTY_JSON: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    -0.5,
    1.5,
    10**12,
    2**64,
    10**30,
    "12",
    "",
    "NaN",
    [],
    [1, "x"],
    [-1.0],
    {},
    {"a": 1},
    [[[]]],
    "∞",
]


@dataclasses.dataclass
class Case:
    """One generated input and the checks that apply to it."""

    family: str
    label: str
    kind: str  # "pytest" or "cli"
    args: list[str]
    files: dict[str, str | bytes] = dataclasses.field(default_factory=dict)
    names: tuple[str, ...] = ()  # one of these must appear in a usage error's line
    setup: str | None = None  # "baseline": record a valid baseline first; "history": two runs
    mutate: Callable[[Path], None] | None = None
    watch_unchanged: tuple[str, ...] = ()  # files that must keep their bytes
    watch_loadable: tuple[str, ...] = ()  # baseline files that must still load (or be gone)
    no_output: tuple[str, ...] = ()  # paths that must not exist after a failed command
    no_new_files_outside: str | None = None  # import-benchmark: only this folder may grow


@dataclasses.dataclass
class Outcome:
    family: str
    label: str
    ok: bool
    why: str
    exit: int | None
    seconds: float
    reproduce: dict[str, Any]


def _py_literal(value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "float('nan')"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return f"float('{value}')"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        digits = int(value.bit_length() * 0.30103)
        return f"(10**{digits} * {1 if value > 0 else -1})"
    if isinstance(value, tuple | list):
        inner = ", ".join(_py_literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) else f"[{inner}]"
    return repr(value)


# -- generators ---------------------------------------------------------------------------------

TEST_BODY = "def test_x(simperf):\n    simperf.measure(lambda: sum(range(100)))\n"


def gen_marker(rng: random.Random, i: int) -> Case:
    if rng.random() < 0.5:
        keys = ["seconds", "memory_mb", "rows_per_second", "warning", "phase", "bogus"]
        kwargs = {k: rng.choice(NASTY_NUMBERS + NASTY_TEXT[:8]) for k in rng.sample(keys, 2)}
        mark = "sla"
    else:
        keys = ["thresholds", "memory_thresholds", "fail_on", "rounds", "warmup", "nope"]
        pool = [
            *NASTY_NUMBERS,
            *NASTY_TEXT[:20],
            (10, 20, 40),
            (40, 20, 10),
            (1, 2),
            ("a",) * 3,
            (10**5000, 20, 30),
        ]
        kwargs = {k: rng.choice(pool) for k in rng.sample(keys, 2)}
        if "rounds" in kwargs and isinstance(kwargs["rounds"], int) and kwargs["rounds"] > 50:
            kwargs["rounds"] = rng.choice([10**4 + 1, 10**12, 2**63])  # refused, never run
        if "warmup" in kwargs and isinstance(kwargs["warmup"], int) and kwargs["warmup"] > 50:
            kwargs["warmup"] = rng.choice([101, 10**9])
        mark = "simperf"
    args = ", ".join(f"{k}={_py_literal(v)}" for k, v in kwargs.items())
    source = f"import pytest\n\n@pytest.mark.{mark}({args})\n{TEST_BODY}"
    return Case(
        "marker",
        f"{mark}({args})",
        "pytest",
        ["--simperf", "--simperf-history=off"],
        files={"test_fz.py": source},
        names=("test_fz.py::test_x",),
        setup="baseline",
        watch_unchanged=("baselines/test_fz.json",),
    )


OPTIONS = {
    "--simperf-rounds": ("simperf_rounds",),
    "--simperf-warmup": ("simperf_warmup",),
    "--simperf-thresholds": ("simperf_thresholds",),
    "--simperf-memory-thresholds": ("simperf_memory_thresholds",),
    "--simperf-fail-on": ("simperf_fail_on",),
    "--simperf-duckdb-threads": ("simperf_duckdb_threads",),
    "--simperf-growth-pct": ("simperf_growth_pct",),
    "--simperf-calibration": ("simperf_calibration",),
    "--simperf-baseline-dir": ("simperf_baseline_dir",),
    "--simperf-json": ("simperf_json",),
    "--simperf-markdown": ("simperf_markdown",),
    "--simperf-history": ("simperf_history",),
}


def _safe_value(flag: str, value: str) -> str:
    # Rounds that are valid but large would only make the run slow, not wrong.
    small = value.isdigit() and len(value) < 5
    if flag in ("--simperf-rounds", "--simperf-warmup") and small and int(value) < 10**4:
        return str(min(int(value), 20))
    return value


def gen_option(rng: random.Random, i: int) -> Case:
    chosen = rng.sample(sorted(OPTIONS), rng.choice([1, 2]))
    args = ["--simperf"]
    for flag in chosen:
        args += [flag, _safe_value(flag, rng.choice(NASTY_TEXT))]
    update = rng.random() < 0.3
    if update:
        args[0] = "--simperf-update-baseline"
    names = tuple(n for flag in chosen for n in (flag, *OPTIONS[flag]))
    files: dict[str, str | bytes] = {"test_fz.py": TEST_BODY}
    if rng.random() < 0.2:
        files["hist.db"] = b"SQLite format 3\x00" + bytes(100)
        args += ["--simperf-history", "hist.db"]
    return Case(
        "option",
        " ".join(args),
        "pytest",
        args,
        files=files,
        names=names,
        setup="baseline",
        watch_unchanged=() if update else ("baselines/test_fz.json", "hist.db"),
        watch_loadable=("baselines/test_fz.json",),
    )


def gen_ini(rng: random.Random, i: int) -> Case:
    key = rng.choice([*(names[0] for names in OPTIONS.values()), "simperf", "simperf_sla", "toml"])
    value = rng.choice(NASTY_TEXT)
    files: dict[str, str | bytes] = {"test_fz.py": TEST_BODY}
    if key == "simperf_sla":
        line = rng.choice(
            [
                f"comp = {value}",
                f"comp = 1 warning={value}",
                f"comp {value}",
                f"comp = 5 memory_mb={value}",
                f"= {value}",
                f"comp = 1 bogus={value}",
            ]
        )
        files["pytest.ini"] = f"[pytest]\nsimperf_sla =\n    {line}\n"
        names: tuple[str, ...] = ("simperf_sla",)
    elif key == "toml":
        toml_value = rng.choice(
            [
                "inf",
                "nan",
                "-1",
                "0",
                '"5"',
                "true",
                "[]",
                "{ seconds = inf }",
                "{ seconds = 1, warning_seconds = 2 }",
                "{ bogus = 1 }",
                "1e999",
                "{ memory_mb = -3 }",
                "5",
            ]
        )
        files["pyproject.toml"] = f"[tool.simperf.sla]\ncomp = {toml_value}\n"
        names = ("pyproject.toml",)
    else:
        if key in ("simperf_rounds", "simperf_warmup"):
            value = _safe_value("--simperf-rounds", value)
        files["pytest.ini"] = f"[pytest]\n{key} = {value}\n"
        names = (key,)
    return Case(
        "ini",
        files.get("pytest.ini", files.get("pyproject.toml", "")).strip().replace("\n", " | "),
        "pytest",
        ["--simperf"],
        files=files,
        names=names,
        setup="baseline",
        watch_unchanged=("baselines/test_fz.json",),
    )


PHASE_FIELDS = [
    "median_s",
    "samples_s",
    "cpu_samples_s",
    "cpu_s",
    "runq_wait_s",
    "peak_rss_mb",
    "peak_alloc_mb",
    "duckdb_peak_buffer_mb",
    "rows",
    "rows_scanned",
    "intermediate_rows",
    "session_medians",
    "session_spread",
    "session_cpu_medians",
    "session_cpu_spread",
    "year",
    "name",
    "instructions",
    "instructions_env",
    "instructions_complete",
]
ENTRY_FIELDS = ["machine", "duckdb_threads", "calibration", "phases", "recorded_at"]
TOP_FIELDS = ["schema_version", "tests", "machines", "module"]


def _json_text(value: Any) -> str:
    return json.dumps(value)


def gen_baseline(rng: random.Random, i: int) -> Case:
    where = rng.choices(["phase", "entry", "top", "calibration", "cut", "raw"], [6, 2, 1, 1, 2, 1])[
        0
    ]
    value = rng.choice(NASTY_JSON)
    raw_token = rng.choice(["NaN", "Infinity", "-Infinity", "1e999", "9" * 5000, "-0"])
    cut = rng.random()

    def mutate(root: Path) -> None:
        path = root / "baselines" / "test_fz.json"
        text = path.read_text(encoding="utf-8")
        if where == "cut":
            path.write_text(text[: int(len(text) * cut)], encoding="utf-8")
            return
        data = json.loads(text)
        entry = data["tests"]["test_x"]
        phase = next(iter(entry["phases"].values()))
        if where == "phase":
            phase[rng.choice(PHASE_FIELDS)] = value
        elif where == "entry":
            entry[rng.choice(ENTRY_FIELDS)] = value
        elif where == "top":
            data[rng.choice(TOP_FIELDS)] = value
        elif where == "calibration":
            entry["calibration"] = {"score_s": value, "samples_s": [0.1, 0.1]}
        text = json.dumps(data)
        if where == "raw":
            text = text.replace('"median_s": ', f'"median_s": {raw_token}, "was": ', 1)
        path.write_text(text, encoding="utf-8")

    update = rng.random() < 0.35
    flag = "--simperf-update-baseline" if update else "--simperf"
    return Case(
        "baseline",
        f"{where}: {value!r} {'(update)' if update else ''}".strip(),
        "pytest",
        [flag, "--simperf-history=off"],
        files={"test_fz.py": TEST_BODY},
        names=("test_fz.json",),
        setup="baseline",
        mutate=mutate,
        watch_unchanged=() if update else ("baselines/test_fz.json",),
        watch_loadable=("baselines/test_fz.json",),
    )


def gen_record(rng: random.Random, i: int) -> Case:
    kwargs: dict[str, Any] = {
        "samples_s": rng.choice(
            [
                [0.1, 0.1],
                [],
                [float("nan")],
                [-1.0],
                [10**400],
                [0.1, None],
                "0.1",
                [True],
                [float("inf"), 0.1],
                [1e308, 1e308],
                [0.0],
            ]
        )
    }
    for key in rng.sample(
        ["year", "rows", "cpu_s", "peak_rss_mb", "rows_scanned", "intermediate_rows", "meta"], 2
    ):
        kwargs[key] = rng.choice([*NASTY_NUMBERS, [0.1], "x", {"a": 1}, 10**30, -(2**31) - 1])
    name = rng.choice(["r", "", "a@b", "x" * 300, "é", " ", "r"])
    args = ", ".join(f"{k}={_py_literal(v)}" for k, v in kwargs.items())
    body = f"def test_x(simperf):\n    simperf.record({name!r}, {args})\n"
    flag = rng.choice(["--simperf-update-baseline", "--simperf-add-baseline-session"])
    return Case(
        "record",
        f"record({name!r}, {args}) {flag}",
        "pytest",
        [flag, "--simperf-history", "h.duckdb"],
        files={"test_fz.py": body},
        names=("test_fz.py::test_x",),
        setup="baseline",
        watch_loadable=("baselines/test_fz.json",),
    )


SAVED_RUN_FULLNAMES = [
    "test_a.py::test_a",
    "../x/test_a.py::test_a",
    "/etc/test_a.py::test_a",
    "::test_a",
    "test_a.py::",
    "test_a.py",
    "",
    "test_a.py::test_a[∂]",
    "a/../../test_a.py::test_a",
]


def gen_cli(rng: random.Random, i: int) -> Case:
    command = rng.choice(
        ["runs", "report", "compare", "trend", "sla", "dashboard", "generate", "import-benchmark"]
    )
    text = rng.choice(NASTY_TEXT)
    files: dict[str, str | bytes] = {}
    no_output: tuple[str, ...] = ()
    outside = None
    history_arg = rng.choices(
        ["h.duckdb", "missing.duckdb", "sqlite.db", "garbage.duckdb", "cut.duckdb", "."],
        [6, 1, 1, 1, 1, 1],
    )[0]
    if command == "runs":
        args = ["runs", rng.choice(["--days", "--limit"]), text]
    elif command == "report":
        args = ["report", rng.choice(["latest~" + text, text, "latest", "latest~1"])]
    elif command == "compare":
        args = ["compare", rng.choice(["latest", text]), "latest~" + rng.choice(["1", text])]
    elif command == "trend":
        args = ["trend", rng.choice(["--days", "--test"]), text]
    elif command == "sla":
        args = ["sla", "--days", text]
    elif command == "dashboard":
        out = rng.choice(["d.html", ".", "/proc/d.html", "blocker/d.html", text])
        args = ["dashboard", "--out", out, rng.choice(["--days", "--max-runs"]), text]
        files["blocker"] = "a file where a folder should be\n"
        if out not in (".", "d.html", text):
            no_output = (out,)
    elif command == "generate":
        out = rng.choice(["w.duckdb", "/proc/w.duckdb", "blocker/w", "w"])
        opt = rng.choice(["--employees", "--years", "--seed", "--start-year", "--format"])
        args = ["generate", "--employees", "30", "--years", "1", "--out", out, opt, text, "--quiet"]
        files["blocker"] = "a file where a folder should be\n"
        no_output = (out,) if out.startswith(("/proc", "blocker")) else ()
    else:
        names = rng.sample(SAVED_RUN_FULLNAMES, 2)
        benches = [
            {
                "fullname": n,
                "name": "test_a",
                "stats": {
                    "data": rng.choice([[0.01, 0.02], [], [float("nan")], "x", [-1], [10**400]])
                },
                "extra_info": {"rows": rng.choice([1, -1, 10**30, "x"])},
            }
            for n in names
        ]
        files["root/test_a.py"] = "def test_a(benchmark):\n    benchmark(lambda: None)\n"
        files["x/test_a.py"] = files["root/test_a.py"]
        files["0001_run.json"] = json.dumps({"machine_info": {}, "benchmarks": benches})
        if rng.random() < 0.2:
            files["0001_run.json"] = rng.choice(["{", "[]", '{"benchmarks": 3}', ""])
        args = ["import-benchmark", "0001_run.json", "--rootdir", "root"]
        outside = "root/baselines"
        history_arg = ""
    if history_arg and command not in ("generate",):
        args += ["--history", history_arg]
    read_only = command in ("runs", "report", "compare", "trend", "sla", "dashboard")
    return Case(
        "cli",
        " ".join(args)[:300],
        "cli",
        args,
        files=files,
        setup="history" if command not in ("generate", "import-benchmark") else None,
        watch_unchanged=("h.duckdb",) if read_only else (),
        no_output=no_output,
        no_new_files_outside=outside,
    )


FAMILIES: dict[str, Callable[[random.Random, int], Case]] = {
    "marker": gen_marker,
    "option": gen_option,
    "ini": gen_ini,
    "baseline": gen_baseline,
    "record": gen_record,
    "cli": gen_cli,
}


# -- running and checking -----------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).strip(os.pathsep)
    return env


def _pytest(cwd: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *QUIET, *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _simperf(cwd: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from pytest_simperf.cli import main; sys.exit(main(sys.argv[1:]))",
            *args,
        ],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _prepare(case: Case, root: Path, fixtures: dict[str, Path]) -> None:
    if case.setup == "baseline":
        shutil.copytree(fixtures["baseline"], root, dirs_exist_ok=True)
    elif case.setup == "history":
        shutil.copytree(fixtures["history"], root, dirs_exist_ok=True)
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    if case.mutate is not None:
        case.mutate(root)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".simperf" not in p.parts and "__pycache__" not in p.parts
    }


def _usage_line_named(text: str, names: tuple[str, ...]) -> bool:
    lines = [ln for ln in text.splitlines() if "error" in ln.lower()]
    return any(any(n in ln for n in names) for ln in lines) or any(
        any(n in ln for n in names) for ln in text.splitlines() if ln.startswith("  ")
    )


def check(case: Case, root: Path, before: dict[str, bytes], proc: Any) -> str | None:
    """What the case broke, or None."""
    text = proc.stdout + proc.stderr
    for needle in ("Traceback (most recent call last)", "INTERNALERROR"):
        if needle in text:
            tail = text[text.index(needle) :][-600:]
            return f"{needle}: {tail}"
    if case.kind == "pytest":
        if proc.returncode not in (0, 1, 4):
            return f"exit status {proc.returncode}"
        # A test may fail, but with our message: an internal exception surfacing in a test's
        # failure (a ValueError from the verdict) is a traceback too.
        for line in proc.stdout.splitlines():
            m = re.match(r"E\s+([\w.]+(?:Error|Exception))\b", line)
            if m and not m.group(1).startswith("pytest_simperf.errors."):
                return f"internal exception in a test: {line.strip()[:300]}"
        if proc.returncode == 4:
            errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("ERROR:")]
            if not errors:
                return "usage error without an ERROR line"
            if case.names and not _usage_line_named(proc.stderr, case.names):
                return f"usage error names none of {case.names}: {proc.stderr.strip()[:300]}"
    else:
        if proc.returncode not in (0, 1, 2):
            return f"exit status {proc.returncode}"
        if proc.returncode == 2:
            errors = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
            if len(errors) != 1:
                return f"expected one error line, got: {proc.stderr.strip()[:300]}"
    after = _snapshot(root)
    for name in case.watch_unchanged:
        if before.get(name) != after.get(name):
            return f"{name} changed"
    for name in case.watch_loadable:
        if name in after:
            from pytest_simperf import baseline

            try:
                baseline.load(root / name)
            except Exception as exc:
                if before.get(name) != after.get(name):
                    return f"{name} rewritten into a file load refuses: {exc}"
    for name in after:
        if name.startswith("baselines/") and name.endswith(".tmp"):
            return f"temporary file left: {name}"
    if proc.returncode != 0:
        for name in case.no_output:
            if (root / name).exists() and name not in before:
                return f"failed command left output {name}"
    if case.no_new_files_outside:
        new = [n for n in after if n not in before and not n.startswith(case.no_new_files_outside)]
        if new:
            return f"wrote outside {case.no_new_files_outside}: {new}"
    return None


def run_case(case: Case, fixtures: dict[str, Path], timeout: float) -> Outcome:
    with tempfile.TemporaryDirectory(prefix="simperf-fuzz-") as tmp:
        root = Path(tmp)
        _prepare(case, root, fixtures)
        before = _snapshot(root)
        started = time.monotonic()
        try:
            runner = _pytest if case.kind == "pytest" else _simperf
            proc = runner(root, case.args, timeout)
        except subprocess.TimeoutExpired:
            return Outcome(
                case.family,
                case.label,
                False,
                f"hang: over {timeout:g} s",
                None,
                time.monotonic() - started,
                _reproduce(case),
            )
        why = check(case, root, before, proc)
        return Outcome(
            case.family,
            case.label,
            why is None,
            why or "",
            proc.returncode,
            time.monotonic() - started,
            _reproduce(case),
        )


def _reproduce(case: Case) -> dict[str, Any]:
    files = {k: (v if isinstance(v, str) else repr(v))[:2000] for k, v in case.files.items()}
    return {"args": case.args, "files": files, "setup": case.setup}


def build_fixtures(base: Path) -> dict[str, Path]:
    """A project with a recorded baseline, and one with a two-run history (plus damaged ones)."""
    rec = base / "baseline"
    rec.mkdir()
    (rec / "test_fz.py").write_text(TEST_BODY, encoding="utf-8")
    proc = _pytest(rec, ["--simperf-update-baseline", "--simperf-history=off"], 300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    hist = base / "history"
    hist.mkdir()
    (hist / "test_fz.py").write_text(TEST_BODY, encoding="utf-8")
    for _ in range(2):
        proc = _pytest(
            hist, ["--simperf", "--simperf-history", "h.duckdb", "-p", "no:randomly"], 300
        )
        assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    data = (hist / "h.duckdb").read_bytes()
    (hist / "cut.duckdb").write_bytes(data[: len(data) // 3])
    (hist / "garbage.duckdb").write_bytes(b"not a database" * 100)
    (hist / "sqlite.db").write_bytes(b"SQLite format 3\x00" + bytes(4080))
    shutil.rmtree(hist / ".simperf", ignore_errors=True)
    return {"baseline": rec, "history": hist}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300, help="cases in all (default 300)")
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--family", choices=sorted(FAMILIES), action="append")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=180.0, help="bound per case, seconds")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fuzz_inputs.json")
    args = parser.parse_args()
    families = args.family or sorted(FAMILIES)
    rng = random.Random(args.seed)
    cases = [FAMILIES[families[i % len(families)]](rng, i) for i in range(args.cases)]
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="simperf-fuzz-fixtures-") as tmp:
        fixtures = build_fixtures(Path(tmp))
        with concurrent.futures.ThreadPoolExecutor(args.workers) as pool:
            futures = [pool.submit(run_case, c, fixtures, args.timeout) for c in cases]
            for done, future in enumerate(concurrent.futures.as_completed(futures), 1):
                outcome = future.result()
                outcomes.append(outcome)
                mark = "ok  " if outcome.ok else "FAIL"
                print(
                    f"[{done}/{len(cases)}] {mark} {outcome.family:8} exit={outcome.exit} "
                    f"{outcome.label[:90]}" + ("" if outcome.ok else f"\n      {outcome.why}"),
                    flush=True,
                )
    per_family = {
        name: {
            "cases": sum(1 for o in outcomes if o.family == name),
            "failures": sum(1 for o in outcomes if o.family == name and not o.ok),
            "exit_statuses": {
                str(code): sum(1 for o in outcomes if o.family == name and o.exit == code)
                for code in sorted({o.exit for o in outcomes if o.family == name}, key=str)
            },
        }
        for name in families
    }
    failures = [dataclasses.asdict(o) for o in outcomes if not o.ok]
    payload = {
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "seed": args.seed,
        "cases": len(outcomes),
        "failures": len(failures),
        "families": per_family,
        "failed_cases": failures,
        "slowest_case_s": round(max((o.seconds for o in outcomes), default=0.0), 2),
        "wall_s": round(time.monotonic() - started, 1),
        "load": load(),
        **git_state(),
    }
    write_results(args.out, payload)
    print(f"{len(outcomes)} cases, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
