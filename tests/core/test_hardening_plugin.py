"""The plugin under bad input (issue 16), end to end through pytester: no traceback, no hang, no
lost or refused write, and an exit status a CI gate can trust."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_simperf import baseline as b
from pytest_simperf.errors import UsageError
from pytest_simperf.markers import parse_simperf, parse_sla
from pytest_simperf.options import MAX_ROUNDS, MAX_WARMUP, Settings, load_pyproject_slas

NO_TRACEBACK = ("Traceback", "INTERNALERROR")


def _clean(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    for needle in NO_TRACEBACK:
        assert needle not in text, text


# -- item 1: hundreds of samples a side ----------------------------------------------------------


def test_six_hundred_samples_a_side_compare_without_overflow(pytester, run, monkeypatch):
    pytester.makepyfile(
        """
        import os
        SCALE = float(os.environ.get("SCALE", "1"))

        def test_many(simperf):
            samples = [SCALE * (0.1 + (i % 7) * 0.001) for i in range(600)]
            simperf.record("r", samples_s=samples, cpu_s=samples)
        """
    )
    assert run("--simperf-update-baseline").ret == 0
    same = run("--simperf")
    _clean(same)
    same.assert_outcomes(passed=1)
    monkeypatch.setenv("SCALE", "2")
    slower = run("--simperf")
    _clean(slower)
    slower.assert_outcomes(failed=1)
    slower.stdout.fnmatch_lines(["*test_many*r*CRITICAL*"])


# -- item 2: a NaN measurement is refused where it enters, never written --------------------------


@pytest.mark.parametrize("flag", ["--simperf-update-baseline", "--simperf-add-baseline-session"])
def test_nan_samples_are_refused_naming_test_and_region_and_nothing_is_written(pytester, run, flag):
    pytester.makepyfile(
        test_nan="""
        import math

        def test_nan(simperf):
            simperf.record("r", samples_s=[math.nan] * 3)

        def test_ok(simperf):
            simperf.record("s", samples_s=[0.1] * 3)
        """
    )
    result = run(flag)
    for needle in ("INTERNALERROR", "pytest_sessionfinish", "invalid median_s"):
        assert needle not in result.stdout.str() + result.stderr.str()
    result.assert_outcomes(failed=1, passed=1)
    result.stdout.fnmatch_lines(
        ["*test_nan.py::test_nan: simperf.record('r'): samples_s[[]0[]] must be a finite number*"]
    )
    stored = json.loads((pytester.path / "baselines" / "test_nan.json").read_text())
    assert sorted(stored["tests"]) == ["test_ok"]
    again = run("--simperf")  # the written file is one every later run accepts
    again.assert_outcomes(failed=1, passed=1)
    assert "baseline file" not in again.stdout.str()


@pytest.mark.parametrize(
    ("call", "needle"),
    [
        ('simperf.record("", samples_s=[0.1])', "name must be a non-empty string"),
        ('simperf.record("a@b", samples_s=[0.1])', "name must be a non-empty string"),
        ('simperf.record("r", samples_s=[0.1, -1])', "samples_s[[]1[]] must be a finite"),
        ('simperf.record("r", samples_s=[float("inf")])', "samples_s[[]0[]] must be a finite"),
        ('simperf.record("r", samples_s="0.1")', "samples_s must be a list"),
        ('simperf.record("r", samples_s=[0.1], cpu_s=[None])', "cpu_s[[]0[]] must be a finite"),
        ('simperf.record("r", samples_s=[0.1], year=10**12)', "year must be an int within"),
        ('simperf.record("r", samples_s=[0.1], year=True)', "year must be an int within"),
        ('simperf.record("r", samples_s=[0.1], rows=10**30)', "rows must be a whole number"),
        ('simperf.record("r", samples_s=[0.1], rows_scanned="12")', "rows_scanned must be a"),
        ('simperf.record("r", samples_s=[0.1], peak_rss_mb=-3.0)', "peak_rss_mb must be a"),
        ('simperf.record("r", samples_s=[0.1], meta=[1])', "meta must be a dict"),
    ],
)
def test_record_refuses_what_baselines_and_history_cannot_hold(pytester, run, call, needle):
    pytester.makepyfile(f"def test_r(simperf):\n    {call}\n")
    result = run("--simperf")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"*UsageError: test_*.py::test_r: simperf.record(*{needle}*"])


# -- item 3: a bad baseline value fails its tests with one line, never a false verdict -----------


def test_a_negative_rows_scanned_in_a_baseline_is_an_error_not_a_plan_regression(pytester, run):
    pytester.makepyfile(
        test_plan="""
        def test_plan(simperf):
            simperf.record("r", samples_s=[0.1] * 5, rows_scanned=100)
        """
    )
    assert run("--simperf-update-baseline").ret == 0
    path = pytester.path / "baselines" / "test_plan.json"
    data = json.loads(path.read_text())
    data["tests"]["test_plan"]["phases"]["r"]["rows_scanned"] = -100
    path.write_text(json.dumps(data))
    before = path.read_bytes()
    result = run("--simperf")
    _clean(result)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*baseline file *test_plan.json: test 'test_plan' phase 'r': rows_scanned must be*"]
    )
    assert "plan changed" not in result.stdout.str()
    assert path.read_bytes() == before


# -- item 4: bounded rounds and warm-up ------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--simperf-rounds", str(MAX_ROUNDS + 1)), "--simperf-rounds: must be at most 10,000"),
        (("--simperf-warmup", "1000000000"), "--simperf-warmup: must be at most 100"),
        (("--simperf-rounds", "9" * 5000), "--simperf-rounds: expected a whole number"),
        (("--simperf-duckdb-threads", "2147483647"), "must be at most 1,024"),
        (("--simperf-growth-pct", "inf"), "--simperf-growth-pct: must be finite"),
        (("--simperf-growth-pct", "1e999"), "--simperf-growth-pct: must be finite"),
        (("--simperf-json", "a\x00b"), "--simperf-json: contains a NUL character"),
    ],
)
def test_options_past_their_bounds_are_usage_errors(pytester, args, needle):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider", "--simperf", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in result.stderr.str()
    _clean(result)


def test_marker_rounds_past_the_bound_is_a_collection_error_naming_the_test(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.simperf(rounds=10**12)
        def test_huge(simperf):
            simperf.measure(lambda: None)
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--simperf")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*test_huge: simperf(rounds=...) must be at most 10,000*"])


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"rounds": MAX_ROUNDS + 1}, "rounds=...) must be at most 10,000"),
        ({"warmup": MAX_WARMUP + 1}, "warmup=...) must be at most 100"),
        ({"rounds": 10**1000}, "an integer of about 1000 digits"),
    ],
)
def test_simperf_marker_bounds(kwargs, needle):
    with pytest.raises(UsageError, match=r"t\.py::t: simperf") as info:
        parse_simperf((), kwargs, "t.py::t", Settings())
    assert needle in str(info.value)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"thresholds": (10**5000, 20, 30)},
        {"rounds": (10**5000, 20, 30)},
        {"fail_on": [10**5000]},
    ],
)
def test_marker_values_too_large_to_print_are_a_usage_error(kwargs):
    with pytest.raises(UsageError, match=r"t: simperf\(\w+=\.\.\.\) holds a value too large"):
        parse_simperf((), kwargs, "t", Settings())
    with pytest.raises(UsageError, match=r"t: sla\(positional=\.\.\.\) holds a value too large"):
        parse_sla((10**5000,), {}, "t")


def test_bounds_themselves_are_accepted():
    options = parse_simperf((), {"rounds": MAX_ROUNDS, "warmup": MAX_WARMUP}, "t", Settings())
    assert (options.rounds, options.warmup) == (MAX_ROUNDS, MAX_WARMUP)


# -- item 7: a baseline that could not be written fails the run -----------------------------------


def test_a_failed_baseline_write_makes_the_exit_status_non_zero(pytester, run):
    pytester.makepyfile("def test_ok(simperf):\n    simperf.record('r', samples_s=[0.1] * 3)\n")
    (pytester.path / "blocked").write_text("a file where the baseline folder should be\n")
    report = pytester.path / "report.json"
    result = run(
        "--simperf-update-baseline",
        "--simperf-baseline-dir",
        "blocked",
        "--simperf-json",
        str(report),
    )
    _clean(result)
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*error: baseline file *blocked*test_*.json: cannot be written*"])
    assert json.loads(report.read_text())["run"]["exit_status"] == 1


def test_a_written_baseline_keeps_exit_status_zero(pytester, run):
    pytester.makepyfile("def test_ok(simperf):\n    simperf.record('r', samples_s=[0.1] * 3)\n")
    assert run("--simperf-update-baseline").ret == pytest.ExitCode.OK


# -- item 8: two add-session runs at once, real processes ----------------------------------------

BARRIER_SUITE = """
import os

