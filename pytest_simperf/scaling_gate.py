"""The ``scaling`` marker's gate: parse the marker, fit each instance group, judge it.

A scaling test runs once per size; the core judges every instance like any other test. This
module takes those per-instance report dicts (the core's run-report shape, so it works the same
on an xdist controller that only has the merged reports), turns them into one cost per size and
metric, fits the growth with :mod:`pytest_simperf.scaling`, and compares it with the class and
exponent kept in the baseline. Pure: no pytest, no DuckDB.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

from pytest_simperf.errors import BaselineError, UsageError
from pytest_simperf.scaling import (
    GROWTH_CLASSES,
    MIN_SIZES,
    GrowthFit,
    ScalingVerdict,
    compare_growth,
    fit_growth,
    parse_sizes,
)
from pytest_simperf.verdict import fails, worst

METRICS: tuple[str, ...] = ("time", "rows_scanned", "intermediate_rows")
COUNTERS: tuple[str, ...] = ("rows_scanned", "intermediate_rows")
DEFAULT_MARGIN = 0.25
# CPU share of wall time above which a phase is timed on the CPU clock (``cpu_bound_phases``).
# Lower than the core's CPU_BOUND_FRACTION, which looks at a calm baseline: a scaling group is
# judged on one run, and on this 2-core machine at load 5 busy DuckDB phases kept shares of
# 0.26–1.0 while a sleeping phase stays near 0.
CPU_SHARE = 0.2


@dataclasses.dataclass(frozen=True)
class ScalingSpec:
    """One parsed ``@pytest.mark.scaling(...)``; ``metrics`` is None for ``'auto'``."""

    sizes: tuple[int, ...]
    metrics: tuple[str, ...] | None = None
    max_class: str | None = None
    exponent_margin: float = DEFAULT_MARGIN

    def to_json(self) -> dict[str, Any]:
        return {
            "sizes": list(self.sizes),
            "metric": "auto" if self.metrics is None else list(self.metrics),
            "max_class": self.max_class,
            "exponent_margin": self.exponent_margin,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ScalingSpec:
        metric = data["metric"]
        return cls(
            sizes=tuple(int(n) for n in data["sizes"]),
            metrics=None if metric == "auto" else tuple(metric),
            max_class=data.get("max_class"),
            exponent_margin=float(data["exponent_margin"]),
        )


def parse_scaling(args: Sequence[Any], kwargs: Mapping[str, Any], where: str) -> ScalingSpec:
    """Validate one ``scaling`` marker; ``where`` names the test in any error."""
    if args:
        raise UsageError(f"{where}: scaling() takes keyword arguments only, got {tuple(args)!r}")
    known = {"employees", "metric", "max_class", "exponent_margin"}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise UsageError(
            f"{where}: scaling() got unknown keyword(s) {', '.join(unknown)}; "
            f"expected {', '.join(sorted(known))}"
        )
    if "employees" not in kwargs:
        raise UsageError(
            f"{where}: scaling() needs employees=[...], the sizes to run (e.g. [1_000, 10_000, "
            "100_000] or scale names)"
        )
    sizes = tuple(parse_sizes(kwargs["employees"], where=f"{where}: scaling(employees=...)"))
    metrics = _parse_metric(kwargs.get("metric", "auto"), where)
    max_class = kwargs.get("max_class")
    if max_class is not None and max_class not in GROWTH_CLASSES:
        raise UsageError(
            f"{where}: scaling(max_class=...) must be one of {', '.join(GROWTH_CLASSES)}, "
            f"got {max_class!r}"
        )
    margin = kwargs.get("exponent_margin", DEFAULT_MARGIN)
    if (
        isinstance(margin, bool)
        or not isinstance(margin, int | float)
        or not math.isfinite(margin)
        or margin < 0
    ):
        raise UsageError(
            f"{where}: scaling(exponent_margin=...) must be a non-negative number, got {margin!r}"
        )
    return ScalingSpec(sizes, metrics, max_class, float(margin))


def _parse_metric(value: Any, where: str) -> tuple[str, ...] | None:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, Sequence) or not items:
        raise UsageError(f"{where}: scaling(metric=...) must be a name or a list, got {value!r}")
    names: list[str] = []
    for item in items:
        if item == "auto" and len(items) == 1:
            return None
        if item not in METRICS:
            raise UsageError(
                f"{where}: scaling(metric=...) got {item!r}; expected 'auto' or any of "
                f"{', '.join(METRICS)}"
            )
        if item not in names:
            names.append(item)
    return tuple(names)


# ---------------------------------------------------------------------------------------------
# Costs


@dataclasses.dataclass(frozen=True)
class InstanceCost:
    """One instance's cost per metric, and which phases each counter was summed over.

    ``time_rounds`` holds the instance's time round by round (the fit takes their median and
    learns the noise from their spread); empty when the phases' rounds cannot be lined up.
    """

    costs: dict[str, float]
    counter_phases: dict[str, tuple[str, ...]]
    time_rounds: tuple[float, ...] = ()

    def samples(self, metric: str) -> list[float]:
        """What the fit gets for this instance: every round of time, else the one cost."""
        if metric == "time" and self.time_rounds:
            return list(self.time_rounds)
        return [self.costs[metric]]


def cpu_bound_phases(reports: Sequence[Mapping[str, Any]]) -> frozenset[str]:
    """Phases timed by CPU rather than wall clock: one clock per phase across all sizes.

    A neighbour's load inflates wall time but hardly the process's own CPU time (see
    ``verdict.time_metric``). Load lowers the CPU share of a busy region, while a region that
    waits (I/O, sleeps) has a share near zero at every size: so a phase counts as CPU-bound when
    its CPU time was recorded at every size and reached ``CPU_SHARE`` of wall at one of them.
    """
    ratios: dict[str, list[float]] = {}
    for report in reports:
        for p in report.get("phases") or []:
            cpu, wall = p.get("cpu_s"), p["median_s"]
            ratio = cpu / wall if cpu is not None and cpu > 0 and wall > 0 else 0.0
            ratios.setdefault(_phase_key(p), []).append(ratio)
    return frozenset(
        key
        for key, values in ratios.items()
        if len(values) == len(reports) and min(values) > 0 and max(values) >= CPU_SHARE
    )


def instance_costs(
    report: Mapping[str, Any], cpu_phases: frozenset[str] = frozenset()
) -> InstanceCost:
    """One cost per metric for one instance, from its core report.

    Time is the sum of its phases' medians (CPU time for ``cpu_phases``, wall time for the
    rest), and also round by round when every phase has the same number of rounds or just one
    (a phase timed once adds its time to every round). A counter is the sum over the phases that
    recorded it (DuckDB's counts are exact).
    """
    phases = report.get("phases") or []
    costs: dict[str, float] = {}
    counted: dict[str, tuple[str, ...]] = {}
    rounds: tuple[float, ...] = ()
    if phases:
        cpu = [_phase_key(p) in cpu_phases for p in phases]
        costs["time"] = float(
            sum(
                p["cpu_s"] if on_cpu else p["median_s"]
                for p, on_cpu in zip(phases, cpu, strict=True)
            )
        )
        samples = [
            [float(x) for x in (p.get("cpu_samples_s") if on_cpu else p.get("samples_s")) or []]
            for p, on_cpu in zip(phases, cpu, strict=True)
        ]
        lengths = {len(s) for s in samples}
        longest = max(lengths)
        if min(lengths) >= 1 and lengths <= {1, longest} and longest > 1:
            rounds = tuple(
                sum(s[i] if len(s) > 1 else s[0] for s in samples) for i in range(longest)
            )
    for counter in COUNTERS:
        present = {_phase_key(p): p[counter] for p in phases if p.get(counter) is not None}
        if present:
            costs[counter] = float(sum(present.values()))
            counted[counter] = tuple(sorted(present))
    return InstanceCost(costs, counted, rounds)


def _phase_key(phase: Mapping[str, Any]) -> str:
    return str(phase["name"]) if phase.get("year") is None else f"{phase['name']}@{phase['year']}"


def available_metrics(per_size: Sequence[InstanceCost]) -> list[str]:
    """Metrics measured at every size; a counter only when the same phases recorded it."""
    found = []
    for metric in METRICS:
        if not all(metric in cost.costs for cost in per_size):
            continue
        if metric in COUNTERS and len({cost.counter_phases[metric] for cost in per_size}) != 1:
            continue
        found.append(metric)
    return found


# ---------------------------------------------------------------------------------------------
# Judging a group


@dataclasses.dataclass(frozen=True)
class GroupVerdict:
    """What the scaling gate says about one group: for ``Session.attach_extra``."""

    report_data: dict[str, Any]
    baseline_data: dict[str, Any] | None
    failures: list[str]
    severity: str | None


def _fmt_sizes(sizes: Sequence[int]) -> str:
    return ", ".join(f"{n:,}" for n in sizes)


def judge_group(
    spec: ScalingSpec,
    group: str,
    instances: Sequence[tuple[int, Mapping[str, Any] | None]],
    *,
    baseline: Any,
    baseline_file: str,
    update: bool,
    fail_on: str,
    accept: str,
) -> GroupVerdict:
    """Fit a group's instances and judge the fit against its baseline and ``max_class``.

    ``instances`` pairs each selected size with its report (None when that instance failed,
    errored or was not run); ``baseline`` is the ``scaling`` value of the baseline entry, or None.
    """
    sizes = [size for size, _ in instances]
    base = {"group": group, "spec": spec.to_json(), "sizes": sizes}
    missing = [size for size, report in instances if report is None]
    if missing:
        why = (
            f"no growth fit: no measurement at size {_fmt_sizes(missing)} "
            "(that instance failed, errored, measured nothing or was not run)"
        )
        return GroupVerdict({**base, "status": "incomplete", "why": why}, None, [], None)
    if len(sizes) < MIN_SIZES:
        why = (
            f"no growth fit: only {len(sizes)} of the {len(spec.sizes)} sizes were selected "
            f"({_fmt_sizes(sizes)}); at least {MIN_SIZES} are needed"
        )
        return GroupVerdict({**base, "status": "skipped", "why": why}, None, [], None)

    reports = [report or {} for _, report in instances]
    cpu_phases = cpu_bound_phases(reports)
    per_size = [instance_costs(report, cpu_phases) for report in reports]
    all_phases = {_phase_key(p) for report in reports for p in report.get("phases") or []}
    clock = "cpu" if cpu_phases == all_phases else "wall" if not cpu_phases else "mixed"
    available = available_metrics(per_size)
    failures: list[str] = []
    if spec.metrics is None:
        counters = [m for m in COUNTERS if m in available]
        gated = counters or (["time"] if "time" in available else [])
    else:
        gated = [m for m in spec.metrics if m in available]
        for metric in spec.metrics:
            if metric not in available:
                failures.append(
                    f"scaling: metric {metric!r} was not recorded at every size of {group}"
                    + (
                        "; profile DuckDB through simperf.track(con) or the duckdb_con fixture"
                        if metric in COUNTERS
                        else ""
                    )
                )
    fits = {}
    for metric in available:
        points = [
            (n, x) for n, cost in zip(sizes, per_size, strict=True) for x in cost.samples(metric)
        ]
        fits[metric] = fit_growth(
            [n for n, _ in points], [x for _, x in points], metric=metric, noisy=metric == "time"
        )

    stored: dict[str, GrowthFit] = {}
    if baseline is not None and not update:
        try:
            stored = _stored_fits(baseline)
        except BaselineError as exc:
            failures.append(
                f"scaling baseline of {group} in {baseline_file}: {exc}; record it again with "
                f"{accept}"
            )

    metrics: dict[str, Any] = {}
    severities: list[str] = []
    lines: list[str] = []
    for metric, fit in fits.items():
        is_gated = metric in gated
        limit = (
            compare_growth(
                None, fit, exponent_margin=spec.exponent_margin, max_class=spec.max_class
            )
            if spec.max_class is not None and is_gated
            else None
        )
        verdict: ScalingVerdict | None = None
        if not update:
            verdict = compare_growth(stored.get(metric), fit, exponent_margin=spec.exponent_margin)
        severity = verdict.severity if verdict is not None else None
        if limit is not None and limit.severity == "CRITICAL":
            severity = "CRITICAL"
            failures.append(f"scaling: {metric} of {group}: {limit.why}")
        if is_gated and severity is not None:
            severities.append(severity)
            if verdict is not None and fails(verdict.severity, fail_on):
                failures.append(
                    f"{verdict.severity} scaling regression in {metric} of {group}: {verdict.why} "
                    f"[baseline {baseline_file}; fail-on {fail_on}]. If this change is intended, "
                    f"accept it with: {accept}"
                )
        metrics[metric] = {
            "gated": is_gated,
            "clock": clock if metric == "time" else None,
            "fit": fit.to_json(),
            "reason": fit.reason,
            "verdict": None if verdict is None else verdict.to_json(),
            "max_class": None if limit is None else limit.to_json(),
        }
        label = fit.growth_class or "no class"
        why = verdict.why if verdict is not None else fit.reason
        name = f"time ({clock} clock)" if metric == "time" else metric
        lines.append(f"{name}{'' if is_gated else ', not gated'}: {label} — {why}")
    severity = worst(severities) if severities else None
    if not fits:
        lines.append("no growth fit: the instances measured nothing comparable")
    report_data = {
        **base,
        "status": "fitted",
        "gated": gated,
        "severity": severity,
        "metrics": metrics,
        "why": "; ".join(lines),
        "lines": lines,
    }
    baseline_data = (
        {"sizes": sizes, "time_clock": clock, "fits": {m: fit.to_json() for m, fit in fits.items()}}
        if update
        else None
    )
    return GroupVerdict(report_data, baseline_data, failures, severity)


def _stored_fits(baseline: Any) -> dict[str, GrowthFit]:
    if not isinstance(baseline, Mapping) or not isinstance(baseline.get("fits"), Mapping):
        raise BaselineError("'scaling' must be an object with 'fits'")
    return {str(metric): GrowthFit.from_json(data) for metric, data in baseline["fits"].items()}


def section(report_data: Mapping[str, Any]) -> str:
    """The text of the per-test report section."""
    lines = [f"scaling over sizes {_fmt_sizes(report_data.get('sizes', []))}"]
    if report_data.get("status") == "fitted":
        lines.extend(report_data.get("lines", []))
    else:
        lines.append(str(report_data.get("why", "")))
    return "\n".join(lines)
