"""The one-line reason a perf test failed, for the first line of its pytest failure.

pytest shows only the first line of a failure in ``-r`` summaries, CI annotations and the JUnit
``message`` attribute; a bare ``pytest-simperf:`` there tells a reader nothing. This line names
the class (or SLA breach), the phase, the change and the metric that decided, all read from the
judged report, so every renderer of the failure says the same as the report does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_simperf.stats import SEVERITY_ORDER, severity_rank
from pytest_simperf.verdict import fails

# The metric that decided a phase's class, deterministic gates first, as the verdict weighs them.
_GATES: tuple[tuple[str, str], ...] = (
    ("instructions_severity", "instructions"),
    ("counter_severity", "counters"),
    ("time_severity", "time"),
    ("memory_severity", "memory"),
)


def phase_key(phase: Mapping[str, Any]) -> str:
    """``name`` or ``name@year``: how baselines and the summary table name a phase."""
    return str(phase["name"]) if phase.get("year") is None else f"{phase['name']}@{phase['year']}"


def _num(value: float) -> str:
    """Seconds, MB or rows/s: three significant digits, no trailing zeros (``2.1``, ``2``)."""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def _pct(value: Any) -> str:
    return "" if value is None else f" {float(value):+.1f}%"


def sla_reason(phase: Mapping[str, Any]) -> str | None:
    """``SLA_BREACH key time 2.1 s > 2 s``: the first limit the phase broke, or None."""
    if phase.get("sla_status") != "SLA_BREACH":
        return None
    key = phase_key(phase)
    median, limit = phase.get("median_s"), phase.get("sla_seconds")
    if median is not None and limit is not None and median > limit:
        return f"SLA_BREACH {key} time {_num(median)} s > {_num(limit)} s"
    alloc, limit = phase.get("peak_alloc_mb"), phase.get("sla_memory_mb")
    if alloc is not None and limit is not None and alloc > limit:
        return f"SLA_BREACH {key} memory {_num(alloc)} MB > {_num(limit)} MB"
    rate, limit = phase.get("rows_per_s"), phase.get("sla_rows_per_second")
    if rate is not None and limit is not None and rate < limit:
        return f"SLA_BREACH {key} throughput {_num(rate)} rows/s < {_num(limit)} rows/s"
    return f"SLA_BREACH {key}"


def _counter_change(phase: Mapping[str, Any]) -> str:
    """The larger relative increase of the two exact counters, e.g. `` +100.0% rows scanned``."""
    best: tuple[float, str] | None = None
    for field, label in (
        ("rows_scanned", "rows scanned"),
        ("intermediate_rows", "intermediate rows"),
    ):
        now, base = phase.get(field), phase.get(f"baseline_{field}")
        if now is None or not base:
            continue
        change = (now - base) / base * 100
        if best is None or change > best[0]:
            best = (change, label)
    return " plan changed" if best is None else f"{_pct(best[0])} {best[1]}"


def regression_reason(phase: Mapping[str, Any]) -> str:
    """``MAJOR key +38.8% cpu time``: the phase's class and the gate that gave it."""
    severity = str(phase["severity"])
    head = f"{severity} {phase_key(phase)}"
    for field, gate in _GATES:
        if phase.get(field) != severity:
            continue
        if gate == "instructions":
            return f"{head}{_pct(phase.get('instructions_change_pct'))} instructions"
        if gate == "counters":
            return f"{head}{_counter_change(phase)}"
        if gate == "time":
            metric = phase.get("time_metric") or "wall"
            return f"{head}{_pct(phase.get('change_pct'))} {metric} time"
        return f"{head}{_pct(phase.get('memory_change_pct'))} memory"
    return head


def worst_first(phase: Mapping[str, Any]) -> tuple[int, int, float]:
    """Sort key putting a test's worst phase first: its class (CRITICAL before MINOR), an SLA
    breach before none, then the larger change. A dbt test has a phase per model and year, and
    its real MAJOR must not come 20th of 20 in the failure list."""
    change, severity = phase.get("change_pct"), str(phase.get("severity") or "OK")
    return (
        -(severity_rank(severity) if severity in SEVERITY_ORDER else 0),
        0 if phase.get("sla_status") == "SLA_BREACH" else 1,
        -abs(float(change)) if isinstance(change, int | float) else 0.0,
    )


def failure_headline(report: Mapping[str, Any], failures: Sequence[str]) -> str:
    """The first reason ``report`` (one judged test) failed, on one line.

    Phases are read worst first (``worst_first``), the order the session lists its failures in
    (per phase: SLA breaches, then the regression), so the headline names the worst. A failure
    that no phase explains (an unreadable baseline file, a scaling or benchmark verdict) is
    given by its own first line.
    ``(+N more)`` says the full list below holds more than this one.
    """
    reasons: list[str] = []
    recording = report.get("baseline_status") == "recorded"
    fail_on = str(report.get("fail_on") or "MINOR")
    for phase in sorted(report.get("phases") or [], key=worst_first):
        sla = sla_reason(phase)
        if sla is not None:
            reasons.append(sla)
        if not recording and fails(str(phase.get("severity")), fail_on):
            reasons.append(regression_reason(phase))
    if not reasons:
        first = next((f.strip().splitlines()[0] for f in failures if f.strip()), "")
        reasons = [first] if first else []
    if not reasons:
        return "failed"
    more = max(len(failures), len(reasons)) - 1
    return reasons[0] + (f" (+{more} more)" if more > 0 else "")
