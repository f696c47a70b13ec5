"""Marker and option parsing: strict, with errors that name the test or option."""

from __future__ import annotations

import pytest

from pytest_simperf.errors import UsageError
from pytest_simperf.markers import effective_sla, parse_simperf, parse_sla
from pytest_simperf.options import ComponentSla, Settings, load_pyproject_slas

WHERE = "tests/t.py::test_x"


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"seconds": -1}, "sla(seconds=...) must be greater than 0"),
        ({"seconds": 0}, "must be greater than 0"),
        ({"seconds": "5"}, "must be a number"),
        ({"seconds": float("nan")}, "must be finite"),
        ({"secs": 5}, "unknown keyword(s) secs"),
        ({"seconds": 5, "warning": 1.5}, "fraction in (0, 1]"),
        ({"warning": 0.5}, "needs at least one of"),
        ({"seconds": 1, "phase": ""}, "must be a phase name"),
    ],
)
def test_bad_sla_markers(kwargs, needle):
    with pytest.raises(UsageError) as info:
        parse_sla((), kwargs, WHERE)
    assert str(info.value).startswith(WHERE) and needle in str(info.value)


def test_sla_positional_rejected():
    with pytest.raises(UsageError, match="keyword arguments only"):
        parse_sla((5,), {}, WHERE)


def test_good_sla_marker():
    m = parse_sla((), {"seconds": 5, "memory_mb": 500, "warning": 0.9}, WHERE)
    assert (m.seconds, m.memory_mb, m.warning, m.phase) == (5.0, 500.0, 0.9, None)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"thresholds": (30, 15, 50)}, "thresholds"),
        ({"thresholds": (1, 2)}, "three percentages"),
        ({"fail_on": "SEVERE"}, "expected one of MINOR, MAJOR, CRITICAL, never"),
        ({"rounds": 0}, "rounds=...) must be a whole number ≥ 1"),
        ({"warmup": -1}, "warmup=...) must be a whole number ≥ 0"),
        ({"round": 3}, "unknown keyword(s) round"),
    ],
)
def test_bad_simperf_markers(kwargs, needle):
    with pytest.raises(UsageError) as info:
        parse_simperf((), kwargs, WHERE, Settings())
    assert WHERE in str(info.value) and needle in str(info.value)


def test_simperf_marker_overrides():
    options = parse_simperf(
        (), {"thresholds": "10,20,40", "fail_on": "major", "rounds": 11}, WHERE, Settings()
    )
    assert (options.thresholds.minor, options.thresholds.critical) == (0.10, 0.40)
    assert (options.fail_on, options.rounds) == ("MAJOR", 11)


def test_sla_precedence_phase_marker_then_marker_then_config():
    general = parse_sla((), {"seconds": 2}, WHERE)
    specific = parse_sla((), {"seconds": 9, "phase": "a"}, WHERE)
    config = {"a": ComponentSla(seconds=100), "b": ComponentSla(seconds=50, warning_seconds=10)}
    assert effective_sla("a", [general, specific], config).seconds == 9
    assert effective_sla("b", [general, specific], config).seconds == 2
    from_config = effective_sla("b", [specific], config)
    assert (from_config.seconds, from_config.warning_seconds) == (50, 10)
    assert effective_sla("c", [specific], config) is None


def test_pyproject_slas(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text(
        "[tool.simperf.sla]\nscd_workforce_state = 120\n"
        "fct_yearly_events = { seconds = 300, warning_seconds = 200, memory_mb = 2048 }\n"
    )
    slas = load_pyproject_slas(path)
    assert slas["scd_workforce_state"] == ComponentSla(seconds=120)
    assert slas["fct_yearly_events"].memory_mb == 2048


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("x = 'fast'", "expected seconds or a table"),
        ("x = { secs = 3 }", "unknown key(s) ['secs']"),
        ("x = { seconds = 3, warning_seconds = 5 }", "exceeds seconds"),
        ("x = -3", "must be greater than 0"),
        ("x = [", "cannot parse TOML"),
    ],
)
def test_bad_pyproject_slas(tmp_path, body, needle):
    path = tmp_path / "pyproject.toml"
    path.write_text(f"[tool.simperf.sla]\n{body}\n")
    with pytest.raises(UsageError) as info:
        load_pyproject_slas(path)
    assert str(path) in str(info.value) and needle in str(info.value)


