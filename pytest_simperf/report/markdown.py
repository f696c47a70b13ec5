"""The Markdown summary of a run, for ``$GITHUB_STEP_SUMMARY`` or a pull-request comment.

Written for a reviewer with ten seconds: the verdict on the first line, regressions first (worst
class, then largest Δ%), then SLA breaches, then baseline housekeeping; everything else is folded
into a ``<details>`` block so the summary stays short on a big suite. Pure text; no imports of
pytest or duckdb.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pytest_simperf.report.figures import (
    BASELINE_FIELDS,
    METRIC_FIELDS,
    fmt_value,
    judged,
    metric_label,
)

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")

_CLASS_ORDER = {"CRITICAL": 0, "MAJOR": 1, "MINOR": 2}
_REGRESSION = frozenset(_CLASS_ORDER)
_MAX_DETAIL_ROWS = 60
_MAX_LIST = 20


def _cell(value: Any) -> str:
    """Table-safe text: pipes and newlines would break a Markdown row."""
    return _UNESCAPED_PIPE.sub(r"\\|", str(value)).replace("\n", " ")


def _code(value: Any) -> str:
    text = str(value).replace("|", "\\|").replace("\n", " ")
    return f"`{text.replace('`', 'ˋ')}`"


def fmt_seconds(value: float | None) -> str:
    """``12.3 ms`` / ``1.23 s`` / ``–``: the precision a reader can take in."""
    if value is None:
        return "–"
    if value < 1.0:
        return f"{value * 1000:.3g} ms" if value >= 0.001 else f"{value * 1e6:.3g} µs"
    return f"{value:.3g} s" if value < 100 else f"{value:.0f} s"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}%"


def fmt_mb(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f} MB"


def _phase_key(phase: Mapping[str, Any]) -> str:
    year = phase.get("year")
    return str(phase.get("name")) if year is None else f"{phase.get('name')}@{year}"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in rows)
    return lines


def _phases(report: Mapping[str, Any]) -> list[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    return [(t, p) for t in report.get("tests") or [] for p in t.get("phases") or []]


def _regressions(
    report: Mapping[str, Any],
) -> list[tuple[str, str, str, float | None, float | None, float | None, str]]:
    """(test, phase, metric, baseline, now, Δ%, class) for each gate that regressed, worst first.

    One row per gate, with that gate's own figures: instructions, CPU or wall time (the clock the
    verdict used), DuckDB's rows scanned, memory.
    """
    found: list[tuple[str, str, str, float | None, float | None, float | None, str]] = []
    for test, phase in _phases(report):
        nodeid, key = str(test.get("nodeid")), _phase_key(phase)
        before = len(found)
        if phase.get("instructions_severity") in _REGRESSION:
            found.append(
                (
                    nodeid,
                    key,
                    "instructions",
                    phase.get("baseline_instructions"),
                    phase.get("instructions"),
                    phase.get("instructions_change_pct"),
                    str(phase["instructions_severity"]),
                )
            )
        gate = judged(phase)
        if phase.get("time_severity") in _REGRESSION:
            clock = "cpu" if phase.get("time_metric") == "cpu" else "wall"
            if gate.metric == clock:
                base, now, pct = gate.baseline_value, gate.value, gate.change_pct
            else:  # another gate decided the class; time regressed too, on its own figures
                base = phase.get(BASELINE_FIELDS[clock])
                now = phase.get(METRIC_FIELDS[clock])
                pct = phase.get("time_change_pct")
            found.append((nodeid, key, clock, base, now, pct, str(phase["time_severity"])))
        if phase.get("counter_severity") in _REGRESSION:
            counter = (
                gate.metric
                if gate.metric in ("rows_scanned", "intermediate_rows")
                else "rows_scanned"
            )
            base, now = phase.get(BASELINE_FIELDS[counter]), phase.get(METRIC_FIELDS[counter])
            found.append(
                (
                    nodeid,
                    key,
                    counter,
                    base,
                    now,
                    None if not base or now is None else (now - base) / base * 100,
                    str(phase["counter_severity"]),
                )
            )
        if phase.get("memory_severity") in _REGRESSION:
            found.append(
                (
                    nodeid,
                    key,
                    "memory",
                    phase.get("baseline_peak_alloc_mb", phase.get("baseline_peak_rss_mb")),
                    phase.get("peak_alloc_mb", phase.get("peak_rss_mb")),
                    phase.get("memory_change_pct"),
                    str(phase["memory_severity"]),
                )
            )
        if len(found) == before and phase.get("severity") in _REGRESSION:
            # A report without per-gate classes (runs read back from the history): the judged
            # figure, or the clock it was compared on for runs stored before it was named.
            found.append(
                (
                    nodeid,
                    key,
                    gate.metric,
                    gate.baseline_value,
                    gate.value,
                    gate.change_pct,
                    str(phase["severity"]),
                )
            )
    return sorted(found, key=lambda r: (_CLASS_ORDER[r[6]], -(r[5] or 0.0), r[0], r[1]))


def _fmt_metric(metric: str, value: float | None) -> str:
    return fmt_value(metric, value)


def render_markdown(report: Mapping[str, Any]) -> str:
    """Render one run report (the ``--simperf-json`` shape) as compact Markdown."""
    run = report.get("run") or {}
    tests = report.get("tests") or []
    phases = _phases(report)
    regressions = _regressions(report)
    breaches = [(t, p) for t, p in phases if p.get("sla_status") == "SLA_BREACH"]
    warnings = [(t, p) for t, p in phases if p.get("sla_status") == "SLA_WARNING"]
    plan_changes = [(t, p) for t, p in phases if p.get("plan_changed")]
    improved = [(t, p) for t, p in phases if p.get("severity") == "IMPROVED"]
    new = [(t, p) for t, p in phases if p.get("severity") == "NEW"]
    failed = [t for t in tests if t.get("outcome") == "failed"]
    baselines = report.get("baselines") or {}

    if not tests:
        headline = "⚪ **pytest-simperf**: no performance tests ran"
    elif regressions or breaches or failed:
        parts = []
        if regressions:
            parts.append(_count(len(regressions), "regression"))
        if breaches:
            parts.append(_count(len(breaches), "SLA breach", "SLA breaches"))
        if failed:
            parts.append(f"{_count(len(failed), 'test')} failed")
        headline = "❌ **pytest-simperf**: " + ", ".join(parts)
    else:
        headline = "✅ **pytest-simperf**: no regressions, all SLAs met"
    lines = [f"## {headline}", "", _run_line(run, tests, phases), ""]

    if regressions:
        lines += ["### Regressions", ""]
        rows: list[tuple[Any, ...]] = []
        for nodeid, key, metric, base, now, pct, cls in regressions:
            rows.append(
                (
                    _code(nodeid),
                    key,
                    metric_label(metric),
                    _fmt_metric(metric, base),
                    _fmt_metric(metric, now),
                    fmt_pct(pct),
                    f"**{cls}**",
                )
            )
        lines += [*_table(("Test", "Phase", "Metric", "Baseline", "Now", "Δ%", "Class"), rows), ""]

    if breaches or warnings:
        lines += ["### SLA", ""]
        rows = [
            (
                _code(t.get("nodeid")),
                _phase_key(p),
                fmt_seconds(p.get("median_s")),
                fmt_seconds(p.get("sla_seconds")),
                _sla_use(p),
                "**BREACH**" if p.get("sla_status") == "SLA_BREACH" else "warning",
            )
            for t, p in breaches + warnings
        ]
        lines += [*_table(("Test", "Phase", "Wall", "SLA", "Used", "Status"), rows), ""]

    if plan_changes:
        lines += ["### Plan changes (deterministic counters)", ""]
        rows = [
            (
                _code(t.get("nodeid")),
                _phase_key(p),
                f"{p.get('baseline_rows_scanned')} → {p.get('rows_scanned')}",
                f"{p.get('baseline_intermediate_rows')} → {p.get('intermediate_rows')}",
            )
            for t, p in plan_changes
        ]
        lines += [*_table(("Test", "Phase", "Rows scanned", "Intermediate rows"), rows), ""]

    growth = [(t, g) for t in tests for g in t.get("growth") or []]
    if growth:
        lines += ["### Growth across simulation years", ""]
        lines += [
            f"- {_code(t.get('nodeid'))} `{g.get('name')}` {g.get('metric')}: "
            f"{g.get('flag')}{' — ' + str(g['detail']) if g.get('detail') else ''}"
            for t, g in growth[:_MAX_LIST]
        ]
        lines.append("")

    housekeeping = _baseline_lines(baselines, new)
    if housekeeping:
        lines += ["### Baselines", "", *housekeeping, ""]

    if improved:
        names = ", ".join(_code(f"{t.get('nodeid')}::{_phase_key(p)}") for t, p in improved[:10])
        lines.append(
            f"Faster than baseline: {names}"
            + (f" and {len(improved) - 10} more" if len(improved) > 10 else "")
        )
        lines.append("")

    if phases:
        lines += [f"<details><summary>All {_count(len(phases), 'phase')}</summary>", ""]
        rows = []
        for t, p in phases[:_MAX_DETAIL_ROWS]:
            gate = judged(p)
            rows.append(
                (
                    _code(t.get("nodeid")),
                    _phase_key(p),
                    gate.label,
                    gate.fmt(gate.value),
                    gate.fmt(gate.baseline_value),
                    fmt_pct(gate.change_pct),
                    p.get("severity") or "–",
                    p.get("sla_status") or "–",
                    fmt_seconds(p.get("median_s")),
                    fmt_mb(p.get("peak_alloc_mb", p.get("peak_rss_mb"))),
                )
            )
        lines += _table(
            ("Test", "Phase", "Metric", "Now", "Baseline", "Δ%", "Class", "SLA", "Wall", "Memory"),
            rows,
        )
        if len(phases) > _MAX_DETAIL_ROWS:
            lines += ["", f"… {len(phases) - _MAX_DETAIL_ROWS} more in the JSON report."]
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else (plural or singular + 's')}"


def _sla_use(phase: Mapping[str, Any]) -> str:
    median, limit = phase.get("median_s"), phase.get("sla_seconds")
    if median is None or not limit:
        return "–"
    return f"{median / limit * 100:.0f}%"


def _run_line(run: Mapping[str, Any], tests: Sequence[Any], phases: Sequence[Any]) -> str:
    parts = []
    commit = run.get("git_commit")
    if commit:
        parts.append(f"commit `{str(commit)[:12]}`" + (" (dirty)" if run.get("git_dirty") else ""))
    machine = run.get("machine") or {}
    if machine.get("id"):
        parts.append(f"machine `{str(machine['id'])[:8]}`")
    parts.append(f"{_count(len(tests), 'test')}, {_count(len(phases), 'phase')}")
    if run.get("duration_s") is not None:
        parts.append(f"{run['duration_s']:.1f} s")
    fail_on = (run.get("options") or {}).get("fail_on")
    if fail_on:
        parts.append(f"fails on {fail_on}")
    return " · ".join(parts)


def _baseline_lines(
    baselines: Mapping[str, Any], new: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]
) -> list[str]:
    lines = []
    if new:
        names = [_code(f"{t.get('nodeid')}::{_phase_key(p)}") for t, p in new]
        lines.append(_listing("New (no baseline yet)", names))
    for key, title in (
        ("created", "Created"),
        ("updated", "Updated"),
        ("stale", "Stale (test no longer exists)"),
        ("errors", "Errors"),
    ):
        entries = baselines.get(key) or []
        if entries:
            lines.append(_listing(title, [_code(_entry_name(e)) for e in entries]))
    return lines


def _entry_name(entry: Any) -> str:
    if isinstance(entry, Mapping):
        for key in ("nodeid", "test", "key", "path", "file"):
            if entry.get(key):
                extra = entry.get("message") or entry.get("error")
                return f"{entry[key]}: {extra}" if extra else str(entry[key])
        return ", ".join(f"{k}={v}" for k, v in sorted(entry.items()))
    return str(entry)


def _listing(title: str, names: Sequence[str]) -> str:
    shown = ", ".join(names[:_MAX_LIST])
    more = f" and {len(names) - _MAX_LIST} more" if len(names) > _MAX_LIST else ""
    return f"- **{title}** ({len(names)}): {shown}{more}"
