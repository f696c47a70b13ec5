"""Verdicts as data: SLA status and category, and the comparison of a phase with its baseline.

``judge_phase`` returns a frozen ``PhaseVerdict`` that says what was measured, against which
baseline, the class, and why; the plugin only turns failing verdicts into test failures. The
statistics themselves live in ``stats``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_simperf.calibration import MachineComparison as Comparability
from pytest_simperf.instructions import InstructionComparison, judge_instructions
from pytest_simperf.markers import EffectiveSla, TestOptions
from pytest_simperf.results import PhaseRecord
from pytest_simperf.stats import (
    DEFAULT_CPU_SESSION_DRIFT,
    DEFAULT_WALL_SESSION_DRIFT,
    MEASURED_DRIFT_SESSIONS,
    REGRESSIONS,
    TimeComparison,
    classify_change,
    combine_confirmation,
    compare_times,
    median,
    session_drift,
    severity_rank,
)

SLA_ORDER = ("WITHIN_SLA", "SLA_WARNING", "SLA_BREACH")
CATEGORY_ORDER = ("EXCELLENT", "GOOD", "POOR", "CRITICAL")
# Memory changes smaller than this are allocator noise, whatever their percentage: how much a
# region adds to RSS depends on what the allocators already hold from earlier work in the
# process (seen here: 17 → 35 MB for the same dbt year from one session to the next).
MEMORY_FLOOR_MB = 32.0
# ... or than this fraction of the process's RSS when the region started.
MEMORY_FLOOR_FRACTION = 0.10
# A region whose CPU time is at least this fraction of its wall time is judged on CPU time.
CPU_BOUND_FRACTION = 0.5
# A phase timed once, shorter than this, is judged by counters and memory only: scheduler and
# cache jitter on a shared machine is a large fraction of a few milliseconds.
ONE_SAMPLE_MIN_S = 0.02


@dataclasses.dataclass(frozen=True)
class SlaResult:
    status: str | None
    category: str | None
    reasons: tuple[str, ...]


def _category(fraction: float) -> str:
    if fraction <= 0.5:
        return "EXCELLENT"
    if fraction <= 0.8:
        return "GOOD"
    if fraction <= 1.0:
        return "POOR"
    return "CRITICAL"


def judge_sla(record: PhaseRecord, sla: EffectiveSla | None) -> SlaResult:
    """Status and category of one region against its SLA; the worst limit decides."""
    if sla is None or sla.empty:
        return SlaResult(None, None, ())
    # (label, value, limit, warning limit, unit)
    checks: list[tuple[str, float, float, float | None, str]] = []
    if sla.seconds is not None:
        checks.append(("time", record.median_s, sla.seconds, sla.warning_seconds, "s"))
    alloc = record.peak_alloc_mb
    if sla.memory_mb is not None and alloc is not None:
        checks.append(("memory", alloc, sla.memory_mb, sla.warning_memory_mb, "MB"))
    status_rank, worst_fraction, reasons = 0, 0.0, []
    for label, value, limit, warn, unit in checks:
        fraction = value / limit
        worst_fraction = max(worst_fraction, fraction)
        if value > limit:
            status_rank = 2
            reasons.append(
                f"{label} {value:.3f} {unit} exceeds the SLA of {limit:g} {unit} ({sla.source})"
            )
        elif warn is not None and value > warn:
            status_rank = max(status_rank, 1)
    rate = record.rows_per_s
    if sla.rows_per_second is not None and rate is not None:
        fraction = sla.rows_per_second / rate if rate > 0 else float("inf")
        worst_fraction = max(worst_fraction, fraction)
        if rate < sla.rows_per_second:
            status_rank = 2
            reasons.append(
                f"throughput {rate:,.0f} rows/s is below the SLA of "
                f"{sla.rows_per_second:,.0f} rows/s ({sla.source})"
            )
        elif rate < sla.rows_per_second / sla.warning:
            status_rank = max(status_rank, 1)
    if not checks and sla.rows_per_second is None:
        return SlaResult(None, None, ())
    return SlaResult(SLA_ORDER[status_rank], _category(worst_fraction), tuple(reasons))


@dataclasses.dataclass(frozen=True)
class PhaseVerdict:
    """Everything known about one phase after comparison; ``to_json`` is the report shape."""

    record: PhaseRecord
    severity: str
    time: TimeComparison | None
    memory_severity: str | None
    memory_change_pct: float | None
    plan_changed: bool
    counter_severity: str | None
    sla: SlaResult
    sla_limits: EffectiveSla | None
    baseline: Mapping[str, Any] | None
    comparability: Comparability
    why: str
    instructions: InstructionComparison | None = None
    # Time compared for the report but not judged (baseline from another host).
    time_info: TimeComparison | None = None
    instruction_env: Mapping[str, str] | None = None

    def gate(self) -> GateFigures:
        """The figure that decided this phase's class (see ``GateFigures``)."""
        return gate_figures(self)

    def to_json(self) -> dict[str, Any]:
        r, b = self.record, self.baseline or {}
        ins = self.instructions
        shown = self.time or self.time_info
        gate = self.gate()
        return {
            "metric": gate.metric,
            "value": gate.value,
            "baseline_value": gate.baseline_value,
            "name": r.name,
            "year": r.year,
            "source": r.source,
            "rounds": len(r.samples_s),
            "samples_s": list(r.samples_s),
            "confirm_samples_s": r.confirm_samples_s,
            "median_s": r.median_s,
            "cpu_s": r.cpu_median_s,
            "baseline_cpu_s": b.get("cpu_s"),
            "cpu_samples_s": list(r.cpu_s),
            "confirm_cpu_samples_s": r.confirm_cpu_s,
            "runq_wait_s": r.wait_median_s,
            "time_metric": None
            if shown is None or self.baseline is None
            else (time_metric(r, self.baseline)),
            "baseline_median_s": b.get("median_s"),
            "change_pct": gate.change_pct,
            "time_change_pct": None if shown is None else shown.change_pct,
            "time_gated": self.time is not None,
            "severity": self.severity,
            "time_severity": None if self.time is None else self.time.severity,
            "p_value": None if self.time is None else self.time.p_value,
            "noise_pct": None if self.time is None else self.time.noise_pct,
            "too_noisy": False if self.time is None else self.time.too_noisy,
            "advice": None if self.time is None else self.time.advice,
            "noise_margin_pct": None if self.time is None else self.time.margin_pct,
            "noise_tips": [] if self.time is None else list(self.time.tips),
            "time_unclassed": None if self.time is None else self.time.unclassed,
            "comparison": self.comparability.mode,
            "instructions": r.instructions,
            "baseline_instructions": b.get("instructions"),
            "instructions_change_pct": None if ins is None else ins.change_pct,
            "instructions_severity": None if ins is None else ins.severity,
            "instructions_note": r.meta.get("instructions_note")
            if ins is None or ins.severity is None
            else None,
            "instructions_env": dict(self.instruction_env)
            if self.instruction_env is not None and r.instructions is not None
            else None,
            "peak_rss_mb": r.peak_rss_mb,
            "peak_alloc_mb": r.peak_alloc_mb,
            "baseline_peak_rss_mb": b.get("peak_rss_mb"),
            "baseline_peak_alloc_mb": b.get("peak_alloc_mb"),
            "memory_change_pct": self.memory_change_pct,
            "memory_severity": self.memory_severity,
            "duckdb_peak_buffer_mb": r.duckdb_peak_buffer_mb,
            "rows": r.rows,
            "rows_per_s": r.rows_per_s,
            "rows_scanned": r.rows_scanned,
            "baseline_rows_scanned": b.get("rows_scanned"),
            "intermediate_rows": r.intermediate_rows,
            "baseline_intermediate_rows": b.get("intermediate_rows"),
            "plan_changed": self.plan_changed,
            "counters_complete": r.counters_complete,
            "counters_note": r.meta.get("counters_note"),
            "counter_severity": self.counter_severity,
            "sla_seconds": None if self.sla_limits is None else self.sla_limits.seconds,
            "sla_memory_mb": None if self.sla_limits is None else self.sla_limits.memory_mb,
            "sla_rows_per_second": (
                None if self.sla_limits is None else self.sla_limits.rows_per_second
            ),
            "sla_source": None if self.sla_limits is None else self.sla_limits.source,
            "sla_status": self.sla.status,
            "sla_category": self.sla.category,
            "yoy_change_pct": None,
            "yoy_memory_change_pct": None,
            "cumulative_s": None,
            "why": self.why,
        }


