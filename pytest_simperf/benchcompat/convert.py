"""How one pytest-benchmark measurement becomes one simperf phase: its name and its samples.

Shared by the live plugin and the importer, so that a baseline imported from a saved run and a
measurement taken today are built the same way and compare like with like. No pytest here.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

#: Phase name of a benchmark without a group.
DEFAULT_PHASE = "benchmark"
#: At most this many samples per phase (medians of consecutive batches of rounds beyond it).
MAX_SAMPLES = 30


def phase_name(group: object) -> str:
    """The benchmark's group names its phase, so ``sla(phase=...)`` and component SLAs can aim
    at it; without a usable group (none, or one containing the year separator ``@``) the phase
    is ``benchmark``."""
    if isinstance(group, str) and group.strip() and "@" not in group:
        return group.strip()
    return DEFAULT_PHASE


def reduce_samples(rounds_s: Sequence[float], max_samples: int = MAX_SAMPLES) -> list[float]:
    """Per-round timings → at most ``max_samples`` samples, as medians of consecutive batches.

    pytest-benchmark runs as many rounds as fit in its time budget: thousands for a fast
    function. Kept one by one they would bloat committed baselines and let the rank test call a
    drift-sized change "significant" by sheer count; batch medians keep the centre, keep slow
    drift within the session visible as spread, and bound the file. Raises ``ValueError`` on a
    negative or non-finite timing.
    """
    if max_samples < 1:
        raise ValueError(f"max_samples must be at least 1, got {max_samples}")
    try:
        values = [float(x) for x in rounds_s]
    except OverflowError:  # an integer timing past the float range
        raise ValueError("round timings must be finite and ≥ 0, got a number too large") from None
    for value in values:
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"round timings must be finite and ≥ 0, got {value!r}")
    count = len(values)
    if count <= max_samples:
        return values
    return [
        float(statistics.median(values[i * count // max_samples : (i + 1) * count // max_samples]))
        for i in range(max_samples)
    ]
