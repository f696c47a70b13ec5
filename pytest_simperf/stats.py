"""Statistics that decide whether a slowdown is real: robust summaries, a rank test, the verdict.

A performance gate is abandoned the day it cries wolf, so every rule here leans towards *not*
claiming a regression unless three independent things agree (see docs/verdicts.md):

1. the point estimate (ratio of medians) is past the class threshold,
2. a one-sided Mann–Whitney rank test says the slowdown is not sampling luck (p < alpha), and
3. the change exceeds a noise margin: ``MARGIN_Z`` standard errors of the log ratio, built from the
   within-session spreads, the known between-session drift (``history_spread``) and the
   uncertainty of the calibration ``scale``. The rank test alone cannot see drift between sessions
   (samples within one session are correlated), which is why 3 exists.

With too few samples for the rank test to ever reach ``alpha`` (one sample on a side, or e.g.
3 vs 3), no significance is pretended: the change must exceed the threshold *plus* a noise
allowance. Near a threshold, or past one without full evidence, ``borderline`` asks the caller for
a confirmation rerun, and :func:`combine_confirmation` keeps only what both runs support.

Pure Python on purpose (no numpy/scipy): the samples are small and the code must stay auditable.
Never imports pytest.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_simperf.errors import UsageError

__all__ = [
    "DEFAULT_ALPHA",
    "DEFAULT_CPU_SESSION_DRIFT",
    "DEFAULT_WALL_SESSION_DRIFT",
    "DRIFT_PRIOR_SESSIONS",
    "FEW_SAMPLE_ALLOWANCE",
    "MARGIN_Z",
    "MEASURED_DRIFT_SESSIONS",
    "REGRESSIONS",
    "SEVERITY_ORDER",
    "Thresholds",
    "TimeComparison",
    "classify_change",
    "combine_confirmation",
    "compare_times",
    "mad",
    "mann_whitney_greater",
    "median",
    "relative_spread",
    "session_drift",
    "severity_rank",
    "slowdown_rank",
]

SEVERITY_ORDER: tuple[str, ...] = ("NEW", "OK", "IMPROVED", "MINOR", "MAJOR", "CRITICAL")
#: Classes that mean "slower than the baseline"; the ones a gate can fail on.
REGRESSIONS: tuple[str, ...] = ("MINOR", "MAJOR", "CRITICAL")

#: One-sided significance level of the rank test.
DEFAULT_ALPHA = 0.01
#: A change must exceed this many standard errors of the log ratio (within + drift + scale).
MARGIN_Z = 3.0
#: Noise allowance added to the thresholds when there are too few samples for a rank test.
FEW_SAMPLE_ALLOWANCE = 0.10
#: Half-width floor of the band above a threshold in which a claimed class asks for a rerun.
BAND_FLOOR = 0.03
#: MAD of a normal distribution is 0.6745·σ; this turns a MAD into a σ estimate.
_MAD_TO_SIGMA = 1.4826
#: The median of n samples has a standard error of about 1.25·σ/√n (normal data).
_MEDIAN_SE = 1.2533
#: Largest pooled sample size for which the rank test's exact null distribution is computed.
_EXACT_MAX_N = 60
#: Between-session spread of a CPU-time median (σ, as a fraction) assumed while a baseline has
#: too few recording sessions to show its own. Measured on a shared 2-core VM: 1.8–6.7% for
#: 20–30 ms single-threaded DuckDB queries (benchmarks/README.md, docs/verdicts.md).
DEFAULT_CPU_SESSION_DRIFT = 0.05
#: The same for wall time, which also moves with the neighbours' load.
DEFAULT_WALL_SESSION_DRIFT = 0.08
#: How many recording sessions the assumed drift weighs against the measured one.
DRIFT_PRIOR_SESSIONS = 4
#: Session medians needed before their spread is measured at all (a robust spread of two values
#: is meaningless); below this the drift is the prior alone.
MEASURED_DRIFT_SESSIONS = 3
#: Decimal places kept when comparing changes with thresholds, so that a ratio computed from
#: rescaled samples (last-bit differences) cannot flip a class.
_SNAP = 9


def severity_rank(severity: str) -> int:
    """Position of ``severity`` in :data:`SEVERITY_ORDER` (OK and IMPROVED rank below MINOR)."""
    try:
        return SEVERITY_ORDER.index(severity)
    except ValueError:
        raise ValueError(
            f"unknown severity {severity!r}; expected one of {', '.join(SEVERITY_ORDER)}"
        ) from None


_SLOWDOWN_ORDER: tuple[str, ...] = ("IMPROVED", "OK", "MINOR", "MAJOR", "CRITICAL")


def slowdown_rank(severity: str) -> int:
    """Position along "how much slower": IMPROVED < OK < MINOR < MAJOR < CRITICAL (NEW has none)."""
    try:
        return _SLOWDOWN_ORDER.index(severity)
    except ValueError:
        raise ValueError(f"{severity!r} has no place in {', '.join(_SLOWDOWN_ORDER)}") from None


@dataclass(frozen=True)
class Thresholds:
    """Slowdown fractions past which a change is MINOR, MAJOR, CRITICAL (strictly greater)."""

    minor: float = 0.15
    major: float = 0.30
    critical: float = 0.50

    def __post_init__(self) -> None:
        values = (self.minor, self.major, self.critical)
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in values):
            raise UsageError(f"thresholds must be finite numbers, got {values!r}")
        if not 0 < self.minor < self.major < self.critical:
            raise UsageError(
                "thresholds must satisfy 0 < minor < major < critical, got "
                + ",".join(f"{100 * v:g}" for v in values)
                + " (percent)"
            )

    @classmethod
    def parse(cls, text: str, *, source: str) -> Thresholds:
        """Parse ``"15,30,50"`` (percent slowdowns; a trailing ``%`` is allowed).

        ``source`` names where the text came from, so the error points at the right place.
        """
        parts = [p.strip().removesuffix("%").strip() for p in str(text).split(",")]
        if len(parts) != 3:
            raise UsageError(
                f"{source}: expected three percentages MINOR,MAJOR,CRITICAL such as"
                f" '15,30,50', got {text!r}"
            )
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise UsageError(
                f"{source}: thresholds must be numbers (percent) such as '15,30,50', got {text!r}"
            ) from None
        try:
            return cls(values[0] / 100, values[1] / 100, values[2] / 100)
        except UsageError as exc:
            raise UsageError(f"{source}: {exc}") from None

    def as_percent(self) -> tuple[float, float, float]:
        """The thresholds as percentages, for reports and JSON (``[15, 30, 50]``)."""
        return (
            round(100 * self.minor, 6),
            round(100 * self.major, 6),
            round(100 * self.critical, 6),
        )

    def for_severity(self, severity: str) -> float:
        """The threshold fraction that ``severity`` (MINOR, MAJOR, CRITICAL) is past."""
        return {"MINOR": self.minor, "MAJOR": self.major, "CRITICAL": self.critical}[severity]


# ----------------------------------------------------------------------------- robust summaries


def _checked(xs: Sequence[float], what: str = "samples") -> list[float]:
    values = [float(x) for x in xs]
    if not values:
        raise ValueError(f"no {what}")
    if not all(math.isfinite(x) for x in values):
        raise ValueError(f"{what} must be finite numbers, got {values!r}")
    return values


def median(xs: Sequence[float]) -> float:
    """Median: the robust centre; one interrupted round cannot move it."""
    s = sorted(_checked(xs))
    n = len(s)
    mid = n // 2
    return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2.0


def mad(xs: Sequence[float]) -> float:
    """Median absolute deviation from the median (unscaled)."""
    m = median(xs)
    return median([abs(x - m) for x in xs])


def relative_spread(xs: Sequence[float]) -> float:
    """Robust relative spread: 1.4826·MAD / median, a σ estimate as a fraction of the median.

    0.0 for a single sample (no spread can be seen) or a non-positive median.
    """
    values = _checked(xs)
    if len(values) < 2:
        return 0.0
    m = median(values)
    if m <= 0:
        return 0.0
    return _MAD_TO_SIGMA * mad(values) / m


def session_drift(observed: float | None, sessions: int, prior: float) -> float:
    """The between-session spread to assume for a baseline recorded over ``sessions`` sessions.

    One recording session cannot show how far its median sits from the long-run one, and the
    confirmation rerun, taken in the checking session, shares that session's offset: so ``prior``
    stands in until sessions are pooled. The measured spread of the session medians
    (``observed``, available from three sessions) is weighed against the prior by degrees of
    freedom (``sessions - 1`` against ``DRIFT_PRIOR_SESSIONS``), so three sessions that agree by
    luck do not shrink the margin to nothing, and ten sessions mostly speak for themselves.
    """
    if sessions < 1:
        raise ValueError(f"a baseline has at least one recording session, got {sessions}")
    if not (math.isfinite(prior) and prior >= 0):
        raise ValueError(f"prior drift must be a non-negative number, got {prior!r}")
    if observed is None or not math.isfinite(observed) or sessions < MEASURED_DRIFT_SESSIONS:
        return prior
    dof = sessions - 1
    return math.sqrt(
        (DRIFT_PRIOR_SESSIONS * prior**2 + dof * observed**2) / (DRIFT_PRIOR_SESSIONS + dof)
    )


# ----------------------------------------------------------------------------- rank test


def _doubled_midranks(values: Sequence[float]) -> list[int]:
    """Ranks (1-based, ties averaged) times two, so they stay integers."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + 1) + (j + 1)  # 2 × mean of positions i+1..j+1
        i = j + 1
    return ranks