@dataclasses.dataclass(frozen=True)
class GateFigures:
    """The one figure a phase's class rests on, which every report shows first, named.

    ``metric`` is ``cpu`` or ``wall`` (seconds), ``instructions``, ``rows_scanned`` or
    ``intermediate_rows`` (counts) or ``memory`` (MB of peak allocation); ``change_pct`` is
    ``value`` against ``baseline_value``. Reports computed their own figures before, and a row
    showed wall-time medians beside a CPU-time Δ%.
    """

    metric: str
    value: float | None
    baseline_value: float | None
    change_pct: float | None


def _counter_figures(verdict: PhaseVerdict) -> GateFigures:
    """The counter that moved most (rows scanned when neither moved)."""
    r, b = verdict.record, verdict.baseline or {}
    best: GateFigures | None = None
    for name in ("rows_scanned", "intermediate_rows"):
        now, then = getattr(r, name), b.get(name)
        if now is None or then is None:
            continue
        change = (now - then) / then * 100 if then else (0.0 if now == then else float("inf"))
        figures = GateFigures(name, float(now), float(then), change)
        if best is None or abs(change) > abs(best.change_pct or 0.0):
            best = figures
    return best or GateFigures("rows_scanned", r.rows_scanned, b.get("rows_scanned"), None)


