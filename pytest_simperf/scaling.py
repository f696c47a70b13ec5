"""Growth-class fitting: how a cost grows with data size, and whether that got worse.

A pipeline that is linear at 5K rows and quadratic at 100K passes every SLA in CI and fails in
production, so we fit cost against size and gate on the *shape* of the curve, not on any one point.

Method (see docs/scaling.md for the long version):

* Repeated measurements at one size are reduced to their median, and their spread gives a noise
  estimate.
* Every candidate class g(n) is fitted as ``c0 + c1·g(n)`` with ``c0, c1 ≥ 0`` (a fixed overhead
  plus the growing part) by weighted least squares on relative error, because real costs carry a
  fixed overhead that makes a pure power law underestimate the exponent.
* Fits are compared by their residual error on log cost. "Constant" is kept unless growth is
  significant (an F test against the best growing model); between neighbours that are hard to tell
  apart (log vs linear, linear vs n log n) the lower class wins unless the higher one fits clearly
  better; if two classes two or more steps apart fit about equally well, no class is claimed.
* Deterministic counters (``noisy=False``) must fit exactly; the lowest exactly fitting class wins.
* The exponent is the Theil–Sen slope of log cost against log size (robust, no overhead model);
  ``net_exponent`` is the exponent of the growing part once a fixed overhead is removed.

No numpy: five to ten points do not need it, and the plugin must import cheaply.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pytest_simperf.errors import BaselineError, UsageError
from pytest_simperf.workforce.spec import SCALES, scale_names

__all__ = [
    "GROWTH_CLASSES",
    "SCALE_SIZES",
    "GrowthFit",
    "ScalingVerdict",
    "compare_growth",
    "fit_growth",
    "parse_sizes",
]

GROWTH_CLASSES: tuple[str, ...] = ("constant", "log", "linear", "nlogn", "quadratic", "cubic")
"""Growth classes, ordered from cheapest to most expensive."""

SCALE_SIZES: Mapping[str, int] = SCALES
"""Named workforce scales (employees): the workforce fixture's own vocabulary."""

MIN_SIZES = 3
"""Distinct sizes needed before a class is claimed: two points fit every two-parameter model."""

# The growing part g(n) of each class; "constant" has none.
_GROWTH_FUNCTIONS: dict[str, Callable[[float], float]] = {
    "log": math.log,
    "linear": lambda n: n,
    "nlogn": lambda n: n * math.log(n),
    "quadratic": lambda n: n * n,
    "cubic": lambda n: n * n * n,
}

# The power-law exponent each class looks like: the limit a fit with no class is held to, and the
# least a robust exponent must show before a quadratic or cubic fit is believed (minus one).
_NOMINAL_EXPONENT: dict[str, float] = {
    "constant": 0.0,
    "log": 0.0,
    "linear": 1.0,
    "nlogn": 1.0,
    "quadratic": 2.0,
    "cubic": 3.0,
}

# Neighbours that a few noisy points cannot reliably separate. (log n over 1K-100K grows only
# 1.7x; n log n differs from n by the same 1.7x, which a fixed overhead can hide.) The classifier
# keeps the lower one unless the upper one fits clearly better; on timings a move between them is
# judged by the exponent margin, not by the class, and ``max_class`` lets the upper one pass unless
# the exponents confirm it.
_HARD_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {("constant", "log"), ("log", "linear"), ("linear", "nlogn")}
)

# Critical values of F(1, d) at the 5% level, d = 1..20; beyond 20 the value at 20 is used
# (slightly conservative). Used for "clearly better fit".
_F_CRIT_05: tuple[float, ...] = (
    161.45, 18.51, 10.13, 7.71, 6.61, 5.99, 5.59, 5.32, 5.12, 4.96,
    4.84, 4.75, 4.67, 4.60, 4.54, 4.49, 4.45, 4.41, 4.38, 4.35,
)  # fmt: skip

# The same at the 2% level, for "growth is significant": a false claim of growth costs more than a
# missed one, which the exponent still shows.
_F_CRIT_02: tuple[float, ...] = (
    1012.55, 48.51, 20.62, 14.04, 11.32, 9.88, 8.99, 8.39, 7.96, 7.64,
    7.39, 7.19, 7.02, 6.89, 6.77, 6.67, 6.59, 6.51, 6.45, 6.39,
)  # fmt: skip

_NOISE_FLOOR = 0.01
"""Smallest relative noise assumed for timings: a 1% wiggle is never evidence of shape."""

_MAX_SCATTER = 0.25
"""Largest RMS log residual (~25%) around the chosen model for which a class is still claimed."""

_AMBIGUITY = 3.0
"""Classes two or more steps apart whose squared errors differ by less than this many noise
variances are "about equally good": no class is claimed."""

_MIN_CORROBORATION = 0.05
"""Smallest robust-exponent change (and at least two standard errors) that confirms a class
change between noisy fits."""

_NET_CORROBORATION = 0.5
"""Net-exponent change that confirms a class change between noisy fits on its own."""

_MAX_NET_EXPONENT = 5.0

_MIXTURE_SHARE = 0.10
"""Share of the cost at the largest size from which a counter's faster term names its class."""

_MAX_APPROXIMATION = 0.10
"""Largest deviation of a counter from its nearest class for an approximate claim."""