def _exact_tail(ranks: Sequence[int], n: int, observed: int) -> float:
    """P(sum of ``n`` ranks drawn without replacement ≥ ``observed``), exactly, ties included.

    The generating function ∏(1 + z·t^r) is kept as one big integer per subset size k whose base-2^B
    digits count the subsets by rank sum, so the whole computation runs at C speed. The count of
    sums ≥ ``observed`` is a digit sum, which equals the number mod 2^B − 1 because it is smaller
    than 2^B − 1 (B = N + 1 bits and any count ≤ C(N, n) < 2^N).
    """
    big_n = len(ranks)
    bits = big_n + 1
    polys = [1] + [0] * n
    for idx, r in enumerate(ranks):
        shift = r * bits
        for k in range(min(idx + 1, n), 0, -1):
            if polys[k - 1]:
                polys[k] += polys[k - 1] << shift
    digit_mask = (1 << bits) - 1
    tail = (polys[n] >> (observed * bits)) % digit_mask
    return tail / math.comb(big_n, n)


def mann_whitney_greater(x: Sequence[float], y: Sequence[float]) -> float:
    """One-sided Mann–Whitney p-value for "``x`` tends to be larger than ``y``".

    Exact (the permutation distribution of the rank sum, ties handled by midranks) up to 60
    samples in all; beyond that the normal approximation with tie and continuity corrections.
    Rank based, so a bimodal or heavy-tailed timing distribution does not fool it.
    """
    xs = _checked(x)
    ys = _checked(y)
    n, m = len(xs), len(ys)
    ranks = _doubled_midranks(xs + ys)
    w2 = sum(ranks[:n])  # doubled rank sum of x
    big_n = n + m
    if big_n <= _EXACT_MAX_N:
        return min(1.0, _exact_tail(ranks, n, w2))
    u = w2 / 2 - n * (n + 1) / 2
    counts: dict[int, int] = {}
    for r in ranks:
        counts[r] = counts.get(r, 0) + 1
    tie_term = sum(t**3 - t for t in counts.values()) / (big_n * (big_n - 1))
    var = n * m / 12 * ((big_n + 1) - tie_term)
    if var <= 0:
        return 1.0
    z = (u - n * m / 2 - 0.5) / math.sqrt(var)
    return min(1.0, 0.5 * math.erfc(z / math.sqrt(2)))


