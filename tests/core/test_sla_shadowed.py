"""A component SLA overridden by a test's ``sla`` marker is said once (issue 15 item 9)."""

from __future__ import annotations

import json

from pytest_simperf.markers import shadowed_component_slas


def _phase(name: str, source: str | None) -> dict[str, object]:
    return {"name": name, "year": None, "sla_source": source}


def test_one_line_per_shadowed_component_naming_the_tests() -> None:
    report = {
        "sla_definitions": {"load": {"seconds": 2.0, "memory_mb": 500.0}, "idle": {"seconds": 1}},
        "tests": [
            {"nodeid": "t.py::b", "phases": [_phase("load", "sla marker")]},
            {"nodeid": "t.py::a", "phases": [_phase("load:rebuild", "sla(phase='load') marker")]},
            {"nodeid": "t.py::c", "phases": [_phase("load", "component SLA 'load'")]},
            {"nodeid": "t.py::d", "phases": [_phase("other", "sla marker")]},
        ],
    }
    assert shadowed_component_slas(report) == [
        "sla     component SLA 'load' (2 s, 500 MB) is shadowed by the sla(phase='load') marker "
        "of t.py::a and 1 more test(s): the marker's limits apply there (precedence: "
        "sla(phase=) marker > sla marker > component SLA)"
    ]


def test_nothing_said_when_the_component_sla_applies() -> None:
    report = {
        "sla_definitions": {"load": {"seconds": 2.0}},
        "tests": [{"nodeid": "t.py::c", "phases": [_phase("load", "component SLA 'load'")]}],
    }
    assert shadowed_component_slas(report) == []


def test_terminal_and_json_say_it(pytester, run) -> None:
    pytester.makepyprojecttoml("[tool.simperf.sla]\nyearly = 2\n")
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.sla(seconds=5)
        def test_marked(simperf):
            simperf.record("yearly", samples_s=[0.01])

        def test_configured(simperf):
            simperf.record("yearly", samples_s=[0.01])
        """
    )
    result = run("--simperf", "--simperf-json=report.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["sla     component SLA 'yearly' (2 s) is shadowed by the sla marker of *::test_marked:*"]
    )
    assert result.stdout.str().count("is shadowed by") == 1
    report = json.loads((pytester.path / "report.json").read_text())
    assert len(report["sla_shadowed"]) == 1 and "test_marked" in report["sla_shadowed"][0]
    sources = {t["nodeid"].split("::")[1]: t["phases"][0]["sla_source"] for t in report["tests"]}
    assert sources == {"test_marked": "sla marker", "test_configured": "component SLA 'yearly'"}


def test_simperf_sla_says_which_won() -> None:
    from pytest_simperf.history_cli import sla_source

    config = {"component": "load", "seconds": 2.0, "memory_mb": None}
    measured = {"measurements": 3, "sla_seconds": 2.0, "sla_memory_mb": None}
    assert sla_source(measured, config) == "config"
    assert sla_source({**measured, "sla_seconds": 5.0}, config).startswith(
        "marker (shadows config 2"
    )
    assert sla_source({**measured, "sla_seconds": 5.0}, None) == "marker"
    assert sla_source({"measurements": 0, "sla_seconds": 2.0}, config) == "config"