@dataclass(frozen=True)
class GrowthFit:
    """How one metric grows with size: the claimed class, with the evidence and a sentence why."""

    growth_class: str | None
    """One of ``GROWTH_CLASSES``, or None when the data do not support a claim (see ``reason``)."""
    exponent: float
    """Theil–Sen slope of log cost on log size (nan with fewer than two sizes)."""
    r_squared: float
    """Share of the variance of log cost the chosen model explains (0.0 when none is chosen)."""
    points: tuple[tuple[float, float], ...]
    """(size, median cost) per distinct size, ascending."""
    metric: str
    reason: str
    net_exponent: float | None = None
    """Exponent b of ``c0 + a·n^b``: growth once fixed overhead is removed (None if flat)."""
    overhead: float = 0.0
    """Fixed cost c0 of the chosen model, in the metric's unit."""
    noisy: bool = True
    """False for deterministic counters, whose class changes need no corroboration."""
    exponent_stderr: float | None = None
    """Standard error of ``exponent`` from the measured noise (0.0 for exact counters)."""

    def to_json(self) -> dict[str, Any]:
        """The baseline form: what a later fit is compared with (no prose, so diffs stay quiet)."""
        return {
            "class": self.growth_class,
            "exponent": _json_float(self.exponent),
            "net_exponent": _json_float(self.net_exponent),
            "r_squared": _json_float(self.r_squared),
            "points": [[_json_size(size), cost] for size, cost in self.points],
            "metric": self.metric,
            "noisy": self.noisy,
            "exponent_stderr": _json_float(self.exponent_stderr),
        }

    @classmethod
    def from_json(cls, data: object) -> GrowthFit:
        """Rebuild a fit from ``to_json`` output; a malformed entry raises ``BaselineError``."""
        if not isinstance(data, Mapping):
            raise BaselineError(f"scaling baseline must be an object, got {type(data).__name__}")
        for key in ("class", "exponent", "r_squared", "points", "metric"):
            if key not in data:
                raise BaselineError(f"scaling baseline is missing {key!r}")
        growth_class = data["class"]
        if growth_class is not None and growth_class not in GROWTH_CLASSES:
            raise BaselineError(
                f"scaling baseline has unknown class {growth_class!r}; "
                f"expected one of {', '.join(GROWTH_CLASSES)} or null"
            )
        metric = data["metric"]
        if not isinstance(metric, str) or not metric:
            raise BaselineError(f"scaling baseline 'metric' must be a non-empty string: {metric!r}")
        noisy = data.get("noisy", True)
        if not isinstance(noisy, bool):
            raise BaselineError(f"scaling baseline 'noisy' must be true or false: {noisy!r}")
        exponent = _baseline_float(data, "exponent", nullable=True)
        return cls(
            growth_class=growth_class,
            exponent=math.nan if exponent is None else exponent,
            r_squared=_baseline_float(data, "r_squared"),
            points=_baseline_points(data["points"]),
            metric=metric,
            reason="recorded in the baseline",
            net_exponent=_baseline_float(data, "net_exponent", nullable=True),
            noisy=noisy,
            exponent_stderr=_baseline_float(data, "exponent_stderr", nullable=True),
        )


@dataclass(frozen=True)
class ScalingVerdict:
    """The outcome of comparing a growth fit with its baseline (and with an allowed maximum)."""

    severity: str
    baseline_class: str | None
    current_class: str | None
    baseline_exponent: float | None
    current_exponent: float
    why: str

    def to_json(self) -> dict[str, Any]:
        """The report form of the verdict."""
        return {
            "severity": self.severity,
            "baseline_class": self.baseline_class,
            "current_class": self.current_class,
            "baseline_exponent": _json_float(self.baseline_exponent),
            "current_exponent": _json_float(self.current_exponent),
            "why": self.why,
        }


# ---------------------------------------------------------------------------------------------
# Sizes


def parse_sizes(value: object, *, where: str = "scaling sizes") -> list[int]:
    """Turn marker or option input into sorted distinct sizes; ``where`` names it in errors.

    Accepts an int, a scale name, a comma-separated string, or a sequence of those.
    """
    items: list[object]
    if isinstance(value, str):
        items = [part for part in value.split(",") if part.strip()]
    elif isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        items = list(value)
    else:
        items = [value]
    sizes = sorted({_parse_size(item, where) for item in items})
    if len(sizes) < MIN_SIZES:
        shown = ", ".join(f"{size:,}" for size in sizes) or "none"
        raise UsageError(
            f"{where}: need at least {MIN_SIZES} distinct sizes to fit a growth class, "
            f"got {len(sizes)} ({shown})"
        )
    return sizes


def _parse_size(item: object, where: str) -> int:
    if isinstance(item, bool):
        raise UsageError(f"{where}: {item!r} is not a size")
    if isinstance(item, str):
        text = item.strip().lower()
        if text in SCALE_SIZES:
            return SCALE_SIZES[text]
        try:
            size = int(text)
        except ValueError:
            raise UsageError(
                f"{where}: unknown size {item!r}; use a positive integer or one of {scale_names()}"
            ) from None
    elif isinstance(item, int):
        size = item
    elif isinstance(item, float) and item.is_integer():
        size = int(item)
    else:
        raise UsageError(f"{where}: {item!r} is not a size (expected a positive integer)")
    if size < 1:
        raise UsageError(f"{where}: sizes must be positive, got {size}")
    return size