def test_1_measure(simperf):
    simperf.record("r", samples_s=[float(os.environ["SAMPLE"])] * 3)

def test_2_barrier():
    # Both sessions have read the baseline file (queued test_1) before either writes it.
    with open(os.environ["READY"], "w") as ready:
        ready.write("x")
    with open(os.environ["GO"]) as go:
        go.read(1)
"""


def _fifo(path: Path) -> int:
    """A FIFO held open for reading and writing (Linux): the child's open never blocks, and a
    read here never sees end-of-file before the child wrote."""
    os.mkfifo(path)
    return os.open(path, os.O_RDWR)


def test_two_add_session_runs_at_once_both_pool_their_session(pytester, run):
    pytester.makepyfile(test_pool=BARRIER_SUITE)
    env = {**os.environ, "SAMPLE": "0.1", "READY": os.devnull, "GO": "/dev/zero"}
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            "--simperf-calibration=off",
            "--simperf-history=off",
            "--simperf-update-baseline",
        ],
        cwd=pytester.path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert first.returncode == 0, first.stdout + first.stderr
    procs = []
    for name, sample in (("a", "0.2"), ("c", "0.3")):
        ready, go = pytester.path / f"ready_{name}", pytester.path / f"go_{name}"
        procs.append(
            (
                _fifo(ready),
                _fifo(go),
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "pytest",
                        "-p",
                        "no:cacheprovider",
                        "-p",
                        "no:hypothesispytest",
                        "--simperf-calibration=off",
                        "--simperf-history=off",
                        "--simperf-add-baseline-session",
                    ],
                    cwd=pytester.path,
                    env={**os.environ, "SAMPLE": sample, "READY": str(ready), "GO": str(go)},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                ),
            )
        )
    try:
        for ready, _, _ in procs:
            # A bound against a hang (a child that died before the barrier), not a timing.
            readable, _, _ = select.select([ready], [], [], 300)
            assert readable and os.read(ready, 1) == b"x", "a session never reached the barrier"
        for _, go, _ in procs:
            os.write(go, b"g")
        outputs = [proc.communicate(timeout=300)[0] for _, _, proc in procs]
    finally:
        for ready, go, proc in procs:
            if proc.poll() is None:
                proc.kill()
            os.close(ready)
            os.close(go)
    assert all(proc.returncode == 0 for _, _, proc in procs), outputs
    phase = b.load(pytester.path / "baselines" / "test_pool.json")["tests"]["test_1_measure"][
        "phases"
    ]["r"]
    assert sorted(phase["session_medians"]) == [0.1, 0.2, 0.3]
    assert sorted(phase["samples_s"]) == [0.1] * 3 + [0.2] * 3 + [0.3] * 3


# -- item 9: the next run removes a killed write's temp file and says so -------------------------


def test_the_next_run_removes_stray_temp_files_and_reports_them(pytester, run):
    pytester.makepyfile(test_t="def test_t(simperf):\n    simperf.record('r', samples_s=[0.1])\n")
    assert run("--simperf-update-baseline").ret == 0
    old = pytester.path / "baselines" / ".test_t.json.k1ll3d_9.tmp"  # an older version's name
    old.write_text('{"schema_version": 1, "tes')  # cut short, as a kill leaves it
    os.utime(old, (1_000_000.0, 1_000_000.0))
    writer = subprocess.Popen([sys.executable, "-c", "pass"])  # a writer now gone
    writer.wait()
    fresh = pytester.path / "baselines" / f".test_t.json.{writer.pid}.x7y8z9w0.tmp"
    fresh.write_text("{")
    result = run("--simperf", "-W", "default::pytest_simperf.errors.SimperfWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(["*removed 2 temporary file(s)*.test_t.json.k1ll3d_9.tmp*"])
    assert not old.exists() and not fresh.exists()
    assert sorted(p.name for p in (pytester.path / "baselines").iterdir()) == ["test_t.json"]


# -- item 10: a test file outside the rootdir ------------------------------------------------------


def test_a_test_file_outside_the_rootdir_fails_with_one_line_not_a_traceback(pytester, monkeypatch):
    root = pytester.path / "root"
    other = pytester.path / "other"
    root.mkdir()
    other.mkdir()
    (other / "test_x.py").write_text(
        "def test_x(simperf):\n    simperf.record('r', samples_s=[0.1])\n"
    )
    monkeypatch.chdir(root)
    for flag in ("--simperf", "--simperf-update-baseline"):
        result = pytester.runpytest(
            "-p",
            "no:cacheprovider",
            "--simperf-calibration=off",
            "--simperf-history=off",
            "--rootdir",
            ".",
            "../other/test_x.py",
            flag,
        )
        _clean(result)
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*outside the rootdir*--rootdir that contains the test file*"])
    assert not (root / "baselines").exists()


# -- item 11: smaller gaps ----------------------------------------------------------------------


def test_sla_seconds_past_the_float_range_is_a_usage_error():
    with pytest.raises(UsageError, match=r"t: sla\(seconds=...\) must be finite"):
        parse_sla((), {"seconds": 10**400}, "t")
    with pytest.raises(UsageError, match="must be finite"):
        parse_sla((), {"memory_mb": -(10**400)}, "t")


def test_ini_bool_value_names_the_key(pytester):
    pytester.makeini("[pytest]\nsimperf = maybe\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini option simperf:" in result.stderr.str()
    assert "maybe" in result.stderr.str()


@pytest.mark.parametrize("value", ["inf", "1e999", "nan"])
def test_infinite_ini_slas_are_refused(pytester, value):
    pytester.makeini(f"[pytest]\nsimperf_sla =\n    fct_events = {value}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini option simperf_sla: fct_events.seconds" in result.stderr.str()


def test_infinite_toml_slas_are_refused(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.simperf.sla]\nfct_events = { seconds = inf }\n")
    with pytest.raises(UsageError, match=r"fct_events\.seconds: must be finite"):
        load_pyproject_slas(tmp_path / "pyproject.toml")


def test_a_phase_year_past_the_history_column_keeps_the_run_in_history(pytester, run):
    pytester.makepyfile(
        """
        def test_big(simperf):
            with simperf.phase("p", year=10**12, rows=10**30):
                pass
        """
    )
    result = run("--simperf", "--simperf-history", "h.duckdb")
    _clean(result)
    assert "run not recorded" not in result.stdout.str()
    from pytest_simperf.history import list_runs

    (stored,) = list_runs(pytester.path / "h.duckdb")
    assert stored["phases"] == 1


def test_a_sqlite_file_at_the_history_path_is_left_alone(pytester, run):
    import sqlite3

    path = pytester.path / "h.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (i INTEGER)")
    con.commit()
    con.close()
    before = path.read_bytes()
    pytester.makepyfile("def test_t(simperf):\n    simperf.record('r', samples_s=[0.1])\n")
    result = run("--simperf", "--simperf-history", "h.db")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*h.db*is a SQLite database, not a pytest-simperf history*"])
    assert path.read_bytes() == before
