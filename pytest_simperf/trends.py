"""Trend labels and step changes for one series of timings taken across runs.

Shared CI machines make timings noisy and occasionally spiky, so nothing here compares "the second
half with the first half". The trend is a Theil–Sen slope (median of pairwise slopes, immune to a
few wild points) that must pass a Mann–Kendall test *and* move the series by more than its own
run-to-run noise. Steps are found by binary segmentation: rank and mean CUSUM locators propose a
split, a two-median fit places it, and it is kept only if the medians either side differ by
several standard errors, by a minimum effect size, and the two sides are separated. Everything
works on log values because timings change by factors, not by seconds. Pure Python: no pytest,
no duckdb, no numpy.
"""

from __future__ import annotations

import math
import statistics
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from typing import Literal

TrendLabel = Literal["degrading", "improving", "stable", "insufficient"]

#: Scale factor turning a median absolute deviation into a standard deviation for normal noise.
_MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class MannKendall:
    """Mann–Kendall statistic S, its variance (tie-corrected), z score and two-sided p-value."""

    s: int
    var_s: float
    z: float
    p_value: float


@dataclass(frozen=True)
class Trend:
    """The verdict on one series, with the figures that justify it."""

    label: TrendLabel
    points: int
    slope_pct_per_run: float
    change_pct: float
    p_value: float
    noise_pct: float
    why: str


@dataclass(frozen=True)
class Step:
    """A level shift: ``index`` is the first point at the new level; ``score`` in std. errors."""

    index: int
    before: float
    after: float
    change_pct: float
    score: float


def _logs(values: Sequence[float]) -> list[float]:
    """Log of each value; timings of zero or less carry no ratio information and are refused."""
    bad = [v for v in values if not 0 < v < math.inf]
    if bad:
        raise ValueError(f"trend values must be positive finite numbers, got {bad[0]!r}")
    return [math.log(v) for v in values]


def _median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def robust_noise(logs: Sequence[float]) -> float:
    """Per-point noise (σ) from the MAD of successive differences.

    Differences cancel any slow trend and a single step only spoils one difference, so the noise
    estimate is not inflated by the very changes we are trying to detect.
    """
    if len(logs) < 3:
        return 0.0
    diffs = [b - a for a, b in pairwise(logs)]
    centre = _median(diffs)
    mad = _median([abs(d - centre) for d in diffs])
    return _MAD_TO_SIGMA * mad / math.sqrt(2.0)


def theil_sen(ys: Sequence[float]) -> tuple[float, float]:
    """Slope and intercept of ``ys`` against their index (0, 1, …) by Theil–Sen."""
    n = len(ys)
    if n < 2:
        return 0.0, (ys[0] if ys else 0.0)
    slopes: list[float] = []
    for lag in range(1, n):  # all pairs, a lag at a time: list comprehensions run in C loops
        slopes.extend([(b - a) / lag for a, b in zip(ys, ys[lag:], strict=False)])
    slope = _median(slopes)
    intercept = _median([y - slope * i for i, y in enumerate(ys)])
    return slope, intercept


def mann_kendall(ys: Sequence[float]) -> MannKendall:
    """Mann–Kendall test for a monotone trend against the index, normal approximation."""
    n = len(ys)
    s = 0
    seen: list[float] = []
    for y in ys:
        # pairs (i, j) with i < j: +1 when y_j > y_i, -1 when y_j < y_i
        s += bisect_left(seen, y) - (len(seen) - bisect_right(seen, y))
        seen.insert(bisect_left(seen, y), y)
    ties = Counter(ys).values()
    var_s = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in ties)) / 18.0
    if var_s <= 0:
        return MannKendall(s=s, var_s=0.0, z=0.0, p_value=1.0)
    if s > 0:
        z = (s - 1) / math.sqrt(var_s)
    elif s < 0:
        z = (s + 1) / math.sqrt(var_s)
    else:
        z = 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2.0))
    return MannKendall(s=s, var_s=var_s, z=z, p_value=p_value)


def classify_trend(
    values: Sequence[float],
    *,
    alpha: float = 0.001,
    min_change_pct: float = 5.0,
    noise_factor: float = 2.0,
    min_points: int = 6,
    max_points: int = 60,
) -> Trend:
    """Label a series degrading / improving / stable (or insufficient when too short).

    A label other than stable needs all three: Mann–Kendall p < ``alpha``; a Theil–Sen change over
    the window of at least ``min_change_pct``; and that change larger than ``noise_factor`` times
    the per-point noise. Only the last ``max_points`` values are used: the trend describes the
    recent past and the pairwise method is quadratic in the number of points.
    """
    ys = _logs(values[-max_points:] if max_points > 0 else values)
    n = len(ys)
    if n < min_points:
        return Trend("insufficient", n, 0.0, 0.0, 1.0, 0.0, f"{n} runs, need {min_points}")
    slope, _ = theil_sen(ys)
    mk = mann_kendall(ys)
    sigma = robust_noise(ys)
    drift = slope * (n - 1)
    change_pct = math.expm1(drift) * 100.0
    slope_pct = math.expm1(slope) * 100.0
    noise_pct = math.expm1(sigma) * 100.0
    significant = mk.p_value < alpha
    large = abs(change_pct) >= min_change_pct
    above_noise = abs(drift) > noise_factor * sigma
    figures = (
        f"{change_pct:+.1f}% over {n} runs ({slope_pct:+.2f}%/run), "
        f"Mann–Kendall p={mk.p_value:.3g}, noise ±{noise_pct:.1f}%"
    )
    if significant and large and above_noise:
        label: TrendLabel = "degrading" if drift > 0 else "improving"
        why = figures
    else:
        label = "stable"
        reasons = []
        if not significant:
            reasons.append(f"p ≥ {alpha:g}")
        if not large:
            reasons.append(f"|change| < {min_change_pct:g}%")
        if not above_noise:
            reasons.append("change within noise")
        why = f"{figures}: {', '.join(reasons)}"
    return Trend(label, n, slope_pct, change_pct, mk.p_value, noise_pct, why)