# ---------------------------------------------------------------------------------------------
# Fitting


@dataclass(frozen=True)
class _ModelFit:
    name: str
    overhead: float
    scale: float
    sse: float  # sum of squared log residuals; inf when the model cannot describe the data


def fit_growth(
    sizes: Sequence[float],
    costs: Sequence[float],
    *,
    metric: str = "time",
    noisy: bool = True,
) -> GrowthFit:
    """Fit how ``costs`` grow with ``sizes`` and claim a growth class only when the data support it.

    ``sizes`` may repeat (one entry per round); each size is reduced to its median cost. Use
    ``noisy=False`` for deterministic counters such as rows scanned, which must fit exactly.
    """
    if len(sizes) != len(costs):
        raise ValueError(f"got {len(sizes)} sizes but {len(costs)} costs")
    groups: dict[float, list[float]] = {}
    for size, cost in zip(sizes, costs, strict=True):
        size_f, cost_f = float(size), float(cost)
        if not math.isfinite(size_f) or size_f < 1:
            raise ValueError(f"sizes must be finite and at least 1, got {size!r}")
        if not math.isfinite(cost_f) or cost_f < 0:
            raise ValueError(f"costs must be finite and non-negative, got {cost!r}")
        groups.setdefault(size_f, []).append(cost_f)
    ns = sorted(groups)
    ys = [statistics.median(groups[n]) for n in ns]
    points = tuple(zip(ns, ys, strict=True))
    m = len(ns)

    def refuse(reason: str, *, exponent: float = math.nan, r_squared: float = 0.0) -> GrowthFit:
        return GrowthFit(None, exponent, r_squared, points, metric, reason, noisy=noisy)

    span = _describe_span(ns)
    if m < MIN_SIZES:
        return refuse(
            f"no class claimed: {m} distinct size(s) ({span}); at least {MIN_SIZES} are needed",
            exponent=_theil_sen(ns, ys) if m == 2 and min(ys) > 0 else math.nan,
        )
    if all(y == 0 for y in ys):
        if noisy:
            return refuse(f"no class claimed: every cost is zero ({span}); timing is too coarse")
        return GrowthFit(
            "constant",
            0.0,
            1.0,
            points,
            metric,
            f"constant: zero at every size ({span})",
            noisy=False,
            exponent_stderr=0.0,
        )
    if min(ys) <= 0:
        zero_at = ", ".join(f"{n:,.0f}" for n, y in points if y <= 0)
        return refuse(
            f"no class claimed: cost is zero at size {zero_at} but not elsewhere; "
            "growth is judged on a log scale, which needs positive costs"
        )

    exponent = _theil_sen(ns, ys)
    fits = {name: _fit_model(name, ns, ys) for name in GROWTH_CLASSES}
    if noisy:
        noise = _replicate_noise(groups)
        return _classify_noisy(ns, ys, fits, points, metric, exponent, noise, span)
    return _classify_exact(ns, ys, fits, points, metric, exponent, span)