def gate_figures(verdict: PhaseVerdict) -> GateFigures:
    """Which figure decided ``verdict``'s class, with its value, baseline and change.

    A regression or improvement names the gate that gave that class, deterministic gates first
    as ``reasons`` reads them (instructions, DuckDB counters, time, memory). An OK phase names
    the steadiest figure that was judged: instructions, then time where it is gated, then the
    counters; time compared but not judged (another host) comes after them. A phase with no
    comparison (no baseline) names its time, on the clock a comparison would use.
    """
    r, b = verdict.record, verdict.baseline or {}
    ins = verdict.instructions

    def of_time(cmp: TimeComparison) -> GateFigures:
        metric = time_metric(r, b) if verdict.baseline is not None else "wall"
        return GateFigures(metric, cmp.current_s, cmp.baseline_s, cmp.change_pct)

    def of_instructions() -> GateFigures:
        assert ins is not None
        return GateFigures(
            "instructions",
            None if ins.instructions is None else float(ins.instructions),
            None if ins.baseline_instructions is None else float(ins.baseline_instructions),
            ins.change_pct,
        )

    def of_memory() -> GateFigures:
        then = b.get("peak_alloc_mb")
        return GateFigures(
            "memory",
            r.peak_alloc_mb,
            None if then is None else float(then),
            verdict.memory_change_pct,
        )

    severity = verdict.severity
    if severity not in ("OK", "NEW"):
        if ins is not None and ins.severity == severity:
            return of_instructions()
        if verdict.counter_severity == severity:
            return _counter_figures(verdict)
        if verdict.time is not None and verdict.time.severity == severity:
            return of_time(verdict.time)
        if verdict.memory_severity == severity:
            return of_memory()
    if ins is not None and ins.severity is not None:
        return of_instructions()
    if verdict.time is not None:
        return of_time(verdict.time)
    if verdict.counter_severity is not None:
        return _counter_figures(verdict)
    if verdict.time_info is not None:
        return of_time(verdict.time_info)
    return GateFigures("wall", r.median_s, None if not b else b.get("median_s"), None)


def worst(severities: Sequence[str | None]) -> str:
    """The worst class among several (``OK`` when none)."""
    present = [s for s in severities if s is not None]
    return max(present, key=severity_rank) if present else "OK"


