"""The judged figure of a phase, read the same way by every renderer.

The verdict names the figure a phase's class rests on (``metric``, ``value``, ``baseline_value``,
``change_pct``; see ``verdict.GateFigures``). Renderers read it here rather than pick their own
numbers, so the terminal, Markdown, JUnit, the dashboard and the history commands agree. Phases
recorded before the verdict named its metric fall back to CPU time when it was recorded, else
wall time, and say so. Pure: no pytest, no duckdb.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from typing import Any

#: metric → the key holding its value in a phase entry or a history ``performance`` row.
METRIC_FIELDS: dict[str, str] = {
    "cpu": "cpu_s",
    "wall": "median_s",
    "instructions": "instructions",
    "rows_scanned": "rows_scanned",
    "intermediate_rows": "intermediate_rows",
    "memory": "peak_alloc_mb",
}
#: The baseline's value of each metric in a phase entry (a history row stores only the judged
#: metric's baseline, as ``baseline_value``, plus wall time's).
BASELINE_FIELDS: dict[str, str] = {
    "cpu": "baseline_cpu_s",
    "wall": "baseline_median_s",
    "instructions": "baseline_instructions",
    "rows_scanned": "baseline_rows_scanned",
    "intermediate_rows": "baseline_intermediate_rows",
    "memory": "baseline_peak_alloc_mb",
}
TIME_METRICS = frozenset({"cpu", "wall"})
COUNT_METRICS = frozenset({"instructions", "rows_scanned", "intermediate_rows"})


@dataclasses.dataclass(frozen=True)
class Judged:
    """One phase's judged figure as a renderer shows it; ``inferred`` for pre-metric records."""

    metric: str
    value: float | None
    baseline_value: float | None
    change_pct: float | None
    inferred: bool = False

    @property
    def label(self) -> str:
        """The metric's name in a column: ``cpu``, ``wall``, ``instructions``, ``rows scanned``."""
        return metric_label(self.metric)

    def fmt(self, value: float | None) -> str:
        return fmt_value(self.metric, value)


def metric_label(metric: str) -> str:
    return metric.replace("_", " ")


def fmt_seconds(value: float | None) -> str:
    """``412 µs`` / ``12.3 ms`` / ``1.23 s``: three significant figures."""
    if value is None:
        return "–"
    if abs(value) < 1e-3:
        return f"{value * 1e6:.3g} µs"
    if abs(value) < 1:
        return f"{value * 1e3:.3g} ms"
    return f"{value:.3g} s" if abs(value) < 100 else f"{value:.0f} s"


def fmt_count(value: float | None) -> str:
    """``1,234,567`` below ten million, then ``12.3M`` / ``4.56G``: counts stay readable."""
    if value is None:
        return "–"
    if abs(value) < 1e7:
        return f"{value:,.0f}"
    if abs(value) < 1e10:
        return f"{value / 1e6:.3g}M"
    return f"{value / 1e9:.3g}G"


def fmt_value(metric: str, value: float | None) -> str:
    """A value of ``metric`` with its unit."""
    if metric in COUNT_METRICS:
        return fmt_count(value)
    if metric == "memory":
        return "–" if value is None else f"{value:.0f} MB"
    return fmt_seconds(value)


def finite_number(value: Any) -> float | None:
    """A finite float, or None: reports read back from JSON or a history may hold anything."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def judged(phase: Mapping[str, Any]) -> Judged:
    """The judged figure of a phase entry (run report) or a history ``performance`` row."""
    metric = phase.get("metric")
    if isinstance(metric, str) and metric:
        return Judged(
            metric,
            finite_number(phase.get("value")),
            finite_number(phase.get("baseline_value")),
            finite_number(phase.get("change_pct")),
        )
    # Recorded before the verdict named its metric: the clock it compared when known (a report's
    # ``time_metric``), else CPU time when recorded (a history row keeps no ``time_metric``; a
    # CPU-bound region was judged on it), else wall time.
    clock = phase.get("time_metric", "cpu")
    if clock == "cpu" and phase.get("cpu_s") is not None:
        return Judged(
            "cpu",
            finite_number(phase.get("cpu_s")),
            finite_number(phase.get("baseline_cpu_s")),
            finite_number(phase.get("change_pct")),
            inferred=True,
        )
    return Judged(
        "wall",
        finite_number(phase.get("median_s")),
        finite_number(phase.get("baseline_median_s")),
        finite_number(phase.get("change_pct")),
        inferred=True,
    )


def series_metric(rows: list[Mapping[str, Any]]) -> str:
    """The metric to follow a stored series on: the latest row's judged metric where every row
    has a value for it, else CPU time where every row recorded it, else wall time.

    A series is one metric from end to end; mixing a CPU-time point with a wall-time one would
    make a step out of a change of clock.
    """
    if not rows:
        return "wall"
    latest = rows[-1].get("metric")
    candidates = [latest] if isinstance(latest, str) and latest in METRIC_FIELDS else []
    candidates += ["cpu", "wall"]
    for metric in candidates:
        field = METRIC_FIELDS[metric]
        if all(_positive(r.get(field)) for r in rows):
            return metric
    return "wall"


def _positive(value: Any) -> bool:
    number = finite_number(value)
    return number is not None and number > 0


def figure(row: Mapping[str, Any], metric: str) -> float | None:
    """The value of ``metric`` in a phase entry or history row (None when not recorded)."""
    return finite_number(row.get(METRIC_FIELDS[metric]))
