"""Shared helpers for the pytest-xdist behaviour tests: the same flow in every mode.

``run`` overrides the one in tests/conftest.py; ``read_json`` and the guard that keeps this
suite's own xdist variables out of the inner runs come from there.
"""

from __future__ import annotations

import pytest

# Injected timings are judged without calibration; history is switched on per test when wanted.
QUIET = ("-p", "no:cacheprovider", "--simperf-calibration=off")

MODES = {"serial": (), "n0": ("-n", "0"), "n2": ("-n", "2")}


@pytest.fixture(params=list(MODES))
def mode(request) -> str:
    """Each flow test runs without xdist, with ``-n 0`` and with ``-n 2``."""
    return request.param


@pytest.fixture
def run(pytester: pytest.Pytester, mode: str):
    """Run pytest in the pytester dir in the current mode, with the quiet defaults."""

    def _run(*args: str, history: bool = False) -> pytest.RunResult:
        extra = () if history else ("--simperf-history=off",)
        return pytester.runpytest(*QUIET, *extra, *MODES[mode], *args)

    return _run
