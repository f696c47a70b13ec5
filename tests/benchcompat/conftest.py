"""Helpers for pytest-benchmark adoption tests: a fake clock, so timings are injected, not real.

pytest-benchmark takes its clock from ``--benchmark-timer module.attr``. ``fakeclock.clock``
advances by a nanosecond per reading (pytest-benchmark measures the clock's precision and needs
it to move) and ``fakeclock.work()`` — the function the tests benchmark — advances it by
``FAKE_STEP`` seconds with a fixed ±2% pattern, so every round is known in advance and the rank
test has a spread to work with. ``fakeclock.CALLS`` counts calls, to prove nothing is re-run.
"""

from __future__ import annotations

from typing import Any

import pytest

FAKECLOCK = """
import os

STEP = float(os.environ.get("FAKE_STEP", "0.01"))
PATTERN = (1.0, 1.02, 0.98, 1.01, 0.99)
NOW = [0.0]
CALLS = [0]


def clock():
    NOW[0] += 1e-9
    return NOW[0]


def work():
    NOW[0] += STEP * PATTERN[CALLS[0] % len(PATTERN)]
    CALLS[0] += 1
    return 42
"""

# Runs go through a subprocess (``run(..., subprocess=True)``, quiet defaults from
# tests/conftest.py): plugin loading is what is under test.
TIMER = ("--benchmark-timer=fakeclock.clock",)


@pytest.fixture
def bench(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, run: Any) -> Any:
    """Run pytest in a subprocess with the fake clock; ``step`` is one call's fake duration.

    ``timer=False`` leaves out ``--benchmark-timer``, which only exists with pytest-benchmark.
    """
    pytester.makepyfile(fakeclock=FAKECLOCK)

    def _run(*args: str, step: float = 0.01, timer: bool = True) -> pytest.RunResult:
        monkeypatch.setenv("FAKE_STEP", repr(step))
        return run(*(TIMER if timer else ()), *args, subprocess=True)

    return _run


@pytest.fixture
def report(pytester: pytest.Pytester, read_json: Any) -> Any:
    """The per-test entries of the JSON report written with ``--simperf-json=report.json``."""

    def _read(name: str = "report.json") -> dict[str, dict[str, Any]]:
        return {test["nodeid"]: test for test in read_json(pytester.path / name)["tests"]}

    return _read
