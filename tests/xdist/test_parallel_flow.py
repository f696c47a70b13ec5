"""The whole gate under pytest-xdist: the same verdicts, one report, one write per file.

Every flow test runs three ways — no xdist, ``-n 0`` and ``-n 2`` — on injected measurements
(``simperf.record`` with fixed samples and counters), so the verdicts do not depend on how busy
the machine is and must be identical in every mode.
"""

from __future__ import annotations

import importlib.util
import json
import re

import pytest

from pytest_simperf.baseline import dumps


def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


# Notes which process ran each test, to show that tests of one module ran on both workers.
CONFTEST = """
import os
import pathlib
import pytest


@pytest.fixture(autouse=True)
def note_worker(request):
    ran = pathlib.Path(__file__).parent / "ran"
    ran.mkdir(exist_ok=True)
    name = request.node.name.replace("[", "_").replace("]", "")
    (ran / name).write_text(os.environ.get("PYTEST_XDIST_WORKER", "main"))
"""

# Collected first. With -n 2, xdist's first batches (two tests per worker) put scale=1000 and
# 2000 on one worker and 4000 and 8000 on the other, so the group is fitted on the controller.
MODULE_A = """
import os
import pytest

BASE = [0.050, 0.051, 0.049]
COST = {"linear": lambda n: 8 * n, "quadratic": lambda n: n * n // 1000}
SHAPE = "quadratic" if os.environ.get("SIMPERF_SHIFT") == "1" else "linear"


@pytest.mark.scaling(employees=[1000, 2000, 4000, 8000])
def test_grow(simperf, simperf_scaling_size):
    n = simperf_scaling_size
    simperf.record("step", samples_s=BASE, rows_scanned=n, intermediate_rows=COST[SHAPE](n))


@pytest.mark.parametrize("i", range(3))
def test_other(simperf, i):
    simperf.record("load", samples_s=BASE)
"""

MODULE_B = """
import os
import pytest

BASE = [0.100, 0.102, 0.098, 0.101, 0.099, 0.103, 0.097]
FACTORS = {"ok": 1.0, "minor": 1.26, "major": 1.40, "critical": 2.0, "improved": 0.6}
SHIFT = os.environ.get("SIMPERF_SHIFT") == "1"


@pytest.mark.parametrize("name", list(FACTORS))
def test_step(simperf, name):
    factor = FACTORS[name] if SHIFT else 1.0
    samples = [s * factor for s in BASE]
    simperf.record("step", samples_s=samples, cpu_s=samples, rows_scanned=100)  # CPU-bound


def test_not_perf():
    pass


if SHIFT:
    def test_new(simperf):
        simperf.record("step", samples_s=BASE)
"""

A, B = "test_a_grow.py", "test_b_flow.py"
PERF_TESTS = [
    *(f"{A}::test_grow[scale={n}]" for n in (1000, 2000, 4000, 8000)),
    *(f"{A}::test_other[{i}]" for i in range(3)),
    *(f"{B}::test_step[{n}]" for n in ("ok", "minor", "major", "critical", "improved")),
]
# (severity, outcome) of each perf test in the shifted run: what a serial run says.
EXPECTED = {
    **{f"{A}::test_grow[scale={n}]": ("IMPROVED", "passed") for n in (1000, 2000, 4000)},
    # Every point is within limits and no worse; the growth class went linear → quadratic.
    f"{A}::test_grow[scale=8000]": ("CRITICAL", "failed"),
    **{f"{A}::test_other[{i}]": ("OK", "passed") for i in range(3)},
    f"{B}::test_step[ok]": ("OK", "passed"),
    f"{B}::test_step[minor]": ("MINOR", "failed"),
    f"{B}::test_step[major]": ("MAJOR", "failed"),
    f"{B}::test_step[critical]": ("CRITICAL", "failed"),
    f"{B}::test_step[improved]": ("IMPROVED", "passed"),
    f"{B}::test_new": ("NEW", "passed"),
}


def summary_headers(result: pytest.RunResult) -> int:
    return sum(1 for line in result.outlines if re.fullmatch(r"=+ pytest-simperf =+", line))