# -- through pytest ---------------------------------------------------------------------------


def test_bad_marker_is_a_collection_error_naming_the_test(pytester):
    pytester.makepyfile(
        test_mod="""
        import pytest

        @pytest.mark.sla(seconds=-5)
        def test_negative():
            pass

        @pytest.mark.sla(second=5)
        def test_typo():
            pass
        """
    )
    for args in ((), ("--simperf",)):
        result = pytester.runpytest("-p", "no:cacheprovider", *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(
            [
                "*pytest-simperf: invalid marker*",
                "*test_mod.py::test_negative: sla(seconds=...) must be greater than 0, got -5*",
                "*test_mod.py::test_typo: sla() got unknown keyword(s) second*",
            ]
        )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--simperf-fail-on=SOMETIMES",), "--simperf-fail-on: expected one of"),
        (("--simperf-thresholds=30,15,50",), "--simperf-thresholds"),
        (("--simperf-thresholds=abc",), "--simperf-thresholds"),
        (("--simperf-rounds=0",), "--simperf-rounds: must be at least 1"),
        (("--simperf-rounds=many",), "--simperf-rounds: expected a whole number"),
        (("--simperf-duckdb-threads=0",), "--simperf-duckdb-threads: must be at least 1"),
        (("--simperf-calibration=maybe",), "--simperf-calibration: expected true or false"),
        (("--simperf-growth-pct=-1",), "--simperf-growth-pct: must be greater than 0"),
    ],
)
def test_bad_options_are_usage_errors(pytester, args, needle):
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider", "--simperf", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert needle in result.stderr.str()


def test_bad_ini_value_names_the_ini_key(pytester):
    pytester.makeini("[pytest]\nsimperf_rounds = -3\n")
    pytester.makepyfile("def test_a():\n    pass\n")
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ini option simperf_rounds: must be at least 1" in result.stderr.str()


def test_ini_enables_simperf_and_cli_thresholds_win(pytester):
    pytester.makeini("[pytest]\nsimperf = true\nsimperf_thresholds = 1,2,3\n")
    pytester.makepyfile(
        """
        def test_a(simperf, request):
            from pytest_simperf.session import get_session
            s = get_session(request.config).settings
            assert s.enabled
            assert s.thresholds.minor == 0.05
        """
    )
    result = pytester.runpytest(
        "-p", "no:cacheprovider", "--simperf-history=off", "--simperf-thresholds=5,10,20"
    )
    result.assert_outcomes(passed=1)


def test_help_lists_every_option_and_marker(pytester):
    result = pytester.runpytest("--help")
    text = result.stdout.str()
    for option in (
        "--simperf ",
        "--simperf-update-baseline",
        "--simperf-baseline-dir",
        "--simperf-fail-on",
        "--simperf-thresholds",
        "--simperf-memory-thresholds",
        "--simperf-json",
        "--simperf-markdown",
        "--simperf-history",
        "--simperf-rounds",
        "--simperf-warmup",
        "--simperf-quick",
        "--simperf-duckdb-threads",
        "--simperf-calibration",
    ):
        assert option in text, option
    markers = pytester.runpytest("--markers").stdout.str()
    assert "sla(seconds=None, memory_mb=None, rows_per_second=None, warning=0.8" in markers
    assert "simperf(thresholds=None" in markers


def test_entry_point_import_is_cheap():
    import subprocess
    import sys

    code = (
        "import sys, pytest_simperf.plugin; "
        "print([m for m in ('duckdb', 'dbt', 'psutil') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