def _min_p_value(n: int, m: int) -> float:
    """Smallest p-value the exact rank test can give for sample sizes n and m (no ties).

    From about 515 samples a side C(n + m, n) no longer fits a float, and the bound is then far
    below any significance level: 0.0 says so without the division overflowing.
    """
    try:
        return 1.0 / math.comb(n + m, n)
    except OverflowError:
        return 0.0


# ----------------------------------------------------------------------------- classification


def _snap(x: float) -> float:
    return round(x, _SNAP)


def classify_change(change_fraction: float, thresholds: Thresholds) -> str:
    """Class of a plain relative change (+0.2 = 20% slower), with no significance involved.

    Used where there is nothing to test (memory figures) and as the point-estimate class.
    Monotone in the change; improvement is symmetric: ratio < 1/(1 + minor).
    """
    c = _snap(change_fraction)
    if c > thresholds.critical:
        return "CRITICAL"
    if c > thresholds.major:
        return "MAJOR"
    if c > thresholds.minor:
        return "MINOR"
    if -1 < change_fraction < math.inf and _snap(1 / (1 + change_fraction) - 1) > thresholds.minor:
        return "IMPROVED"
    return "OK"


@dataclass(frozen=True)
class TimeComparison:
    """A verdict on current timings against a baseline, as data the caller can render or fail on.

    ``severity`` is the class supported by the evidence; ``estimate_severity`` is what the ratio
    alone would say; ``allowance_pct`` is the noise allowance subtracted under the few-sample rule
    (0 when the rank test decided). ``borderline`` asks for a confirmation rerun before failing;
    ``too_noisy`` means noise alone could produce a MINOR-sized change, with ``advice`` saying
    what to change.
    """

    severity: str
    ratio: float
    change_pct: float
    p_value: float | None
    noise_pct: float
    borderline: bool
    too_noisy: bool
    advice: str | None
    why: str
    estimate_severity: str = "OK"
    baseline_s: float = math.nan
    current_s: float = math.nan
    n_baseline: int = 0
    n_current: int = 0
    margin_pct: float = 0.0
    allowance_pct: float = 0.0
    confirmed: bool = False
    thresholds: Thresholds | None = None
    #: ``advice`` without its head and threshold tip, for reports that group several phases.
    tips: tuple[str, ...] = ()
    #: Why this time gets no class by rule, whatever its noise (too few samples a side, one run
    #: under the jitter floor); reports group such phases instead of one noise note each.
    unclassed: str | None = None

    @property
    def is_regression(self) -> bool:
        """True when the supported class is MINOR, MAJOR or CRITICAL."""
        return self.severity in REGRESSIONS


