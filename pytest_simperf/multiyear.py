"""Multi-year figures: year-over-year change, cumulative time, and systematic growth flags.

A five-year simulation fails in year five because each year was a little worse; a single
end-to-end time hides that. These functions work on the report's phase dicts so that the
terminal, JSON, Markdown and history all see the same figures.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from typing import Any


def _geometric_mean_growth(values: Sequence[float]) -> float:
    """Average per-step growth as a fraction (compound), e.g. 0.10 for +10%/year."""
    first, last, steps = values[0], values[-1], len(values) - 1
    if first <= 0 or steps <= 0:
        return 0.0
    return float((last / first) ** (1.0 / steps) - 1.0)


def annotate_years(phases: list[dict[str, Any]], *, growth_pct: float) -> list[dict[str, Any]]:
    """Fill ``yoy_change_pct``, ``yoy_memory_change_pct`` and ``cumulative_s`` in place.

    Returns growth flags, one per component whose time or memory grows systematically.
    """
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for phase in phases:
        if phase.get("year") is not None:
            by_name[phase["name"]].append(phase)
    flags: list[dict[str, Any]] = []
    for name, rows in by_name.items():
        rows.sort(key=lambda p: p["year"])
        cumulative = 0.0
        previous: dict[str, Any] | None = None
        for row in rows:
            cumulative += row["median_s"]
            row["cumulative_s"] = cumulative
            if previous is not None:
                if previous["median_s"] > 0:
                    row["yoy_change_pct"] = (row["median_s"] / previous["median_s"] - 1) * 100
                before, now = previous.get("peak_rss_mb"), row.get("peak_rss_mb")
                if before and now is not None:
                    row["yoy_memory_change_pct"] = (now / before - 1) * 100
            previous = row
        if len(rows) < 3:
            continue
        flags.extend(_flags_for(name, rows, growth_pct))
    return flags


def _flags_for(name: str, rows: list[dict[str, Any]], growth_pct: float) -> list[dict[str, Any]]:
    flags = []
    times = [float(r["median_s"]) for r in rows]
    rises = sum(1 for a, b in itertools.pairwise(times) if b > a)
    growth = _geometric_mean_growth(times) * 100
    years = f"{rows[0]['year']}–{rows[-1]['year']}"
    if rises == len(times) - 1 and growth > growth_pct / 2:
        flags.append(
            {
                "name": name,
                "metric": "time",
                "flag": "rising_every_year",
                "growth_pct_per_year": growth,
                "detail": f"{name}: time rose every year {years} "
                f"({times[0]:.3f} s → {times[-1]:.3f} s, {growth:+.1f}%/year)",
            }
        )
    elif growth > growth_pct and rises >= len(times) - 2:
        flags.append(
            {
                "name": name,
                "metric": "time",
                "flag": "growing",
                "growth_pct_per_year": growth,
                "detail": f"{name}: time grows {growth:+.1f}%/year over {years} "
                f"(threshold {growth_pct:g}%)",
            }
        )
    memory = [r.get("peak_rss_mb") for r in rows]
    if all(m is not None and m > 0 for m in memory):
        values = [float(m) for m in memory if m is not None]
        mem_growth = _geometric_mean_growth(values) * 100
        if mem_growth > growth_pct:
            flags.append(
                {
                    "name": name,
                    "metric": "memory",
                    "flag": "growing",
                    "growth_pct_per_year": mem_growth,
                    "detail": f"{name}: peak memory grows {mem_growth:+.1f}%/year over {years} "
                    f"({values[0]:.0f} MB → {values[-1]:.0f} MB, threshold {growth_pct:g}%)",
                }
            )
    return flags


def summarize_test(phases: Sequence[dict[str, Any]], *, slowest: int = 3) -> dict[str, Any]:
    """Per-test summary: total time, SLA breaches, components in POOR/CRITICAL, slowest phases."""
    total = sum(float(p["median_s"]) for p in phases)
    breaches = sum(1 for p in phases if p.get("sla_status") == "SLA_BREACH")
    poor = sorted({p["name"] for p in phases if p.get("sla_category") in ("POOR", "CRITICAL")})
    ranked = sorted(phases, key=lambda p: float(p["median_s"]), reverse=True)[:slowest]
    keys = [p["name"] if p.get("year") is None else f"{p['name']}@{p['year']}" for p in ranked]
    return {"total_s": total, "sla_breaches": breaches, "poor_or_critical": poor, "slowest": keys}