@pytest.fixture
def project(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(**{A[:-3]: MODULE_A, B[:-3]: MODULE_B})
    return pytester.path


def check_recording(project, result, report, mode):
    """One write per baseline file, each complete and canonical; one summary."""
    result.assert_outcomes(passed=len(PERF_TESTS) + 1)
    assert summary_headers(result) == 1
    assert sorted(t["nodeid"] for t in report["tests"]) == sorted(PERF_TESTS)
    written = report["baselines"]["files_written"]
    assert sorted(written) == sorted(
        str(project / "baselines" / name) for name in ("test_a_grow.json", "test_b_flow.json")
    )
    for path in written:
        assert sum(line == f"wrote {path}" for line in result.outlines) == 1
    for module in (A, B):
        path = project / "baselines" / module.replace(".py", ".json")
        text = path.read_text()
        data = json.loads(text)
        assert text == dumps(data)  # canonical: nothing appended or interleaved
        expected = {n.split("::", 1)[1] for n in PERF_TESTS if n.startswith(module)}
        assert set(data["tests"]) == expected
        for entry in data["tests"].values():
            assert entry["machine"] in data["machines"]
    scaling = json.loads((project / "baselines" / "test_a_grow.json").read_text())["tests"]
    assert "scaling" in scaling["test_grow[scale=8000]"]
    assert not [p for p in (project / "baselines").iterdir() if p.name.endswith(".tmp")]

    ran = {p.name: p.read_text() for p in (project / "ran").iterdir()}
    if mode == "n2":
        # The scaling instances ran on both workers: a per-worker write would have lost some,
        # and a per-worker fit could not see the whole group.
        assert {ran[f"test_grow_scale={n}"] for n in (1000, 2000)} == {"gw0"}
        assert {ran[f"test_grow_scale={n}"] for n in (4000, 8000)} == {"gw1"}
        assert report["run"]["xdist_workers"] == 2
        result.stdout.fnmatch_lines(["note: measured on 2 parallel xdist workers*"])
    else:
        assert set(ran.values()) == {"main"}
        assert report["run"]["xdist_workers"] == 0
        assert "parallel xdist workers" not in result.stdout.str()


def test_record_then_compare_gives_serial_verdicts(project, run, read_json, monkeypatch, mode):
    recorded = run("--simperf-update-baseline", "--simperf-json=record.json")
    check_recording(project, recorded, read_json(project / "record.json"), mode)

    before = {p.name: p.read_bytes() for p in (project / "baselines").iterdir()}
    monkeypatch.setenv("SIMPERF_SHIFT", "1")
    outputs = ["--simperf-json=report.json"]
    markdown = has_module("pytest_simperf.report.markdown")
    if markdown:
        outputs.append("--simperf-markdown=report.md")
    result = run(*outputs, "--simperf-history=history.duckdb", "--simperf", history=True)

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert summary_headers(result) == 1
    result.stdout.fnmatch_lines(["13 performance test(s), 4 failed: *"])
    report = read_json(project / "report.json")
    got = {t["nodeid"]: (t["severity"], t["outcome"]) for t in report["tests"]}
    assert got == EXPECTED
    (anchor,) = [t for t in report["tests"] if t["nodeid"].endswith("test_grow[scale=8000]")]
    assert anchor["scaling"]["status"] == "fitted"
    assert anchor["scaling"]["metrics"]["intermediate_rows"]["fit"]["class"] == "quadratic"
    assert any("scaling regression in intermediate_rows" in r for r in anchor["failed_reasons"])
    assert report["run"]["exit_status"] == 1
    if mode == "n2":
        # The group was fitted on the controller after the loop: pytest's own line for the
        # anchor stayed PASSED, the verdict is in the summary, the report and the exit status.
        result.assert_outcomes(passed=11, failed=3)
        result.stdout.fnmatch_lines(["*FAILED after the run: CRITICAL scaling regression*"])
    else:
        result.assert_outcomes(passed=10, failed=4)
    # Comparing never writes a baseline.
    assert {p.name: p.read_bytes() for p in (project / "baselines").iterdir()} == before

    if markdown:
        text = (project / "report.md").read_text()
        for nodeid in ("test_step[critical]", "test_grow[scale=8000]"):
            assert nodeid in text
    if not has_module("pytest_simperf.history"):
        pytest.skip("pytest_simperf.history is not part of this build: no history to check")
    from pytest_simperf.history import list_runs

    (run_row,) = list_runs(project / "history.duckdb")
    assert run_row["tests"] == len(EXPECTED)


def test_worker_crash_keeps_other_results_and_baselines_intact(pytester, read_json, monkeypatch):
    """A worker dies mid-run (``os._exit``): everything judged is reported, files stay whole."""
    pytester.makepyfile(
        test_crash="""
        import os
        import pytest

        @pytest.mark.parametrize("i", range(8))
        def test_rec(simperf, i):
            simperf.record("step", samples_s=[0.01 * (i + 1)] * 3, rows_scanned=i + 1)

        def test_kill_worker():
            if os.environ.get("PYTEST_XDIST_WORKER") and os.environ.get("SIMPERF_KILL"):
                os._exit(1)

        @pytest.mark.parametrize("i", range(8))
        def test_after(simperf, i):
            simperf.record("step", samples_s=[0.02] * 3)
        """
    )
    quiet = ("-p", "no:cacheprovider", "--simperf-calibration=off", "--simperf-history=off")
    perf = [f"test_crash.py::test_{name}[{i}]" for name in ("rec", "after") for i in range(8)]
    pytester.runpytest(*quiet, "--simperf-update-baseline").assert_outcomes(passed=17)
    path = pytester.path / "baselines" / "test_crash.json"
    before = path.read_bytes()

    monkeypatch.setenv("SIMPERF_KILL", "1")
    result = pytester.runpytest(
        *quiet, "-n", "2", "--simperf-update-baseline", "--simperf-json=u.json"
    )

    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=16, failed=1)
    result.stdout.fnmatch_lines(["*worker 'gw*' crashed while running*test_kill_worker*"])
    report = read_json(pytester.path / "u.json")
    # Tests the dead worker finished before dying are reported too: each travelled with its
    # own test report, not in the worker's end-of-session payload.
    assert sorted(t["nodeid"] for t in report["tests"]) == sorted(perf)
    (error,) = report["run"]["worker_errors"]
    assert "crashed" in error
    assert report["run"]["xdist_workers"] == 2

    text = path.read_text()
    # Re-recorded once by the controller. With fixed samples and an update starting each entry
    # afresh, the bytes may equal the first recording's (same second): compare the entries.
    assert json.loads(before)["tests"].keys() == json.loads(text)["tests"].keys()
    data = json.loads(text)
    assert text == dumps(data)
    assert set(data["tests"]) == {n.split("::", 1)[1] for n in perf}
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


