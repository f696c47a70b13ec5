"""Helpers shared by every test folder: quiet pytester runs and JSON reports.

A folder's conftest may override a fixture here (tests/xdist runs each flow in several modes).
"""

from __future__ import annotations

import json
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
