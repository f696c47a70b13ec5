"""What a test measured: one ``PhaseRecord`` per (phase, year), gathered by a ``TestCollector``.

Plain data with no pytest and no DuckDB, so verdicts, baselines and reports can be built and
tested from records made by hand.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Mapping
from typing import Any

from pytest_simperf.duckdb_profile import incomplete_note


def phase_key(name: str, year: int | None) -> str:
    """The stable string key of a phase: ``name`` or ``name@year``."""
    return name if year is None else f"{name}@{year}"


@dataclasses.dataclass
class PhaseRecord:
    """One measured region of a test."""

    name: str
    year: int | None
    samples_s: list[float]
    source: str = "phase"  # phase | measure | call | record
    cpu_s: list[float] = dataclasses.field(default_factory=list)
    start_rss_mb: float | None = None
    peak_rss_mb: float | None = None
    duckdb_peak_buffer_mb: float | None = None
    rows: int | None = None
    rows_scanned: int | None = None
    intermediate_rows: int | None = None
    counters_complete: bool = True
    # Instructions of one execution of the region, counted under valgrind in a child process.
    instructions: int | None = None
    confirm_samples_s: list[float] | None = None
    confirm_cpu_s: list[float] | None = None
    # Per-round run-queue wait (runnable, not running); empty where the OS does not report it.
    wait_s: list[float] = dataclasses.field(default_factory=list)
    meta: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def key(self) -> str:
        return phase_key(self.name, self.year)

    def mark_counters_incomplete(
        self, unprofiled: int, statements: int, reasons: Mapping[str, int]
    ) -> None:
        """Some statements of the region have no DuckDB profile: say so, and why.

        ``counters_complete`` turns False and ``meta`` gets ``counters_note`` (the sentence a
        report shows: "counters incomplete: N of M statements had no profile: why (n)"),
        ``counters_unprofiled`` (N), ``counters_statements`` (M, also set on complete
        regions) and ``counters_reasons`` (reason -> how many statements).
        """
        self.counters_complete = False
        self.meta["counters_unprofiled"] = int(unprofiled)
        self.meta["counters_statements"] = int(statements)
        self.meta["counters_reasons"] = {str(k): int(v) for k, v in reasons.items()}
        self.meta["counters_note"] = incomplete_note(unprofiled, statements, reasons)

    @property
    def median_s(self) -> float:
        return float(statistics.median(self.samples_s))

    @property
    def cpu_median_s(self) -> float | None:
        return float(statistics.median(self.cpu_s)) if self.cpu_s else None

    @property
    def wait_median_s(self) -> float | None:
        return float(statistics.median(self.wait_s)) if self.wait_s else None

    @property
    def peak_alloc_mb(self) -> float | None:
        """Memory the region added at its peak: high-water RSS minus RSS on entry."""
        if self.peak_rss_mb is None or self.start_rss_mb is None:
            return None
        return max(0.0, self.peak_rss_mb - self.start_rss_mb)

    @property
    def rows_per_s(self) -> float | None:
        median = self.median_s
        if self.rows is None or median <= 0:
            return None
        return self.rows / median

    def merge(self, other: PhaseRecord) -> None:
        """Fold a repeat of the same (name, year) into this record: more samples, wider peaks."""
        self.samples_s.extend(other.samples_s)
        self.cpu_s.extend(other.cpu_s)
        self.wait_s.extend(other.wait_s)
        if other.peak_rss_mb is not None:
            self.peak_rss_mb = max(self.peak_rss_mb or 0.0, other.peak_rss_mb)
            if self.start_rss_mb is None:
                self.start_rss_mb = other.start_rss_mb
        for name in ("duckdb_peak_buffer_mb",):
            value = getattr(other, name)
            if value is not None:
                setattr(self, name, max(getattr(self, name) or 0.0, value))
        if other.rows is not None:
            self.rows = other.rows
        # Counters of one execution describe the work of one execution; keep the first, and
        # note when repeats disagree (the plan changed inside one test).
        if self.rows_scanned is None:
            self.rows_scanned, self.intermediate_rows = other.rows_scanned, other.intermediate_rows
        elif other.rows_scanned is not None and (
            (other.rows_scanned, other.intermediate_rows)
            != (self.rows_scanned, self.intermediate_rows)
        ):
            self.meta["counters_vary"] = True
        self.counters_complete = self.counters_complete and other.counters_complete
        statements = int(self.meta.get("counters_statements", 0)) + int(
            other.meta.get("counters_statements", 0)
        )
        if "counters_unprofiled" in self.meta or "counters_unprofiled" in other.meta:
            reasons = dict(self.meta.get("counters_reasons", {}))
            for reason, count in other.meta.get("counters_reasons", {}).items():
                reasons[reason] = reasons.get(reason, 0) + count
            unprofiled = int(self.meta.get("counters_unprofiled", 0)) + int(
                other.meta.get("counters_unprofiled", 0)
            )
            self.mark_counters_incomplete(unprofiled, statements, reasons)
        elif statements:
            self.meta["counters_statements"] = statements


class TestCollector:
    """The records of one test, in the order they were first measured."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, nodeid: str) -> None:
        self.nodeid = nodeid
        self.phases: dict[str, PhaseRecord] = {}
        self.uses_fixture = False

    def add(self, record: PhaseRecord) -> PhaseRecord:
        existing = self.phases.get(record.key)
        if existing is None:
            self.phases[record.key] = record
            return record
        existing.merge(record)
        return existing

    def next_measure_name(self) -> str:
        """``measure``, then ``measure_2``, … for successive unnamed measure() calls."""
        count = sum(1 for r in self.phases.values() if r.source == "measure" and r.year is None)
        return "measure" if count == 0 else f"measure_{count + 1}"