COUNTED = """
import pytest


def busy(n):
    acc = 0
    for i in range(n):
        acc = (acc + (i & 1023) * 7) % 1_000_003
    return acc


@pytest.mark.parametrize("n", [10_000, 20_000])
def test_counted(simperf, n):
    simperf.measure(busy, n)
"""


@pytest.mark.skipif(
    __import__("shutil").which("valgrind") is None and not __import__("os").environ.get("CI"),
    reason="valgrind is not installed (CI installs it)",
)
def test_instruction_counts_reach_one_report_in_every_mode(pytester, run, read_json, mode):
    # Serial runs count a module in one child; an xdist worker counts each of its tests alone.
    pytester.makepyfile(test_mod=COUNTED)
    run("--simperf-update-baseline", "--simperf-instructions").assert_outcomes(passed=2)
    result = run("--simperf", "--simperf-instructions", "--simperf-json=r.json")
    result.assert_outcomes(passed=2)
    report = read_json(pytester.path / "r.json")
    counts = {t["nodeid"]: t["phases"][0]["instructions"] for t in report["tests"]}
    assert all(count and count > 500_000 for count in counts.values()), counts
    small, large = (
        counts["test_mod.py::test_counted[10000]"],
        counts["test_mod.py::test_counted[20000]"],
    )
    assert 1.9 < large / small < 2.1
    assert {t["phases"][0]["instructions_severity"] for t in report["tests"]} == {"OK"}
    assert report["run"]["instructions"]["child_runs"] == (1 if mode != "n2" else 2)
