"""The terminal summary: one table of every measured phase, then what needs attention."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_simperf.report.figures import TIME_METRICS, fmt_count, judged
from pytest_simperf.stats import (
    DEFAULT_CPU_SESSION_DRIFT,
    DEFAULT_WALL_SESSION_DRIFT,
    MEASURED_DRIFT_SESSIONS,
    threshold_tip,
)


def fmt_seconds(value: float | None) -> str:
    """Human-scaled seconds: 412µs, 12.3ms, 1.234s."""
    if value is None:
        return "-"
    if value < 1e-3:
        return f"{value * 1e6:.0f}µs"
    if value < 1:
        return f"{value * 1e3:.1f}ms"
    return f"{value:.3f}s"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:+.1f}%"


def _count(value: float | None) -> str:
    return "-" if value is None else fmt_count(value)


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}MB"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned text columns (numbers right-aligned), two spaces apart."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]
    numeric = [
        all(cell[:1] in "+-0123456789" or cell == "-" for cell in (r[i] for r in rows)) and rows
        for i in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if num else cell.ljust(width)
            for cell, width, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in rows)
    return out


def _short(nodeid: str, width: int = 48) -> str:
    return nodeid if len(nodeid) <= width else "…" + nodeid[-(width - 1) :]


# ``baseline_status`` of a perf test that failed or errored before it was judged (its own
# assertion, a fixture, a setup error): the session lists it with no phases, so the counts
# include it; nothing else reads a measurement from it.
NOT_JUDGED = "not judged"


def unjudged_failures(tests: Sequence[Mapping[str, Any]]) -> list[str]:
    """Node ids of perf tests that failed or errored before a verdict: their own assertion, a
    fixture, a setup error. The session lists them with ``baseline_status`` "not judged" and
    no phases; the summary names them rather than saying nothing was measured."""
    return [
        str(t["nodeid"])
        for t in tests
        if t.get("baseline_status") == NOT_JUDGED and t.get("outcome") in ("failed", "error")
    ]


def judged_cells(phase: Mapping[str, Any]) -> tuple[str, str, str]:
    """(metric, value now, baseline value) of the figure the verdict judged, formatted.

    Δ% beside them is that figure's change: showing wall medians beside a CPU-time Δ% made rows
    like "601.6ms vs 360.7ms +219.2%" that contradicted themselves. A phase recorded before the
    verdict named its metric shows the clock it compared (CPU when known, else wall).
    """
    fig = judged(phase)
    if fig.metric in TIME_METRICS:
        return fig.metric, fmt_seconds(fig.value), fmt_seconds(fig.baseline_value)
    if fig.metric == "memory":
        return fig.metric, _mb(fig.value), _mb(fig.baseline_value)
    return fig.label, _count(fig.value), _count(fig.baseline_value)


def _years(years: Sequence[int]) -> str:
    """``@2025`` / ``@2025–2029`` / ``@2025,2027``: the years a note covers."""
    if not years:
        return ""
    if len(years) == 1:
        return f"@{years[0]}"
    if years == list(range(years[0], years[-1] + 1)):
        return f"@{years[0]}–{years[-1]}"
    return "@" + ",".join(str(y) for y in years)


def noise_notes(tests: Sequence[Mapping[str, Any]], minor_pct: float) -> list[str]:
    """One ``noisy`` line per component (test and phase name, its years collapsed).

    A five-year test used to print five near-identical lines, each with the full advice. The
    margins are given as a range; the advice is the one for the noisiest year, which says what
    dominates its noise (jitter within the run, or drift between sessions given how many the
    baseline pools). Phases whose time is not gated on this host carry no time advice at all.
    """
    lines: list[str] = []
    for test in tests:
        groups: dict[str, list[Mapping[str, Any]]] = {}
        unclassed: dict[str, int] = {}
        for phase in test.get("phases") or []:
            if not (phase.get("too_noisy") and phase.get("advice")):
                continue
            if not phase.get("time_gated", True):
                continue
            if phase.get("time_unclassed"):  # no class by rule: one line for all of them
                reason = str(phase["time_unclassed"])
                unclassed[reason] = unclassed.get(reason, 0) + 1
                continue
            groups.setdefault(str(phase["name"]), []).append(phase)
        for reason, count in unclassed.items():
            lines.append(
                f"timing  {_short(str(test['nodeid']))}: {count} phase"
                f"{'s' if count != 1 else ''} timed but not classed on time: {reason};"
                " DuckDB's exact counters and memory still gate them"
            )
        for name, phases in groups.items():
            years = sorted(int(p["year"]) for p in phases if p.get("year") is not None)
            margins = [float(p["noise_margin_pct"]) for p in phases if p.get("noise_margin_pct")]
            worst = max(phases, key=lambda p: float(p.get("noise_margin_pct") or 0.0))
            head = f"noisy   {_short(str(test['nodeid']))} {name}{_years(years)}: "
            tips = list(worst.get("noise_tips") or [])
            if not margins or not tips:  # a report from before the tips were kept apart
                lines.append(head + str(worst["advice"]))
                continue
            low, high = min(margins), max(margins)
            spread = f"±{low:.0f}%" if round(low) == round(high) else f"±{low:.0f}–{high:.0f}%"
            lines.append(
                head
                + f"noise alone can move it by {spread}, more than the MINOR threshold"
                + f" {minor_pct:g}%: "
                + "; ".join([*tips, threshold_tip(high)])
            )
    return lines


def render_summary(report: dict[str, Any]) -> str:
    """The text shown after the run: the phase table, growth flags, baselines, warnings."""
    lines: list[str] = []
    run = report["run"]
    options = run["options"]
    thresholds = "/".join(f"{t:g}" for t in options["thresholds"])
    lines.append(
        f"thresholds MINOR/MAJOR/CRITICAL > {thresholds}% · fail on {options['fail_on']} · "
        f"DuckDB threads {run['duckdb_threads'] or 'auto'} · rounds {options['rounds']}"
        + (" · QUICK (no confirmation reruns)" if options["quick"] else "")
        + (" · recording baselines" if options["update_baseline"] else "")
    )
    counted = any(
        p.get("instructions") is not None or p.get("baseline_instructions") is not None
        for t in report["tests"]
        for p in t["phases"]
    )
    rows = []
    for test in report["tests"]:
        for phase in test["phases"]:
            key = phase["name"] if phase["year"] is None else f"{phase['name']}@{phase['year']}"
            metric, now, then = judged_cells(phase)
            rows.append(
                [
                    _short(test["nodeid"]),
                    key,
                    metric,
                    now,
                    then,
                    _pct(phase["change_pct"]),
                    phase["severity"] + (" plan" if phase["plan_changed"] else ""),
                    phase["sla_status"] or "-",
                    fmt_seconds(phase.get("median_s")),
                    _mb(phase["peak_alloc_mb"]),
                    _pct(phase.get("yoy_change_pct")),
                ]
                + ([_pct(phase.get("instructions_change_pct"))] if counted else [])
            )
    headers = [
        "test",
        "phase",
        "metric",
        "now",
        "baseline",
        "Δ%",
        "class",
        "SLA",
        "wall",
        "memory",
        "YoY",
    ]
    if rows:
        lines.extend(table(headers + (["instr Δ%"] if counted else []), rows))
    unjudged = unjudged_failures(report["tests"])
    if unjudged:
        lines.append(
            f"{len(unjudged)} performance test(s) failed before being judged (see the failure "
            "above): " + ", ".join(_short(nodeid, 60) for nodeid in unjudged)
        )
    elif not rows:
        lines.append("no performance test measured anything")
    # Which gates decided, said once per session rather than once per test or phase.
    reasons: dict[str, int] = {}
    for test in report["tests"]:
        if test["comparison"] not in ("none",) and test.get("comparison_reason"):
            reasons[test["comparison_reason"]] = reasons.get(test["comparison_reason"], 0) + 1
    for reason, count in reasons.items():
        lines.append(f"gates   {count} test(s): {reason}")
    instructions = run.get("instructions") or {}
    if instructions.get("enabled"):
        if instructions.get("problem"):
            lines.append(f"gates   instructions not counted: {instructions['problem']}")
        else:
            lines.append(
                "gates   instructions counted under valgrind in "
                f"{instructions.get('child_runs', 0)} child process(es), "
                f"{instructions.get('seconds', 0.0):.1f} s"
            )
    for test in report["tests"]:
        for flag in test["growth"]:
            lines.append(f"growth  {_short(test['nodeid'])}: {flag['detail']}")
        for phase in test["phases"]:
            if phase.get("counters_note") and not phase.get("counters_complete", True):
                lines.append(
                    f"counted {_short(test['nodeid'])} {phase['name']}: {phase['counters_note']}"
                )
    lines.extend(noise_notes(report["tests"], options["thresholds"][0]))
    base = report["baselines"]
    for label in ("created", "updated", "removed", "stale", "new"):
        items = base.get(label) or []
        if items:
            verb = {
                "stale": "stale baseline entries (test no longer exists; removed on "
                "--simperf-update-baseline)",
                "new": "new (no baseline yet; record with --simperf-update-baseline)",
                "removed": "stale entries removed",
            }.get(label, f"baselines {label}")
            lines.append(f"{verb}: {len(items)}")
            lines.extend(f"  {nodeid}" for nodeid in items)
    few = base.get("few_sessions") or []
    if few:
        lines.append(
            f"note: {len(few)} recorded test(s) pool fewer than {MEASURED_DRIFT_SESSIONS}"
            " sessions; until they do, the verdict assumes a drift between sessions of"
            f" ±{DEFAULT_CPU_SESSION_DRIFT:.0%} (CPU time) or ±{DEFAULT_WALL_SESSION_DRIFT:.0%}"
            " (wall time), which widens its noise margin. Pool more: pytest"
            " --simperf-add-baseline-session"
        )
    for message in base.get("errors") or []:
        lines.append(f"error: {message}")
    for path in base.get("files_written") or []:
        lines.append(f"wrote {path}")
    if run.get("xdist_workers"):
        lines.append(
            f"note: measured on {run['xdist_workers']} parallel xdist workers, which disturb "
            "each other's timings; see README 'Parallel runs' to keep perf tests serial"
        )
    for message in report.get("output_errors") or []:
        lines.append(f"error: {message}")
    # Every perf test pytest failed or errored counts, whatever the cause (a regression, its
    # own assertion, a fixture): the line must never say 0 failed when pytest says otherwise.
    failed = [t for t in report["tests"] if t["outcome"] in ("failed", "error")]
    lines.append(
        f"{len(report['tests'])} performance test(s), {len(failed)} failed"
        + ("" if not failed else ": " + ", ".join(_short(t["nodeid"], 60) for t in failed))
    )
    return "\n".join(lines)