def _fmt_s(x: float) -> str:
    if x >= 1:
        return f"{x:.2f} s"
    if x >= 0.01:
        return f"{x:.3f} s"
    return f"{x * 1000:.3g} ms"


def _fmt_p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.0e}"


def noise_tips(
    *,
    within: float,
    drift: float,
    n_min: int,
    current_s: float,
    sessions: int | None = None,
) -> tuple[str, ...]:
    """What would shrink the noise margin, from what dominates it (not the threshold tip).

    Jitter within the run (short rounds, few of them, DuckDB threads contending) and drift
    between sessions call for different fixes. Pooling recording sessions helps only until the
    drift is measured (``MEASURED_DRIFT_SESSIONS``): after that it is advised no more.
    """
    tips: list[str] = []
    if within >= drift:
        tips.append("jitter between the rounds of this run dominates the margin")
        if current_s < 0.02:
            tips.append("make the measured work longer (≥ 50 ms a round) so jitter matters less")
        if n_min < 15:
            tips.append(f"raise the rounds (now {n_min}; the margin shrinks with √rounds)")
        tips.append(
            "if DuckDB runs more threads than there are free cores, pin it to threads=1"
            " (timings turn bimodal then)"
        )
    elif sessions is not None and sessions >= MEASURED_DRIFT_SESSIONS:
        tips.append(
            f"the drift between sessions (±{100 * drift:.0f}%) dominates, measured over the"
            f" {sessions} recording sessions already pooled: run on a quieter or dedicated"
            " machine, or gate on instruction counts (--simperf-instructions), which do not drift"
        )
    elif sessions is not None and sessions >= 2:
        tips.append(
            f"the drift between sessions dominates, still assumed (±{100 * drift:.0f}%): it is"
            f" measured from {MEASURED_DRIFT_SESSIONS} recording sessions and the baseline pools"
            f" {sessions}, so one more `pytest --simperf-add-baseline-session` replaces the"
            " assumption with the measurement; else run on a quieter machine or gate on"
            " instruction counts (--simperf-instructions)"
        )
    else:
        tips.append(
            "the measurement moves between sessions more than within one: pool more recording"
            " sessions into the baseline (run `pytest --simperf-add-baseline-session` two or"
            " three times) so the drift is measured rather than assumed, or run on a quieter"
            " machine"
        )
    return tuple(tips)