def _counter_verdict(
    record: PhaseRecord, baseline: Mapping[str, Any], options: TestOptions, threads_match: bool
) -> tuple[str | None, bool, str | None]:
    """Exact comparison of DuckDB's deterministic counters: any increase is at least MINOR."""
    if not threads_match or not record.counters_complete:
        return None, False, None
    changes: list[tuple[str, int, int]] = []
    for name in ("rows_scanned", "intermediate_rows"):
        now, then = getattr(record, name), baseline.get(name)
        if now is None or then is None:
            continue
        if now != then:
            changes.append((name, int(now), int(then)))
    if not changes:
        return (
            "OK" if record.rows_scanned is not None and "rows_scanned" in baseline else None,
            False,
            None,
        )
    severities, parts = [], []
    for name, now, then in changes:
        fraction = (now - then) / then if then else float("inf")
        severity = classify_change(fraction, options.thresholds)
        if now > then and severity_rank(severity) < severity_rank("MINOR"):
            severity = "MINOR"  # exact counters: no noise to tolerate
        severities.append(severity)
        parts.append(f"{name.replace('_', ' ')} {then:,} → {now:,} ({fraction * 100:+.1f}%)")
    return worst(severities), True, "plan changed: " + "; ".join(parts)


def _memory_verdict(
    record: PhaseRecord, baseline: Mapping[str, Any], options: TestOptions
) -> tuple[str | None, float | None, str | None]:
    now, then = record.peak_alloc_mb, baseline.get("peak_alloc_mb")
    if now is None or then is None:
        return None, None, None
    then = float(then)
    change = (now - then) / then * 100 if then > 0 else None
    floor = max(MEMORY_FLOOR_MB, MEMORY_FLOOR_FRACTION * (record.start_rss_mb or 0.0))
    if abs(now - then) < floor or change is None:
        return "OK", change, None
    severity = classify_change(change / 100, options.memory_thresholds)
    if severity_rank(severity) >= severity_rank("MINOR"):
        return severity, change, f"peak memory {then:.1f} → {now:.1f} MB ({change:+.1f}%)"
    return severity, change, None


def time_metric(record: PhaseRecord, baseline: Mapping[str, Any]) -> str:
    """``cpu`` when both sides have per-round CPU time and the region is CPU-bound, else ``wall``.

    On a shared machine a neighbour's load inflates wall time but hardly the process's own CPU
    time (measured here: 8.5% vs 0.8% spread within a session, ×3 vs ×1.07 between sessions;
    docs/verdicts.md). A region that mostly waits (I/O, sleeps) has little CPU time to compare,
    so it is judged on wall time.
    """
    base_cpu = baseline.get("cpu_samples_s") or []
    base_wall = baseline.get("samples_s") or [baseline["median_s"]]
    if not base_cpu or len(record.cpu_s) != len(record.samples_s) or not record.cpu_s:
        return "wall"
    if record.confirm_samples_s and not record.confirm_cpu_s:
        return "wall"
    # Time spent runnable but waiting for a core is the neighbours' doing, not the region's:
    # at a load of 5 on 2 cores a pure CPU-bound query shows CPU/wall ≈ 0.4.
    queued = float(baseline.get("runq_wait_s") or 0.0)
    busy = max(median([float(x) for x in base_wall]) - queued, 0.0)
    if median([float(x) for x in base_cpu]) < CPU_BOUND_FRACTION * busy:
        return "wall"
    return "cpu"


def assumed_drift(baseline: Mapping[str, Any], metric: str) -> tuple[float, int]:
    """Between-session spread to allow for this baseline entry, and its recording sessions."""
    if metric == "cpu":
        medians = baseline.get("session_cpu_medians") or []
        observed = baseline.get("session_cpu_spread")
        prior = DEFAULT_CPU_SESSION_DRIFT
    else:
        medians = baseline.get("session_medians") or []
        observed = baseline.get("session_spread")
        prior = DEFAULT_WALL_SESSION_DRIFT
    sessions = max(1, len(medians))
    spread = None if observed is None else float(observed)
    return session_drift(spread, sessions, prior), sessions