def _classify_noisy(
    ns: list[float],
    ys: list[float],
    fits: dict[str, _ModelFit],
    points: tuple[tuple[float, float], ...],
    metric: str,
    exponent: float,
    replicates: tuple[float, int],
    span: str,
) -> GrowthFit:
    """Pick a class for noisy costs: constant unless growth is significant, parsimony, ambiguity."""
    m = len(ns)
    dof = m - 2
    growing = GROWTH_CLASSES[1:]
    best = min(growing, key=lambda name: fits[name].sse)
    # Noise of a point on the log scale: residuals of the best growing model, pooled with the
    # spread of repeated rounds when there are any (many more degrees of freedom).
    replicate_var, replicate_dof = replicates
    total_dof = dof + replicate_dof
    noise_var = max((fits[best].sse + replicate_var * replicate_dof) / total_dof, _NOISE_FLOOR**2)
    # "Clearly better": lower squared error by more than the 5% F threshold in noise units.
    clear = _F_CRIT_05[min(total_dof, len(_F_CRIT_05)) - 1] * noise_var
    significant = _F_CRIT_02[min(total_dof, len(_F_CRIT_02)) - 1] * noise_var
    tie = _NOISE_FLOOR**2 * dof
    # Theil–Sen is ~10% less efficient than least squares under normal noise.
    log_sizes = [math.log(n) for n in ns]
    centre = statistics.fmean(log_sizes)
    stderr = 1.1 * math.sqrt(noise_var / sum((x - centre) ** 2 for x in log_sizes))

    def done(name: str | None, reason: str, *, growing: bool = True) -> GrowthFit:
        model = fits[name] if name is not None else None
        r_squared = _r_squared(ys, fits, name) if name is not None else 0.0
        net = _net_exponent(ns, ys) if growing else None
        return GrowthFit(
            growth_class=name,
            exponent=exponent,
            r_squared=r_squared,
            points=points,
            metric=metric,
            reason=reason,
            net_exponent=net,
            overhead=model.overhead if model is not None else 0.0,
            noisy=True,
            exponent_stderr=stderr,
        )

    # Growth is established by the F test, or because a level line would leave more scatter than
    # we ever accept as noise while a growing model explains most of it (few points make the F
    # test very cautious).
    constant_scatter = _scatter(fits["constant"].sse, m - 1)
    established = fits["constant"].sse - fits[best].sse > significant or (
        constant_scatter > _MAX_SCATTER and fits[best].sse <= fits["constant"].sse / 4
    )
    if not established:
        scatter = constant_scatter
        if scatter > _MAX_SCATTER:
            falling = " and cost falls as size grows" if exponent < -0.1 else ""
            return done(
                None,
                f"no class claimed: costs scatter ±{scatter:.0%} with no significant growth"
                f"{falling} ({span}, exponent {exponent:.2f}); measure more rounds per size",
                growing=False,
            )
        return done(
            "constant",
            f"constant: no significant growth over {span} "
            f"(exponent {exponent:.2f}, scatter ±{scatter:.0%})",
            growing=False,
        )

    # Parsimony: step down to the lower neighbour unless the upper one fits clearly better (for
    # the hard pairs) or better at all (for the others), as long as the lower one fits acceptably.
    index = GROWTH_CLASSES.index(best)
    note = ""
    while index > 1:
        lower, upper = GROWTH_CLASSES[index - 1], GROWTH_CLASSES[index]
        allowance = clear if (lower, upper) in _HARD_PAIRS else tie
        if fits[lower].sse - fits[upper].sse > allowance:
            break
        if _scatter(fits[lower].sse, dof) > _MAX_SCATTER:
            break
        note = (
            f"; {_label(upper)} fits slightly better, but not clearly enough "
            f"to claim it over {_label(lower)}"
        )
        index -= 1
    chosen = GROWTH_CLASSES[index]
    sse_chosen = fits[chosen].sse
    scatter = _scatter(sse_chosen, dof)

    rivals = [
        name
        for name in growing
        if abs(GROWTH_CLASSES.index(name) - index) >= 2
        and fits[name].sse - sse_chosen <= _AMBIGUITY * noise_var
    ]
    if rivals:
        return done(
            None,
            f"no class claimed: {_label(chosen)} and {_label(rivals[0])} fit about equally well "
            f"({span}, exponent {exponent:.2f}, scatter ±{scatter:.0%}); "
            "add sizes, widen their span or measure more rounds",
        )
    robust_floor = _NOMINAL_EXPONENT[chosen] - 1.0
    if chosen in ("quadratic", "cubic") and not exponent >= robust_floor:
        return done(
            None,
            f"no class claimed: the best fit is {_label(chosen)}, but the robust exponent "
            f"{exponent:.2f} is below {robust_floor:.0f}, so one point may be an outlier "
            f"({span}); measure more rounds per size",
        )
    if scatter > _MAX_SCATTER:
        return done(
            None,
            f"no class claimed: best fit {_label(chosen)} leaves ±{scatter:.0%} scatter "
            f"({span}, exponent {exponent:.2f}); measure more rounds per size",
        )
    fit = done(chosen, "")
    return _with_reason(fit, _claim_reason(fit, fits, span, note))


def _classify_exact(
    ns: list[float],
    ys: list[float],
    fits: dict[str, _ModelFit],
    points: tuple[tuple[float, float], ...],
    metric: str,
    exponent: float,
    span: str,
) -> GrowthFit:
    """Pick a class for deterministic counters: the lowest class that fits exactly.

    A counter that is a sum of two growths (a scan plus a join whose output grows
    quadratically) is classed by its faster term once that term is a noticeable share of the
    cost at the largest size: that is the part that will dominate as data grows.
    """
    integral = all(y.is_integer() for y in ys)
    # An exact model may still miss by the rounding of an integer counter.
    tolerance = sum((0.5 / y if integral else 1e-9) ** 2 for y in ys) * (1 + 1e-9)
    exact = [name for name in GROWTH_CLASSES if fits[name].sse <= tolerance]
    net = _net_exponent(ns, ys)

    def claim(name: str, r_squared: float, overhead: float, note: str) -> GrowthFit:
        fit = GrowthFit(
            growth_class=name,
            exponent=exponent,
            r_squared=r_squared,
            points=points,
            metric=metric,
            reason="",
            net_exponent=net if name != "constant" else None,
            overhead=overhead,
            noisy=False,
            exponent_stderr=0.0,
        )
        return _with_reason(fit, _claim_reason(fit, fits, span, note))

    if exact:
        name = exact[0]
        return claim(name, _r_squared(ys, fits, name), fits[name].overhead, "; exact fit")
    mixture = _fit_mixture(ns, ys) if len(ns) >= 4 else None
    if mixture is not None and mixture.sse <= tolerance:
        logs = [math.log(y) for y in ys]
        mean = statistics.fmean(logs)
        total = sum((v - mean) ** 2 for v in logs)
        r_squared = 1.0 - mixture.sse / total if total > 0 else 1.0
        name = mixture.high if mixture.high_share >= _MIXTURE_SHARE else mixture.low
        low, high = _label(mixture.low), _label(mixture.high)
        note = (
            f"; exact as {low} + {high}, the {high} term being "
            f"{mixture.high_share:.0%} of the cost at {ns[-1]:,.0f}"
        )
        return claim(name, r_squared, mixture.overhead, note)
    name = min(GROWTH_CLASSES, key=lambda candidate: fits[candidate].sse)
    worst = math.expm1(
        max(abs(_log_residual(fits[name], n, y)) for n, y in zip(ns, ys, strict=True))
    )
    if worst <= _MAX_APPROXIMATION:
        note = f"; approximate: no class fits exactly, largest deviation {worst:.1%}"
        return claim(name, _r_squared(ys, fits, name), fits[name].overhead, note)
    return GrowthFit(
        None,
        exponent,
        _r_squared(ys, fits, name),
        points,
        metric,
        f"no class claimed: no class or sum of two classes fits these counters (best "
        f"{_label(name)}, off by up to {worst:.0%}; {span}, exponent {exponent:.2f})",
        net_exponent=net,
        noisy=False,
        exponent_stderr=0.0,
    )


