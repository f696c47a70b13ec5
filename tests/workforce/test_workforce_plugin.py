"""The pytest surface: marker, --simperf-scale / simperf_scale, simperf_workforce (pytester)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytest_plugins = ["pytester"]

# Small sizes: these tests are about behaviour, not speed.
USES_FIXTURE = """
import pytest

@pytest.mark.workforce(employees=60, years=2, seed=3)
def test_first(simperf_workforce):
    con = simperf_workforce.con
    assert con.execute("SELECT count(*) FROM census WHERE active").fetchone()[0] == 60
    con.execute("DELETE FROM census")
    con.execute("CREATE TABLE scratch AS SELECT 1 AS x")

@pytest.mark.workforce(employees=60, years=2, seed=3)
def test_second(simperf_workforce):
    con = simperf_workforce.con
    assert con.execute("SELECT count(*) FROM census WHERE active").fetchone()[0] == 60
    tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    assert "scratch" not in tables

@pytest.mark.workforce(employees=60, years=2, seed=3)
def test_third(simperf_workforce):
    assert simperf_workforce.simulation_years == [2025, 2026]
    assert (simperf_workforce.employees, simperf_workforce.years) == (60, 2)
    assert simperf_workforce.seed == 3 and simperf_workforce.start_year == 2025
    assert simperf_workforce.path.exists()
"""


def builds(pytester: pytest.Pytester) -> list[dict[str, object]]:
    log = pytester.path / "basetemp" / "simperf-workforce" / "builds.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist-2"])
def test_isolated_copies_built_once(pytester, xdist):
    pytester.makepyfile(test_isolation=USES_FIXTURE)
    args = ["--basetemp", str(pytester.path / "basetemp"), "-p", "no:randomly"]
    if xdist:
        # --dist each: both workers run every test, so both need the workforce for certain.
        args += ["-n", "2", "--dist", "each"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=6 if xdist else 3)
    built = builds(pytester)
    assert len(built) == 1, built
    assert built[0]["employees"] == 60


def test_copies_are_removed_after_each_test(pytester):
    pytester.makepyfile(
        """
        import pytest
        seen = []

        @pytest.mark.workforce(employees=20, years=1)
        @pytest.mark.parametrize("n", [1, 2])
        def test_copy(simperf_workforce, n):
            seen.append(simperf_workforce.path)

        def test_gone():
            assert len(seen) == 2 and seen[0] != seen[1]
            assert not any(p.exists() for p in seen)
        """
    )
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_different_markers_build_different_workforces(pytester):
    pytester.makepyfile(
        """
        import pytest

        pytestmark = pytest.mark.workforce(years=1, seed=5)

        @pytest.mark.workforce(employees=30)
        def test_a(simperf_workforce):
            assert simperf_workforce.employees == 30 and simperf_workforce.seed == 5

        @pytest.mark.workforce(employees=40, seed=6)
        def test_b(simperf_workforce):
            assert simperf_workforce.employees == 40 and simperf_workforce.seed == 6
            assert simperf_workforce.years == 1
        """
    )
    pytester.runpytest("--basetemp", str(pytester.path / "basetemp")).assert_outcomes(passed=2)
    assert sorted(b["employees"] for b in builds(pytester)) == [30, 40]


SCALE_PROBE = """
def test_size(simperf_workforce):
    print("EMPLOYEES", simperf_workforce.employees)
"""


@pytest.mark.parametrize(
    ("ini", "args", "expected"),
    [
        (None, [], 1_000),  # default scale: small
        ("simperf_scale = 25", [], 25),
        ("simperf_scale = 25", ["--simperf-scale", "35"], 35),  # the command line wins
        (None, ["--simperf-scale", "45"], 45),
    ],
    ids=["default", "ini", "cli-over-ini", "cli"],
)
def test_scale_option_and_ini(pytester, ini, args, expected):
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(test_scale=SCALE_PROBE)
    result = pytester.runpytest("-s", *args)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*EMPLOYEES {expected}*"])


def test_marker_size_beats_the_option(pytester):
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=15, years=1)
        def test_size(simperf_workforce):
            assert simperf_workforce.employees == 15
        """
    )
    pytester.runpytest("--simperf-scale", "xxl").assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("employees='huge'", "unknown workforce scale 'huge'*small (1,000)*"),
        ("employees=-5", "employees must be at least 1, got -5"),
        ("employees=10, years=0", "years must be between 1 and 50, got 0"),
        ("employes=10", "unknown keyword employes; valid keywords: employees*"),
        ("10", "takes keyword arguments only*"),
        ("employees=10, seed='x'", "seed must be an integer*"),
    ],
    ids=["scale", "negative", "years-0", "keyword", "positional", "seed"],
)
def test_marker_errors_name_the_test(pytester, marker, message):
    pytester.makepyfile(
        test_bad=f"""
        import pytest

        @pytest.mark.workforce({marker})
        def test_broken(simperf_workforce):
            pass

        @pytest.mark.workforce({marker})
        def test_marked_without_fixture():
            pass

        def test_unaffected():
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            f"*test_bad.py::test_broken: bad @pytest.mark.workforce: {message}",
            f"*test_bad.py::test_marked_without_fixture: bad @pytest.mark.workforce: {message}",
        ]
    )


def test_bad_scale_option_is_a_usage_error(pytester):
    pytester.makepyfile(test_scale=SCALE_PROBE)
    result = pytester.runpytest("--simperf-scale", "gigantic")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*argument --simperf-scale: unknown workforce scale 'gigantic'*xxl (1,000,000)*"]
    )


def test_bad_ini_scale_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\nsimperf_scale = -3\n")
    pytester.makepyfile(test_scale=SCALE_PROBE)
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ini option simperf_scale: employees must be at least 1*"])


def test_too_big_for_memory_fails_the_test_clearly(pytester):
    pytester.makeconftest(
        """
        import importlib

        import pytest

        # import_module, not `from pytest_simperf.workforce import generate`: pytester rolls
        # sys.modules back after each in-process run, but the package keeps its attribute to
        # a generate module an earlier run imported; the fixture's fresh import would not see
        # a patch on that stale module.
        generate = importlib.import_module("pytest_simperf.workforce.generate")

        @pytest.fixture(autouse=True)
        def no_memory(monkeypatch):  # undone after the test: pytester runs in this process
            monkeypatch.setattr(generate, "estimate_bytes", lambda spec: 2**60)
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=10, years=1)
        def test_big(simperf_workforce):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*test_big: simperf_workforce: *GiB of memory to build*"])


def test_help_and_markers(pytester):
    help_result = pytester.runpytest("--help")
    help_result.stdout.fnmatch_lines(["*--simperf-scale=SCALE*", "*simperf_scale (string)*"])
    markers = pytester.runpytest("--markers")
    markers.stdout.fnmatch_lines(
        ["@pytest.mark.workforce(employees=1_000, years=5, seed=42, start_year=2025, rates=*"]
    )


def test_plugin_does_not_import_duckdb():
    """``pytest --help`` must stay instant: our plugin module leaves duckdb unimported."""
    code = (
        "import sys, pytest_simperf.workforce.plugin, pytest_simperf.workforce; "
        "assert 'duckdb' not in sys.modules, 'duckdb imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