def threshold_tip(margin_pct: float) -> str:
    """The last resort, always true: a MINOR threshold the noise cannot reach."""
    return f"or raise the MINOR threshold to at least {math.ceil(margin_pct - 1e-9)}%"


def noise_advice(margin_pct: float, minor_pct: float, tips: Sequence[str]) -> str:
    """The one-line advice for a measurement whose noise can reach the MINOR threshold."""
    return (
        f"noise alone can move this measurement by ±{margin_pct:.0f}%, more than the MINOR"
        f" threshold {minor_pct:g}%: " + "; ".join([*tips, threshold_tip(margin_pct)])
    )


def compare_times(
    baseline: Sequence[float],
    current: Sequence[float],
    *,
    thresholds: Thresholds,
    scale: float = 1.0,
    alpha: float = DEFAULT_ALPHA,
    history_spread: float | None = None,
    scale_uncertainty: float = 0.0,
    sessions: int | None = None,
) -> TimeComparison:
    """Compare current timing samples with the baseline's and decide a class.

    ``scale`` multiplies the baseline first (calibration ratio current/baseline machine speed).
    ``history_spread`` is the known relative between-session spread of this measurement (σ of
    session medians); ``scale_uncertainty`` the relative error of ``scale``. Both widen the noise
    margin. ``sessions`` (recording sessions pooled in the baseline) only shapes the advice.
    The rule is in the module docstring and docs/verdicts.md.
    """
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    base = [x * scale for x in _checked(baseline, "baseline samples")]
    cur = _checked(current, "current samples")
    if min(base) < 0 or min(cur) < 0:
        raise ValueError("timing samples cannot be negative")
    nb, nc = len(base), len(cur)
    b_med, c_med = median(base), median(cur)
    scale_note = "" if scale == 1.0 else f" (×{scale:.3f} calibration)"
    head = f"median {_fmt_s(c_med)} vs baseline {_fmt_s(b_med)}{scale_note}"

    if b_med <= 0 or c_med <= 0:
        return TimeComparison(
            severity="OK",
            ratio=1.0,
            change_pct=0.0,
            p_value=None,
            noise_pct=0.0,
            borderline=False,
            too_noisy=True,
            advice="the measured work is too short for the clock to time; make it longer",
            why=f"{head}: a zero median cannot be compared, no verdict",
            baseline_s=b_med,
            current_s=c_med,
            n_baseline=nb,
            n_current=nc,
            thresholds=thresholds,
        )

    ratio = c_med / b_med
    change = ratio - 1.0
    inv_change = 1.0 / ratio - 1.0  # the symmetric "faster by" figure for improvements
    estimate = classify_change(change, thresholds)

    # Noise: within-session spreads (visible only with ≥ 3 samples), drift, calibration error.
    s_b = relative_spread(base) if nb >= 3 else 0.0
    s_c = relative_spread(cur) if nc >= 3 else 0.0
    noise = max(s_b, s_c)
    se_within = _MEDIAN_SE * math.sqrt(s_b**2 / nb + s_c**2 / nc)
    drift = math.sqrt(2.0) * (history_spread or 0.0)  # both sessions drift independently
    margin = MARGIN_Z * math.sqrt(se_within**2 + drift**2 + scale_uncertainty**2)
    too_noisy = _snap(margin) > thresholds.minor
    tips = (
        noise_tips(
            within=se_within,
            drift=math.hypot(drift, scale_uncertainty),
            n_min=min(nb, nc),
            current_s=c_med,
            sessions=sessions,
        )
        if too_noisy
        else ()
    )
    advice = noise_advice(100 * margin, 100 * thresholds.minor, tips) if too_noisy else None
    band = max(BAND_FLOOR, margin / MARGIN_Z)
    counts = f"{nb} vs {nc} rounds"
    sign = f"{100 * change:+.1f}%"

    testable = nb >= 2 and nc >= 2 and _min_p_value(nb, nc) <= alpha
    allowance = 0.0
    p_value: float | None = None
    if nb >= 2 and nc >= 2:
        p_value = (
            mann_whitney_greater(cur, base) if change >= 0 else mann_whitney_greater(base, cur)
        )

    if testable:
        assert p_value is not None
        significant = p_value < alpha
        evidence = f"p={_fmt_p(p_value)} ({counts})"
        if estimate in REGRESSIONS:
            beyond_noise = _snap(change) > _snap(margin)
            supported = significant and beyond_noise
            severity = estimate if supported else "OK"
            if supported:
                near = _snap(change - thresholds.for_severity(estimate)) < _snap(band)
                borderline = near
                decision = f"{estimate} (>{100 * thresholds.for_severity(estimate):g}%)"
                if near:
                    decision += ", close to its threshold: confirm with a rerun"
            else:
                borderline = True
                missing = []
                if not significant:
                    missing.append(f"not significant (p ≥ {alpha:g})")
                if not beyond_noise:
                    missing.append(f"within the ±{100 * margin:.0f}% noise margin")
                decision = (
                    f"past {estimate} but {' and '.join(missing)}: OK unless a rerun confirms"
                )
        elif estimate == "IMPROVED":
            borderline = False
            supported = p_value < alpha and _snap(inv_change) > _snap(margin)
            severity = "IMPROVED" if supported else "OK"
            decision = "IMPROVED" if supported else "faster, but not significantly: OK"
        else:
            borderline = False
            severity = "OK"
            decision = "within thresholds: no regression"
    else:
        # Too few samples for any p-value to reach alpha: no significance is pretended. The
        # change must clear the threshold plus a noise allowance (known noise, at least 10%).
        allowance = max(margin, FEW_SAMPLE_ALLOWANCE)
        few = "one sample" if min(nb, nc) == 1 else f"too few rounds ({counts})"
        evidence = f"{few}, no significance test; noise allowance {100 * allowance:.0f}%"
        if change >= 0:
            severity = classify_change(change - allowance, thresholds)
            if severity not in REGRESSIONS:
                severity = "OK"
        else:
            severity = "IMPROVED" if _snap(inv_change - allowance) > thresholds.minor else "OK"
        borderline = estimate in REGRESSIONS and (
            severity != estimate
            or _snap(change - allowance - thresholds.for_severity(estimate)) < _snap(band)
        )
        if severity in REGRESSIONS:
            decision = f"{severity} (change minus allowance past {severity}'s threshold)"
        elif severity == "IMPROVED":
            decision = "IMPROVED"
        elif estimate in REGRESSIONS:
            decision = f"past {estimate} but not beyond the allowance: OK unless a rerun confirms"
        else:
            decision = "within thresholds: no regression"
        if borderline and severity in REGRESSIONS:
            decision += "; confirm with a rerun"

    noise_txt = "noise n/a" if nb < 3 and nc < 3 else f"noise {100 * noise:.1f}%"
    why = f"{head} ({sign}), {evidence}, {noise_txt}: {decision}"
    return TimeComparison(
        severity=severity,
        ratio=ratio,
        change_pct=100 * change,
        p_value=p_value,
        noise_pct=100 * noise,
        borderline=borderline,
        too_noisy=too_noisy,
        advice=advice,
        why=why,
        estimate_severity=estimate,
        baseline_s=b_med,
        current_s=c_med,
        n_baseline=nb,
        n_current=nc,
        margin_pct=100 * margin,
        allowance_pct=100 * allowance,
        thresholds=thresholds,
        tips=tips,
    )