@dataclass(frozen=True)
class _Mixture:
    low: str
    high: str
    overhead: float
    high_share: float  # share of the predicted cost at the largest size from the faster term
    sse: float


def _fit_mixture(ns: Sequence[float], ys: Sequence[float]) -> _Mixture | None:
    """Best ``c0 + a·g_low(n) + b·g_high(n)`` (all ≥ 0) over pairs of growing classes."""
    growing = GROWTH_CLASSES[1:]
    weights = [1.0 / (y * y) for y in ys]
    columns = {}
    for name in growing:
        values = [_GROWTH_FUNCTIONS[name](n) for n in ns]
        top = max(values)
        columns[name] = [v / top for v in values]
    ones = [1.0] * len(ns)
    best: _Mixture | None = None
    for i, low in enumerate(growing):
        for high in growing[i + 1 :]:
            coefs = _nnls_small([ones, columns[low], columns[high]], ys, weights)
            predicted = [
                coefs[0] + coefs[1] * u + coefs[2] * v
                for u, v in zip(columns[low], columns[high], strict=True)
            ]
            if min(predicted) <= 0:
                continue
            sse = sum(math.log(y / p) ** 2 for y, p in zip(ys, predicted, strict=True))
            share = coefs[2] / predicted[-1]  # both columns are 1.0 at the largest size
            if best is None or sse < best.sse:
                best = _Mixture(low, high, coefs[0], share, sse)
    return best


def _nnls_small(
    columns: Sequence[Sequence[float]], ys: Sequence[float], ws: Sequence[float]
) -> list[float]:
    """Non-negative weighted least squares for a handful of columns, by trying every support.

    The optimum is the unconstrained solution on its own support, so with three columns the
    eight subsets are enough, and there is no iteration to get wrong.
    """
    k = len(columns)
    best: list[float] = [0.0] * k
    best_sse = sum(w * y * y for w, y in zip(ws, ys, strict=True))
    for mask in range(1, 1 << k):
        support = [j for j in range(k) if mask >> j & 1]
        solved = _weighted_lstsq([columns[j] for j in support], ys, ws)
        if solved is None or min(solved) < 0:
            continue
        coefs = [0.0] * k
        for j, c in zip(support, solved, strict=True):
            coefs[j] = c
        sse = sum(
            w * (y - sum(coefs[j] * columns[j][i] for j in support)) ** 2
            for i, (w, y) in enumerate(zip(ws, ys, strict=True))
        )
        if sse < best_sse:
            best, best_sse = coefs, sse
    return best


def _weighted_lstsq(
    columns: Sequence[Sequence[float]], ys: Sequence[float], ws: Sequence[float]
) -> list[float] | None:
    """Solve the weighted normal equations by Gaussian elimination; None when singular."""
    k = len(columns)
    a = [
        [
            sum(w * ci * cj for w, ci, cj in zip(ws, columns[r], columns[c], strict=True))
            for c in range(k)
        ]
        + [sum(w * ci * y for w, ci, y in zip(ws, columns[r], ys, strict=True))]
        for r in range(k)
    ]
    for col in range(k):
        pivot = max(range(col, k), key=lambda r: abs(a[r][col]))
        scale = max(abs(a[r][col]) for r in range(k)) or 1.0
        if abs(a[pivot][col]) <= 1e-13 * scale:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(k):
            if r != col:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[r][k] / a[r][r] for r in range(k)]


def _fit_model(name: str, ns: Sequence[float], ys: Sequence[float]) -> _ModelFit:
    """Fit ``c0 + c1·g(n)`` (c0, c1 ≥ 0) on relative error; report SSE on log cost."""
    if name != "constant":
        g = _GROWTH_FUNCTIONS[name]
        gs = [g(n) for n in ns]
        top = max(gs)
        us = [value / top for value in gs]  # scaled to ≤ 1 so cubic of 1e6 stays well conditioned
        c0, c1 = _fit_overhead_model(us, ys)
        return _ModelFit(name, c0, c1 / top, _log_sse(us, ys, c0, c1))
    us = [0.0] * len(ns)
    c0 = _fit_overhead_model(us, ys)[0]
    return _ModelFit(name, c0, 0.0, _log_sse(us, ys, c0, 0.0))