def _ranks(values: Sequence[float]) -> list[float]:
    """1-based ranks, ties given their average rank."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    for rank, index in enumerate(order, 1):
        ranks[index] = float(rank)
    if len(set(values)) < len(values):  # ties are rare in timings: only then average them
        i = 0
        while i < len(order):
            j = i
            while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
                j += 1
            for t in range(i, j + 1):
                ranks[order[t]] = (i + j) / 2.0 + 1.0
            i = j + 1
    return ranks


def _best_split(prefix: Sequence[float], n: int, m: int, scale: Callable[[int], float]) -> int:
    """Index k in [m, n − m] maximising |prefix[k]/k − (total − prefix[k])/(n − k)|·scale(k)."""
    total = prefix[n]
    candidates = range(m, n - m + 1)
    if not candidates:
        return -1
    return max(
        candidates,
        key=lambda k: abs(prefix[k] / k - (total - prefix[k]) / (n - k)) * scale(k),
    )


def _rank_split(ys: Sequence[float], lo: int, hi: int, m: int) -> int:
    """Split of ``[lo, hi)`` with the largest standardised rank-sum difference (Pettitt-style).

    Ranks make a wild run count no more than any other slow run. The difference of mean ranks
    times k(n−k)/√(k(n−k)(n+1)/3) is |U_k| standardised, U_k = Σ_{i<k≤j} sign(y_j − y_i).
    """
    n = hi - lo
    prefix = list(accumulate(_ranks(ys[lo:hi]), initial=0.0))
    k = _best_split(prefix, n, m, lambda k: math.sqrt(k * (n - k)))
    return -1 if k < 0 else lo + k


def _mean_split(ys: Sequence[float], lo: int, hi: int, m: int) -> int:
    """Split of ``[lo, hi)`` with the largest standardised difference of means (CUSUM).

    Sharper than ranks for a short new level at the end of a long series, where a rank statistic
    is capped by how few points are on the new side.
    """
    n = hi - lo
    prefix = list(accumulate(ys[lo:hi], initial=0.0))
    k = _best_split(prefix, n, m, lambda k: math.sqrt(k * (n - k)))
    return -1 if k < 0 else lo + k


def _refine_split(
    ys: Sequence[float], lo: int, hi: int, k: int, min_segment: int, reach: int = 5
) -> int:
    """Move a split to where two medians fit best (least absolute deviations).

    The locators place a split loosely (the highest point before a clean step up scores as well
    as the first point after it); the values settle *where*.
    """

    def deviation(ys_part: Sequence[float]) -> float:
        # A run faster than its level costs a little more: machines make runs slower, seldom
        # faster, so of two equally good splits the one that explains outliers as slow runs wins.
        m = _median(ys_part)
        return sum(y - m if y >= m else 1.2 * (m - y) for y in ys_part)

    # Fit only the neighbourhood: a wider stretch may hold another level, which a two-median
    # model would try to absorb by moving this split.
    start, stop = max(lo, k - 2 * reach), min(hi, k + 2 * reach)

    def cost(split: int) -> float:
        return deviation(ys[start:split]) + deviation(ys[split:stop])

    candidates = range(max(start + min_segment, k - reach), min(stop - min_segment, k + reach) + 1)
    return min(candidates, key=lambda c: (cost(c), abs(c - k)))


def _separation(before: Sequence[float], after: Sequence[float]) -> float:
    """P(a point of ``after`` > a point of ``before``), ties counted half (Mann–Whitney AUC)."""
    wins = sum((a > b) + 0.5 * (a == b) for a in after for b in before)
    return wins / (len(after) * len(before))


def _judge(
    ys: Sequence[float], values: Sequence[float], lo: int, hi: int, k: int, width: int, sigma: float
) -> Step:
    """The step at ``k`` judged on up to ``width`` runs either side: change and score."""
    left = ys[max(lo, k - width) : k]
    right = ys[k : min(hi, k + width)]
    shift = _median(right) - _median(left)
    # 1.2533 = √(π/2): the standard error of a median relative to that of a mean; σ comes from
    # the series itself and is uncertain when the series is short, so a short series needs more.
    stderr = 1.2533 * sigma * math.sqrt(1.0 / len(left) + 1.0 / len(right))
    score = abs(shift) / stderr / (1.0 + 2.0 / math.sqrt(len(ys) - 1))
    before = _median(values[max(lo, k - width) : k])
    after = _median(values[k : min(hi, k + width)])
    return Step(k, before, after, math.expm1(shift) * 100.0, score)


def _directed_separation(
    ys: Sequence[float], lo: int, hi: int, k: int, width: int, change_pct: float
) -> float:
    separation = _separation(ys[max(lo, k - width) : k], ys[k : min(hi, k + width)])
    return separation if change_pct > 0 else 1.0 - separation


def detect_steps(
    values: Sequence[float],
    *,
    min_change_pct: float = 10.0,
    threshold: float = 5.0,
    min_segment: int = 4,
    window: int = 30,
    noise_factor: float = 2.0,
    min_separation: float = 0.75,
    max_steps: int = 5,
) -> list[Step]:
    """Level shifts in a series of positive timings, earliest first.

    Binary segmentation: in each segment two locators (ranks, means) propose a split, refined by
    a two-median fit. A split is kept when, comparing up to ``window`` runs either side, the
    medians differ by ``threshold`` standard errors (σ from the series' own run-to-run noise),
    by ``min_change_pct`` and by ``noise_factor``·σ, and the two sides are separated (a run after
    beats a run before with probability ≥ ``min_separation``: a cluster of slow runs among normal
    ones is not a new level). Then both halves are searched again. Comparing local windows lets a
    regression that was later fixed show as two steps. A step needs ``min_segment`` runs at its
    new level before it is reported: one slow run is never a step.
    """
    ys = _logs(values)
    sigma = max(robust_noise(ys), 1e-9)
    steps: list[Step] = []
    segments = [(0, len(ys))]
    while segments and len(steps) < max_steps:
        lo, hi = segments.pop()
        if hi - lo < 2 * min_segment:
            continue
        best: Step | None = None
        for located in {_rank_split(ys, lo, hi, 2), _mean_split(ys, lo, hi, 2)}:
            if located < 0:
                continue
            rough = _judge(ys, values, lo, hi, located, window, sigma)
            if rough.score < threshold / 2 or abs(rough.change_pct) < min_change_pct / 2:
                continue  # nowhere near a step: most series stop here, before the costly fit
            # Locate among all splits, then insist on enough runs each side: clamping the search
            # instead would pull the split of a too-young level back onto an old run.
            k = _refine_split(ys, lo, hi, located, 1)
            if min(k - lo, hi - k) < min_segment:
                continue
            # A wide window has the power; a narrow one sees a level that did not last (a
            # regression fixed a few runs later) without its far side diluting the median.
            for width in sorted({window, min(window, 2 * min_segment + 2)}):
                step = _judge(ys, values, lo, hi, k, width, sigma)
                if (
                    step.score >= threshold
                    and abs(step.change_pct) >= min_change_pct
                    and abs(math.log1p(step.change_pct / 100.0)) >= noise_factor * sigma
                    and _directed_separation(ys, lo, hi, k, width, step.change_pct)
                    >= min_separation
                    and (best is None or step.score > best.score)
                ):
                    best = step
        if best is not None:
            steps.append(best)
            segments.extend([(lo, best.index), (best.index, hi)])
    return sorted(steps, key=lambda s: s.index)


def largest_step(steps: Sequence[Step]) -> Step | None:
    """The step with the largest relative change, or None: what a one-line summary shows."""
    if not steps:
        return None
    return max(steps, key=lambda s: abs(math.log1p(s.change_pct / 100.0)))


@dataclass(frozen=True)
class Assessment:
    """A series judged both ways: the monotone trend and any step changes."""

    label: TrendLabel
    trend: Trend
    steps: tuple[Step, ...]
    why: str


def assess(
    values: Sequence[float], *, max_points: int = 60, min_step_pct: float = 10.0
) -> Assessment:
    """The label a person should see for a series.

    A step is a change a monotone-trend test may not call significant (a level that jumped three
    runs ago has few points on its new side), yet it is exactly the "0.2 s became 6 s" we are here
    to catch: when the trend says stable but the level after the last step differs from the level
    before the first by ``min_step_pct`` or more, the series is degrading (or improving).
    """
    trend = classify_trend(values, max_points=max_points)
    steps = tuple(detect_steps(values, min_change_pct=min_step_pct))
    label, why = trend.label, trend.why
    if label == "stable" and steps:
        net_pct = (steps[-1].after / steps[0].before - 1.0) * 100.0
        if abs(net_pct) >= min_step_pct:
            label = "degrading" if net_pct > 0 else "improving"
            where = ", ".join(f"{s.change_pct:+.1f}% at point {s.index}" for s in steps)
            why = f"level moved {net_pct:+.1f}% in steps ({where}); trend test: {trend.why}"
    return Assessment(label, trend, steps, why)