def combine_confirmation(first: TimeComparison, confirm: TimeComparison) -> TimeComparison:
    """Merge a borderline first comparison with its confirmation rerun.

    Whether there is a regression at all is decided by agreement: the first run's point estimate
    must be past a threshold *and* the confirmation must support a class on its own evidence;
    otherwise OK (IMPROVED likewise needs both). Which class is decided by the pooled estimate, the
    geometric mean of the two ratios, less the runs' few-sample allowances (halved in quadrature,
    as for a mean of two) and never below MINOR. Taking the lower of the two classes instead
    would bias the class down: two noisy readings of a true +57% straddle CRITICAL's 50%.
    """
    pooled = math.sqrt(first.ratio * confirm.ratio)
    allowance = math.hypot(first.allowance_pct, confirm.allowance_pct) / 200
    if first.estimate_severity in REGRESSIONS and confirm.severity in REGRESSIONS:
        severity = classify_change(pooled - 1 - allowance, _thresholds_of(first, confirm))
        if severity not in REGRESSIONS:
            severity = "MINOR"
        verdict = f"{severity}, supported by both runs (pooled {100 * (pooled - 1):+.1f}%)"
    elif first.estimate_severity == "IMPROVED" and confirm.severity == "IMPROVED":
        severity = "IMPROVED"
        verdict = f"IMPROVED, supported by both runs (pooled {100 * (pooled - 1):+.1f}%)"
    else:
        severity = "OK"
        verdict = (
            "OK: the confirmation does not support the first run's slowdown"
            if first.estimate_severity in REGRESSIONS
            else "OK"
        )
    why = f"first run: {first.why}; confirmation: {confirm.why}; kept {verdict}"
    return TimeComparison(
        severity=severity,
        ratio=pooled,
        change_pct=100 * (pooled - 1),
        p_value=confirm.p_value,
        noise_pct=max(first.noise_pct, confirm.noise_pct),
        borderline=False,
        too_noisy=first.too_noisy or confirm.too_noisy,
        advice=confirm.advice or first.advice,
        tips=confirm.tips if confirm.advice else first.tips,
        why=why,
        estimate_severity=classify_change(pooled - 1, _thresholds_of(first, confirm)),
        baseline_s=first.baseline_s,
        current_s=first.baseline_s * pooled,
        n_baseline=first.n_baseline,
        n_current=first.n_current + confirm.n_current,
        margin_pct=max(first.margin_pct, confirm.margin_pct),
        allowance_pct=allowance * 100,
        confirmed=True,
        thresholds=first.thresholds,
    )


def _thresholds_of(first: TimeComparison, confirm: TimeComparison) -> Thresholds:
    """The thresholds both comparisons were made with (the first's when they differ)."""
    return first.thresholds or confirm.thresholds or Thresholds()