def _fit_overhead_model(us: Sequence[float], ys: Sequence[float]) -> tuple[float, float]:
    """Weighted non-negative least squares for ``y ≈ c0 + c1·u``.

    Weights 1/ŷ² (iterated from 1/y²) make the fit minimise relative error, which matches
    multiplicative timing noise and keeps small sizes from being ignored.
    """
    weights = [1.0 / (y * y) for y in ys]
    c0, c1 = _nnls2(us, ys, weights)
    for _ in range(2):
        predicted = [c0 + c1 * u for u in us]
        if min(predicted) <= 0:
            break
        weights = [1.0 / (p * p) for p in predicted]
        c0, c1 = _nnls2(us, ys, weights)
    return c0, c1


def _nnls2(us: Sequence[float], ys: Sequence[float], ws: Sequence[float]) -> tuple[float, float]:
    """Minimise Σ w·(y − c0 − c1·u)² subject to c0, c1 ≥ 0 (closed form, two unknowns)."""
    s = su = suu = sy = suy = 0.0
    for u, y, w in zip(us, ys, ws, strict=True):
        wu = w * u
        s += w
        su += wu
        suu += wu * u
        sy += w * y
        suy += wu * y
    det = s * suu - su * su
    if det > 1e-12 * s * max(suu, 1e-300):
        c1 = (s * suy - su * sy) / det
        c0 = (sy - c1 * su) / s
        if c0 >= 0 and c1 >= 0:
            return c0, c1
    # The optimum is on the boundary: overhead only, or growth only.
    candidates = [(sy / s, 0.0), (0.0, suy / suu if suu > 0 else 0.0)]

    def sse(c: tuple[float, float]) -> float:
        return sum(w * (y - c[0] - c[1] * u) ** 2 for w, u, y in zip(ws, us, ys, strict=True))

    return min(candidates, key=sse)


def _log_sse(us: Sequence[float], ys: Sequence[float], c0: float, c1: float) -> float:
    total = 0.0
    for u, y in zip(us, ys, strict=True):
        predicted = c0 + c1 * u
        if predicted <= 0:
            return math.inf
        total += math.log(y / predicted) ** 2
    return total


def _log_residual(model: _ModelFit, n: float, y: float) -> float:
    growth = _GROWTH_FUNCTIONS[model.name](n) if model.name != "constant" else 0.0
    return math.log(y / (model.overhead + model.scale * growth))


