"""The instruction-count gate: CPU work compared exactly, on any host, at any load.

An instruction count (valgrind, see ``valgrind``) depends on the code, the data, the interpreter
and the libraries, not on the host's speed, its neighbours or its cores. Two counts are compared
when what they depend on matches (``valgrind.env_mismatch``); the change is then classed with the
same thresholds as time, with no noise margin beyond ``NOISE_PCT``: the same region counted in two
processes repeats within 0.05% (benchmarks/README.md).

It does not see what costs time without costing instructions: cache misses, I/O, waiting for
locks or cores, work in other processes. Time covers those where time is comparable.

Pure module: no pytest, no valgrind, no duckdb.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pytest_simperf.stats import Thresholds, classify_change
from pytest_simperf.valgrind import env_mismatch

#: Changes smaller than this (percent) are counting noise: measured A/A spread is ≤ 0.2%.
NOISE_PCT = 1.0


@dataclasses.dataclass(frozen=True)
class InstructionComparison:
    """A region's instruction count against its baseline's, as data: class, change and why."""

    severity: str | None  # None: not compared (see why)
    instructions: int | None
    baseline_instructions: int | None
    change_pct: float | None
    why: str


def judge_instructions(
    current: int | None,
    baseline: Mapping[str, Any] | None,
    current_env: Mapping[str, Any] | None,
    thresholds: Thresholds,
    *,
    note: str | None = None,
) -> InstructionComparison | None:
    """Compare a region's count with its baseline entry; None when neither side has a count.

    ``note`` explains a missing current count (valgrind absent, region recorded elsewhere).
    """
    base = None if baseline is None else baseline.get("instructions")
    base_count = None if base is None else int(base)
    if current is None and base_count is None:
        return None
    if current is None:
        return InstructionComparison(
            None, None, base_count, None, f"instructions not counted: {note or 'no count'}"
        )
    if base_count is None or baseline is None:
        return InstructionComparison(
            None,
            current,
            None,
            None,
            "instructions counted; the baseline has none (record it with "
            "--simperf-update-baseline --simperf-instructions)",
        )
    mismatch = env_mismatch(baseline.get("instructions_env") or {}, current_env or {})
    if mismatch is not None:
        return InstructionComparison(
            None,
            current,
            base_count,
            None,
            f"instructions not compared: {mismatch} since the baseline (counts depend on it)",
        )
    if base_count == 0:
        severity = "OK" if current == 0 else "CRITICAL"
        change = 0.0 if current == 0 else float("inf")
        return InstructionComparison(
            severity, current, 0, change, f"instructions 0 → {current:,} ({severity})"
        )
    change_pct = (current - base_count) / base_count * 100
    severity = "OK"
    if current == 0:
        severity = "IMPROVED"  # all the work is gone (classify_change has no ratio for it)
    elif abs(change_pct) >= NOISE_PCT:
        severity = classify_change(change_pct / 100, thresholds)
    return InstructionComparison(
        severity,
        current,
        base_count,
        change_pct,
        f"instructions {base_count:,} → {current:,} ({change_pct:+.1f}%)",
    )