def judge_time(
    record: PhaseRecord,
    baseline: Mapping[str, Any],
    options: TestOptions,
    comparability: Comparability,
) -> TimeComparison | None:
    """Time comparison on the metric ``time_metric`` picks, folding in a confirmation rerun."""
    if comparability.mode not in ("same_machine", "other_machine"):
        return None
    metric = time_metric(record, baseline)
    if metric == "cpu":
        base_samples = [float(x) for x in baseline["cpu_samples_s"]]
        current, confirm_samples = record.cpu_s, record.confirm_cpu_s
    else:
        base_samples = [float(x) for x in baseline.get("samples_s") or [baseline["median_s"]]]
        current, confirm_samples = record.samples_s, record.confirm_samples_s
    history_spread, sessions = assumed_drift(baseline, metric)
    first = compare_times(
        base_samples,
        current,
        thresholds=options.thresholds,
        history_spread=history_spread,
        sessions=sessions,
    )
    drift_note = f"between-session drift ±{100 * history_spread:.1f}% " + (
        f"assumed: {sessions} recording session{'s' if sessions > 1 else ''}"
        if sessions < MEASURED_DRIFT_SESSIONS
        else f"from {sessions} sessions"
    )
    first = dataclasses.replace(first, why=f"{metric} time {first.why} [{drift_note}]")
    needed = record.meta.get("time_min_samples")
    if isinstance(needed, int) and min(len(base_samples), len(current)) < needed:
        return _unclassed_few_samples(first, record, baseline, needed)
    if (
        len(base_samples) == 1
        and len(record.samples_s) == 1
        and min(base_samples[0], record.median_s) < ONE_SAMPLE_MIN_S
    ):
        return dataclasses.replace(
            first,
            severity="OK" if first.severity not in ("OK", "IMPROVED") else first.severity,
            too_noisy=True,
            advice=f"a single run under {ONE_SAMPLE_MIN_S * 1000:.0f} ms is mostly jitter: "
            "time it with simperf.measure() (repeated rounds) or make the phase longer",
            tips=(
                f"a single run under {ONE_SAMPLE_MIN_S * 1000:.0f} ms is mostly jitter: time it"
                " with simperf.measure() (repeated rounds) or make the phase longer",
            ),
            unclassed=f"a single run under {ONE_SAMPLE_MIN_S * 1000:.0f} ms",
            why=first.why + f"; one run under {ONE_SAMPLE_MIN_S * 1000:.0f} ms cannot carry a "
            "timing verdict (counters and memory still gate)",
        )
    if confirm_samples:
        confirm = compare_times(
            base_samples,
            confirm_samples,
            thresholds=options.thresholds,
            history_spread=history_spread,
            sessions=sessions,
        )
        return combine_confirmation(first, confirm)
    problem = record.meta.get("confirm_problem")
    if problem and first.severity in REGRESSIONS:
        # A time class is claimed only when a fresh process agrees; this one could not run.
        return dataclasses.replace(
            first,
            severity="OK",
            why=f"{first.why}; not claimed: the fresh-process confirmation failed ({problem})",
        )
    return first


def _unclassed_few_samples(
    first: TimeComparison, record: PhaseRecord, baseline: Mapping[str, Any], needed: int
) -> TimeComparison:
    """A phase that asks for ``needed`` samples a side (``meta["time_min_samples"]``: the dbt
    fixture's phases) and has fewer: its time change is reported, never classed. One dbt model
    run of 50 ms moves by +50% to +265% between unchanged sessions, and a noise floor learned
    from three baseline sessions did not contain it; its exact DuckDB counters gate it."""
    counted = record.rows_scanned is not None and baseline.get("rows_scanned") is not None
    tip = f"time classes need {needed} samples a side (rounds={needed})"
    return dataclasses.replace(
        first,
        severity="OK",
        borderline=False,
        too_noisy=True,
        advice=tip,
        tips=(tip,),
        unclassed=tip,
        why=f"{first.why}; too few samples to class its time"
        + ("; DuckDB's exact counters gate it" if counted else ""),
    )


