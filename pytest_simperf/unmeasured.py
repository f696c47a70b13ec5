"""The ``simperf`` fixture's object when nothing is measured (no ``--simperf``).

A performance test is still a test: its assertions should run in a plain ``pytest``, as
pytest-benchmark runs a disabled benchmark once. This module is what such a run imports instead
of ``fixtures`` (which pulls in the measuring, verdict and calibration machinery), so running
perf tests unmeasured costs a plain ``pytest`` no more imports than the tests' own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pytest_simperf.errors import UsageError


@dataclasses.dataclass
class PhaseHandle:
    """Yielded by ``phase()``: set ``rows`` to report throughput for the block."""

    name: str
    year: int | None
    rows: int | None = None


def check_phase(name: Any, year: Any) -> None:
    """Refuse a phase name or year that no baseline could key (in measured and unmeasured runs)."""
    if not isinstance(name, str) or not name or "@" in name:
        raise UsageError(
            f"simperf.phase(): name must be a non-empty string without '@', got {name!r}"
        )
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise UsageError(f"simperf.phase({name!r}): year must be an int, got {year!r}")


@dataclasses.dataclass(frozen=True)
class NoWorkCounted:
    """What ``count_work()`` gives when nothing is measured: no statement was counted, so no
    counter may be read as a figure (``complete`` is False, the counts are None)."""

    statements: int = 0
    connections: int = 0
    rows_scanned: int | None = None
    intermediate_rows: int | None = None
    complete: bool = False


class UnmeasuredSimperf:
    """The ``simperf`` fixture without ``--simperf``: the test's code runs once, as written.

    A performance test is still a test: its assertions should run in a plain ``pytest``
    (pytest-benchmark runs a disabled benchmark once too). So ``measure`` calls the function
    once (no warm-up, no rounds) and returns its result, ``phase`` runs its block, arguments are
    checked as when measuring, and nothing is timed, judged or written.
    """

    #: False here, True on ``Simperf``: code that repeats work only to get samples (dbt
    #: ``rounds=``) can ask.
    measuring = False

    def __init__(self, nodeid: str) -> None:
        self._nodeid = nodeid

    def track(self, con: Any) -> Any:
        """Nothing is profiled: the connection itself."""
        return con

    @contextmanager
    def intercept_connections(self) -> Iterator[None]:
        yield

    @contextmanager
    def count_work(self) -> Iterator[NoWorkCounted]:
        """Run the block; nothing is profiled, so nothing is counted."""
        yield NoWorkCounted()

    def measure(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call ``fn(*args, **kwargs)`` once and return its result."""
        if not callable(fn):
            raise UsageError(f"simperf.measure() needs a callable, got {fn!r}")
        return fn(*args, **kwargs)

    @contextmanager
    def phase(
        self, name: str, *, year: int | None = None, rows: int | None = None
    ) -> Iterator[PhaseHandle]:
        """Run the block once, untimed."""
        check_phase(name, year)
        yield PhaseHandle(name=name, year=year, rows=rows)

    def record(self, name: str, **kwargs: Any) -> None:
        """Check the figures as ``Simperf.record`` does, and keep none of them."""
        from pytest_simperf.fixtures import checked_record

        checked_record(self._nodeid, name, **kwargs)

    @property
    def records(self) -> list[Any]:
        """Nothing is measured in this mode."""
        return []