def _net_exponent(ns: Sequence[float], ys: Sequence[float]) -> float:
    """Exponent b of ``c0 + a·n^b``: the growth of the variable part once overhead is removed.

    A coarse grid finds the basin, golden-section search refines it (the profile is smooth).
    """
    top = max(ns)
    scaled = [n / top for n in ns]

    def sse(b: float) -> float:
        us = [x**b for x in scaled]
        return _log_sse(us, ys, *_fit_overhead_model(us, ys))

    step = 0.5
    grid = [i * step for i in range(int(_MAX_NET_EXPONENT / step) + 1)]
    start = min(grid, key=sse)
    lo, hi = max(0.0, start - step), min(_MAX_NET_EXPONENT, start + step)
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = sse(a), sse(b)
    while hi - lo > 2e-3:
        if fa <= fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = sse(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = sse(b)
    return round((lo + hi) / 2, 2)


def _theil_sen(ns: Sequence[float], ys: Sequence[float]) -> float:
    """Median of pairwise slopes of log cost on log size: an exponent one outlier cannot drag."""
    xs = [math.log(n) for n in ns]
    ls = [math.log(y) for y in ys]
    slopes = [
        (ls[j] - ls[i]) / (xs[j] - xs[i])
        for i in range(len(xs))
        for j in range(i + 1, len(xs))
        if xs[j] != xs[i]
    ]
    return statistics.median(slopes) if slopes else math.nan


def _replicate_noise(groups: Mapping[float, Sequence[float]]) -> tuple[float, int]:
    """Variance of a per-size median's log cost, from repeated rounds, and its degrees of freedom.

    (0.0, 0) without repeats. The spread of each size's rounds is taken from their median
    absolute deviation, so one stalled round does not make every fit look hopelessly noisy; the
    median of k samples varies about π/2 times as much as their mean.
    """
    weighted = 0.0
    dof = 0
    for samples in groups.values():
        logs = [math.log(v) for v in samples if v > 0]
        if len(logs) >= 2:
            k = len(logs)
            centre = statistics.median(logs)
            sigma = 1.4826 * statistics.median(abs(v - centre) for v in logs)
            weighted += sigma * sigma * (math.pi / 2) / k * (k - 1)
            dof += k - 1
    return (weighted / dof, dof) if dof else (0.0, 0)


def _r_squared(ys: Sequence[float], fits: Mapping[str, _ModelFit], name: str) -> float:
    """Share of the variance of log cost the model explains.

    A constant model explains no variance by construction, so for it we report 1 − the mean
    squared log residual (≈ 1 − CV²): how tightly the costs sit on one level.
    """
    logs = [math.log(y) for y in ys]
    mean = statistics.fmean(logs)
    total = sum((v - mean) ** 2 for v in logs)
    sse = fits[name].sse
    if name == "constant":
        return max(0.0, 1.0 - sse / len(ys))
    if total <= 0:
        return 1.0
    return max(0.0, 1.0 - sse / total)


def _scatter(sse: float, dof: int) -> float:
    """Typical relative deviation from the model (RMS log residual)."""
    return math.sqrt(sse / max(dof, 1))


def _with_reason(fit: GrowthFit, reason: str) -> GrowthFit:
    return GrowthFit(
        growth_class=fit.growth_class,
        exponent=fit.exponent,
        r_squared=fit.r_squared,
        points=fit.points,
        metric=fit.metric,
        reason=reason,
        net_exponent=fit.net_exponent,
        overhead=fit.overhead,
        noisy=fit.noisy,
        exponent_stderr=fit.exponent_stderr,
    )


def _claim_reason(fit: GrowthFit, fits: Mapping[str, _ModelFit], span: str, note: str) -> str:
    assert fit.growth_class is not None
    parts = [f"{_label(fit.growth_class)}: {span}, exponent {fit.exponent:.2f}"]
    if fit.net_exponent is not None and abs(fit.net_exponent - fit.exponent) >= 0.05:
        fixed = f" of {fit.overhead:.4g}" if fit.overhead > 0 else ""
        parts.append(f" ({fit.net_exponent:.2f} net of fixed cost{fixed})")
    parts.append(f", r² {fit.r_squared:.3f}")
    others = [name for name in GROWTH_CLASSES[1:] if name != fit.growth_class]
    runner = min(others, key=lambda name: fits[name].sse)
    chosen_sse = fits[fit.growth_class].sse
    if fit.noisy and fit.growth_class != "constant" and chosen_sse > 0:
        ratio = fits[runner].sse / chosen_sse
        shown = f"{ratio:.1f}x" if ratio < 100 else "over 100x"
        parts.append(f"; next best {_label(runner)} fits {shown} worse")
    return "".join(parts) + note


def _label(name: str) -> str:
    return "n log n" if name == "nlogn" else name


def _describe_span(ns: Sequence[float]) -> str:
    if not ns:
        return "no sizes"
    if len(ns) == 1:
        return f"1 size ({ns[0]:,.0f})"
    return f"{len(ns)} sizes {ns[0]:,.0f}–{ns[-1]:,.0f}"


# ---------------------------------------------------------------------------------------------
# Comparison


def compare_growth(
    baseline: GrowthFit | Mapping[str, Any] | None,
    current: GrowthFit,
    *,
    exponent_margin: float = 0.25,
    max_class: str | None = None,
) -> ScalingVerdict:
    """Judge ``current`` against its baseline and an optional ``max_class`` limit.

    A worse class, or an exponent rise beyond ``exponent_margin``, is at least MAJOR (CRITICAL when
    the current growth is quadratic or worse); exceeding ``max_class`` is CRITICAL with or without
    a baseline. A one-step class change between two noisy fits must be backed by a rising exponent,
    so neighbours that noise cannot separate do not flap.
    """
    if not (isinstance(exponent_margin, (int, float)) and math.isfinite(exponent_margin)) or (
        exponent_margin < 0
    ):
        raise UsageError(f"exponent_margin must be a non-negative number, got {exponent_margin!r}")
    if max_class is not None and max_class not in GROWTH_CLASSES:
        raise UsageError(f"max_class must be one of {', '.join(GROWTH_CLASSES)}, got {max_class!r}")
    base = GrowthFit.from_json(baseline) if isinstance(baseline, Mapping) else baseline
    if base is not None and base.metric != current.metric:
        raise ValueError(
            f"cannot compare growth of {current.metric!r} with a baseline of {base.metric!r}"
        )

    def verdict(severity: str, why: str) -> ScalingVerdict:
        return ScalingVerdict(
            severity=severity,
            baseline_class=base.growth_class if base is not None else None,
            current_class=current.growth_class,
            baseline_exponent=base.exponent if base is not None else None,
            current_exponent=current.exponent,
            why=why,
        )

    now = _describe_fit(current)
    if max_class is not None:
        breach = _exceeds(current, max_class, exponent_margin)
        if breach:
            return verdict("CRITICAL", f"{now} exceeds max_class={max_class}: {breach}")
    if base is None:
        return verdict("NEW", f"no baseline; {now}")
    before = _describe_fit(base)
    change = f"{before} → {now}"

    cur_idx = _class_index(current.growth_class)
    base_idx = _class_index(base.growth_class)
    rise = _exponent_change(base, current)
    noisy = base.noisy or current.noisy
    note = ""
    if cur_idx is not None and base_idx is not None and cur_idx != base_idx:
        worse = cur_idx > base_idx
        pair = (GROWTH_CLASSES[min(cur_idx, base_idx)], GROWTH_CLASSES[max(cur_idx, base_idx)])
        if noisy and pair in _HARD_PAIRS:
            # Timing noise moves fits across this line; the exponent margin decides below.
            note = f" ({_label(pair[0])} and {_label(pair[1])} are not told apart on timings)"
        elif noisy and not _class_change_backed(base, current, worse):
            return verdict(
                "OK",
                f"{change}: not flagged, because neither the robust exponent nor the exponent "
                "net of overhead confirms the move; noisy timings can shift a fit between "
                "classes that the data cannot separate",
            )
        elif worse:
            severity = "CRITICAL" if cur_idx >= GROWTH_CLASSES.index("quadratic") else "MAJOR"
            return verdict(severity, f"{change}: growth class got worse")
        else:
            return verdict("IMPROVED", f"{change}: growth class got better")

    partial = (
        note
        if cur_idx is not None and base_idx is not None
        else " (class unknown; exponents compared)"
    )
    if rise is None:
        return verdict("OK", f"{change}: exponents cannot be compared{partial}")
    significant = 2 * _change_stderr(base, current)
    if rise > exponent_margin and rise > significant:
        effective = _effective_exponent(current)
        critical = effective >= _NOMINAL_EXPONENT["quadratic"] - exponent_margin
        return verdict(
            "CRITICAL" if critical else "MAJOR",
            f"{change}: exponent rose by {rise:.2f}, "
            f"beyond the {exponent_margin:.2f} margin{partial}",
        )
    if rise < -max(exponent_margin, significant) and (note or cur_idx is None or base_idx is None):
        return verdict("IMPROVED", f"{change}: exponent fell by {-rise:.2f}{partial}")
    if partial:
        return verdict(
            "OK",
            f"{change}: exponent change {rise:+.2f} is within the {exponent_margin:.2f} "
            f"margin{partial}",
        )
    return verdict("OK", f"{change}: same growth")


def _exponent_change(base: GrowthFit, current: GrowthFit) -> float | None:
    """The exponent change that both views agree on, or None when it cannot be measured.

    The raw log-log exponent moves when the share of fixed overhead changes (a faster setup
    raises it), the net exponent is noisier; a change counts only as far as both show it.
    """
    if not (math.isfinite(base.exponent) and math.isfinite(current.exponent)):
        return None
    raw = current.exponent - base.exponent
    if base.net_exponent is None or current.net_exponent is None:
        return raw
    net = current.net_exponent - base.net_exponent
    if (raw > 0) != (net > 0):
        return 0.0
    return min(raw, net, key=abs)


def _class_change_backed(base: GrowthFit, current: GrowthFit, worse: bool) -> bool:
    """Whether the exponents move the same way as a class change between noisy fits.

    The robust exponent moving a little, or the net exponent moving a lot, will do: a real
    change of class moves at least one of them, a fit pushed across a class line by noise
    rarely does.
    """
    sign = 1.0 if worse else -1.0
    raw = (current.exponent - base.exponent) * sign
    if math.isfinite(raw) and raw > max(_MIN_CORROBORATION, 2 * _change_stderr(base, current)):
        return True
    if base.net_exponent is None or current.net_exponent is None:
        return False
    return (current.net_exponent - base.net_exponent) * sign > _NET_CORROBORATION


def _change_stderr(base: GrowthFit, current: GrowthFit) -> float:
    """Standard error of the difference of two exponents (0.0 when neither knows its own)."""
    return math.hypot(base.exponent_stderr or 0.0, current.exponent_stderr or 0.0)


def _effective_exponent(fit: GrowthFit) -> float:
    return fit.net_exponent if fit.net_exponent is not None else fit.exponent


def _exceeds(fit: GrowthFit, max_class: str, margin: float) -> str:
    """Why ``fit`` grows faster than ``max_class`` allows; "" when it does not or cannot tell.

    Failing outright needs firm evidence. A noisy fit one hard step above the limit (linear for
    ``log``, n log n for ``linear``) and a fit with no class only breach when both exponents are
    above the limit's own exponent plus the margin: timing noise alone moves fits across those
    lines a few percent of the time.
    """
    allowed = _NOMINAL_EXPONENT[max_class] + margin
    exponents = [fit.exponent] if fit.net_exponent is None else [fit.exponent, fit.net_exponent]
    steep = all(math.isfinite(e) and e > allowed for e in exponents)
    shown = "/".join(f"{e:.2f}" for e in exponents)
    index = _class_index(fit.growth_class)
    if index is None:
        return f"exponent {shown} is above {allowed:.2f}" if steep else ""
    limit = GROWTH_CLASSES.index(max_class)
    if index <= limit:
        return ""
    name = GROWTH_CLASSES[index]
    if fit.noisy and index == limit + 1 and (max_class, name) in _HARD_PAIRS and not steep:
        return ""
    return f"grows {_label(name)}"


def _class_index(name: str | None) -> int | None:
    return GROWTH_CLASSES.index(name) if name is not None else None


def _describe_fit(fit: GrowthFit) -> str:
    name = _label(fit.growth_class) if fit.growth_class is not None else "no class"
    exponent = f"{fit.exponent:.2f}" if math.isfinite(fit.exponent) else "n/a"
    return f"{name} (exponent {exponent})"


# ---------------------------------------------------------------------------------------------
# JSON helpers


def _json_size(size: float) -> float | int:
    return int(size) if size.is_integer() else size


def _json_float(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _baseline_float(data: Mapping[str, Any], key: str, *, nullable: bool = False) -> Any:
    value = data.get(key)
    if value is None and nullable:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise BaselineError(f"scaling baseline {key!r} must be a number, got {value!r}")
    return float(value)


def _baseline_points(value: object) -> tuple[tuple[float, float], ...]:
    if not isinstance(value, list):
        raise BaselineError(f"scaling baseline 'points' must be a list, got {value!r}")
    points = []
    for item in value:
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 2
            or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in item)
        ):
            raise BaselineError(f"scaling baseline point must be [size, cost], got {item!r}")
        points.append((float(item[0]), float(item[1])))
    return tuple(points)