def judge_phase(
    record: PhaseRecord,
    baseline: Mapping[str, Any] | None,
    *,
    options: TestOptions,
    sla: EffectiveSla | None,
    comparability: Comparability,
    threads_match: bool,
    instruction_env: Mapping[str, str] | None = None,
) -> PhaseVerdict:
    """Judge one phase: SLA, time, instructions, memory and counters against its baseline.

    Each gate decides only where it holds: counters and instructions on any host (at equal
    threads and, for instructions, the same interpreter and DuckDB); seconds only against a
    baseline from this host; memory only on this host with the same cores.
    """
    sla_result = judge_sla(record, sla)
    if baseline is None:
        return PhaseVerdict(
            record=record,
            severity="NEW",
            time=None,
            memory_severity=None,
            memory_change_pct=None,
            plan_changed=False,
            counter_severity=None,
            sla=sla_result,
            sla_limits=sla,
            baseline=None,
            comparability=comparability,
            why="no baseline yet: record one with --simperf-update-baseline",
            instruction_env=instruction_env,
        )
    time_cmp = judge_time(record, baseline, options, comparability)
    time_info = None
    if time_cmp is not None and not comparability.time_gated:
        time_cmp, time_info = None, time_cmp
    counter_severity, plan_changed, counter_why = _counter_verdict(
        record, baseline, options, threads_match
    )
    memory_severity, memory_change, memory_why = _memory_verdict(record, baseline, options)
    if not comparability.memory:
        memory_severity, memory_why = None, None
    instructions = (
        None
        if instruction_env is None and record.instructions is None
        else judge_instructions(
            record.instructions,
            baseline,
            instruction_env,
            options.thresholds,
            note=record.meta.get("instructions_note"),
        )
    )
    severities = [
        None if time_cmp is None else time_cmp.severity,
        counter_severity,
        memory_severity,
        None if instructions is None else instructions.severity,
    ]
    severity = worst(severities)
    if (
        severity == "OK"
        and any(s == "IMPROVED" for s in severities)
        and not any(
            s is not None and severity_rank(s) >= severity_rank("MINOR") for s in severities
        )
    ):
        severity = "IMPROVED"
    reasons = []
    if instructions is not None and instructions.severity is not None:
        reasons.append(instructions.why)
    if time_cmp is not None:
        reasons.append(time_cmp.why)
    elif time_info is not None:
        reasons.append(f"time not judged (another host): {time_info.why}")
    reasons.extend(x for x in (counter_why, memory_why) if x)
    if not record.counters_complete and record.meta.get("counters_note"):
        reasons.append(f"{record.meta['counters_note']} (not gated on counters)")
    if instructions is not None and instructions.severity is None:
        reasons.append(instructions.why)
    return PhaseVerdict(
        record=record,
        severity=severity,
        time=time_cmp,
        memory_severity=memory_severity,
        memory_change_pct=memory_change,
        plan_changed=plan_changed,
        counter_severity=counter_severity,
        sla=sla_result,
        sla_limits=sla,
        baseline=baseline,
        comparability=comparability,
        why="; ".join(reasons),
        instructions=instructions,
        time_info=time_info,
        instruction_env=instruction_env,
    )


def wants_confirmation(
    record: PhaseRecord,
    baseline: Mapping[str, Any] | None,
    options: TestOptions,
    comparability: Comparability,
) -> bool:
    """True when a rerun should confirm the time verdict before it can fail the test."""
    if baseline is None or options.fail_on == "never":
        return False
    if not comparability.time_gated:
        return False
    cmp = judge_time(record, baseline, options, comparability)
    if cmp is None:
        return False
    failing = severity_rank(cmp.severity) >= severity_rank(options.fail_on)
    return cmp.borderline or failing


def fails(severity: str, fail_on: str) -> bool:
    """Does a class fail a test under ``--simperf-fail-on``?"""
    if fail_on == "never" or severity in ("NEW", "OK", "IMPROVED"):
        return False
    return severity_rank(severity) >= severity_rank(fail_on)
