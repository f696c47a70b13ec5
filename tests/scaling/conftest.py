"""Shared helpers for behaviour tests of the scaling marker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

# Injected timings are judged without calibration and without touching a history database.
QUIET = ("-p", "no:cacheprovider", "--simperf-calibration=off", "--simperf-history=off")


@pytest.fixture
def run(pytester: pytest.Pytester):
    """Run pytest in the pytester dir with the quiet defaults plus ``args``."""

    def _run(*args: str) -> pytest.RunResult:
        return pytester.runpytest(*QUIET, *args)

    return _run


@pytest.fixture
def read_json():
    def _read(path: Path) -> dict:
        return json.loads(Path(path).read_text())

    return _read
