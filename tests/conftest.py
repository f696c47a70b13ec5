"""Helpers shared by every test folder: quiet pytester runs, JSON reports, no xdist leaks.

A folder's conftest may override a fixture here (tests/xdist runs each flow in several modes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

# Injected timings are judged without calibration (it would rescale them by the machine's
# momentary speed) and without touching a history database. No inner run needs Hypothesis:
# loading it costs about 2 s a run.
QUIET = (
    "-p",
    "no:cacheprovider",
    "-p",
    "no:hypothesispytest",
    "--simperf-calibration=off",
    "--simperf-history=off",
)


@pytest.fixture(autouse=True)
def outside_any_worker(request: pytest.FixtureRequest) -> None:
    """A pytester run is no xdist worker, even when this suite runs under ``pytest -n``.

    xdist gives its workers ``PYTEST_XDIST_WORKER``, ``PYTEST_XDIST_WORKER_COUNT`` and
    ``PYTEST_XDIST_TESTRUNUID``; inner runs, in-process or in a subprocess, would inherit them
    and anything that reads them (pytest-benchmark does, and disables itself) would take a
    serial inner run for a worker.
    """
    if "pytester" not in request.fixturenames:
        return
    monkeypatch: pytest.MonkeyPatch = request.getfixturevalue("monkeypatch")
    for name in list(os.environ):
        if name.startswith("PYTEST_XDIST_"):
            monkeypatch.delenv(name)


@pytest.fixture
def run(pytester: pytest.Pytester):
    """Run pytest in the pytester dir with the quiet defaults plus ``args``.

    ``subprocess=True`` runs it in a fresh interpreter: for what must load as it would for a
    user (plugins through entry points) or cannot be imported twice in one process (dbt).
    """

    def _run(*args: str, subprocess: bool = False) -> pytest.RunResult:
        runner = pytester.runpytest_subprocess if subprocess else pytester.runpytest
        return runner(*QUIET, *args)

    return _run


@pytest.fixture
def read_json():
    def _read(path: Path) -> dict:
        return json.loads(Path(path).read_text())

    return _read


@pytest.fixture
def summary_report():
    """A run report around ``tests`` with the default gate's options, for renderer tests
    (terminal summary, Markdown) that need a run and care only about the tests' phases."""

    def _report(tests: list[dict]) -> dict:
        return {
            "schema_version": 1,
            "run": {
                "options": {
                    "thresholds": [15, 30, 50],
                    "fail_on": "MINOR",
                    "rounds": 7,
                    "quick": False,
                    "update_baseline": False,
                },
                "duckdb_threads": 1,
            },
            "tests": tests,
            "baselines": {},
        }

    return _report
