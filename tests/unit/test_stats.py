"""Unit tests of the verdict statistics: robust summaries, the rank test, compare_times."""

from __future__ import annotations

import itertools
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_simperf.errors import UsageError
from pytest_simperf.stats import (
    REGRESSIONS,
    SEVERITY_ORDER,
    Thresholds,
    TimeComparison,
    classify_change,
    combine_confirmation,
    compare_times,
    mad,
    mann_whitney_greater,
    median,
    relative_spread,
    session_drift,
    severity_rank,
    slowdown_rank,
)

T = Thresholds()


def jittered(centre: float, n: int, spread: float = 0.02, seed: int = 1) -> list[float]:
    """Deterministic samples around ``centre`` with a relative jitter of about ``spread``."""
    rng = random.Random(seed)
    return [centre * (1 + rng.uniform(-spread, spread)) for _ in range(n)]


# ----------------------------------------------------------------------------- thresholds


def test_thresholds_defaults_and_percent():
    assert (T.minor, T.major, T.critical) == (0.15, 0.30, 0.50)
    assert T.as_percent() == (15.0, 30.0, 50.0)
    assert T.for_severity("MAJOR") == 0.30


@pytest.mark.parametrize(
    "values",
    [(0.3, 0.2, 0.5), (0.0, 0.3, 0.5), (-0.1, 0.3, 0.5), (0.1, 0.1, 0.5), (0.1, 0.2, math.nan)],
)
def test_thresholds_must_increase(values):
    with pytest.raises(UsageError, match="threshold"):
        Thresholds(*values)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("15,30,50", (0.15, 0.30, 0.50)), (" 10% , 20%,40 ", (0.10, 0.20, 0.40)), ("5,7.5,9", None)],
)
def test_thresholds_parse(text, expected):
    parsed = Thresholds.parse(text, source="--simperf-thresholds")
    if expected is None:
        assert parsed.major == pytest.approx(0.075)
    else:
        assert (parsed.minor, parsed.major, parsed.critical) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["15,30", "a,b,c", "30,15,50", "15,30,50,70", ""])
def test_thresholds_parse_errors_name_the_source(text):
    source = "marker simperf(thresholds=...) on tests/x.py::test_y"
    with pytest.raises(UsageError) as info:
        Thresholds.parse(text, source=source)
    assert str(info.value).startswith(source + ": ")


# ----------------------------------------------------------------------------- summaries


def test_median_mad_spread():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 2, 3]) == 2.5
    assert mad([1, 2, 3, 4, 100]) == 1
    assert relative_spread([1.0]) == 0.0
    assert relative_spread([10, 10, 10]) == 0.0
    assert relative_spread([9, 10, 11]) == pytest.approx(1.4826 * 1 / 10)
    # One wild round barely moves the robust spread.
    assert relative_spread([9, 10, 11, 10, 1000]) == pytest.approx(relative_spread([9, 10, 11]))


@pytest.mark.parametrize("bad", [[], [1.0, math.nan], [math.inf]])
def test_summaries_reject_bad_input(bad):
    with pytest.raises(ValueError, match="samples"):
        median(bad)


def test_severity_order():
    assert [severity_rank(s) for s in SEVERITY_ORDER] == list(range(6))
    assert severity_rank("IMPROVED") < severity_rank("MINOR")
    assert severity_rank("OK") < severity_rank("MINOR")
    assert slowdown_rank("IMPROVED") < slowdown_rank("OK") < slowdown_rank("MINOR")
    with pytest.raises(ValueError, match="unknown severity"):
        severity_rank("BAD")
    with pytest.raises(ValueError, match="no place"):
        slowdown_rank("NEW")


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (0.0, "OK"),
        (0.15, "OK"),  # thresholds are strict: "> 15%"
        (0.1500001, "MINOR"),
        (0.30, "MINOR"),
        (0.31, "MAJOR"),
        (0.50, "MAJOR"),
        (0.51, "CRITICAL"),
        (5.0, "CRITICAL"),
        (1 / 1.15 - 1, "OK"),  # exactly the symmetric improvement threshold
        (1 / 1.16 - 1, "IMPROVED"),
        (-0.99, "IMPROVED"),
    ],
)
def test_classify_change(change, expected):
    assert classify_change(change, T) == expected


def test_classify_change_ignores_last_bit_noise():
    assert classify_change(1.15 / 1.0 - 1, T) == "OK"  # 0.1499999999999999
    assert classify_change(0.15 + 1e-15, T) == "OK"


# ----------------------------------------------------------------------------- rank test


def brute_force_p(x, y):
    """P(rank sum of x ≥ observed) by enumerating every split, midranks for ties."""
    pooled = list(x) + list(y)
    ranks = []
    for v in pooled:
        below = sum(1 for w in pooled if w < v)
        equal = sum(1 for w in pooled if w == v)
        ranks.append(below + (equal + 1) / 2)
    observed = sum(ranks[: len(x)])
    splits = list(itertools.combinations(range(len(pooled)), len(x)))
    hits = sum(1 for idx in splits if sum(ranks[i] for i in idx) >= observed - 1e-9)
    return hits / len(splits)


def test_mann_whitney_exact_known_values():
    assert mann_whitney_greater([6, 7, 8, 9, 10], [1, 2, 3, 4, 5]) == pytest.approx(1 / 252)
    assert mann_whitney_greater([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == pytest.approx(1.0)
    assert mann_whitney_greater([1.0] * 4, [1.0] * 4) == 1.0
    assert mann_whitney_greater([2.0], [1.0]) == pytest.approx(0.5)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(1, 6), min_size=1, max_size=5),
    st.lists(st.integers(1, 6), min_size=1, max_size=5),
)
def test_mann_whitney_exact_matches_enumeration(x, y):
    assert mann_whitney_greater(x, y) == pytest.approx(brute_force_p(x, y))


def test_mann_whitney_normal_approximation_for_large_samples():
    x = jittered(1.1, 40, 0.05, seed=3)
    y = jittered(1.0, 40, 0.05, seed=4)
    p = mann_whitney_greater(x, y)
    assert 0 < p < 1e-6
    assert mann_whitney_greater(y, x) > 0.99
    same = mann_whitney_greater(jittered(1.0, 40, seed=5), jittered(1.0, 40, seed=6))
    assert 0.01 < same < 0.99
    assert mann_whitney_greater([1.0] * 40, [1.0] * 40) == 1.0


# ----------------------------------------------------------------------------- compare_times


def test_identical_samples_are_ok():
    xs = jittered(0.1, 7)
    r = compare_times(xs, xs, thresholds=T)
    assert r.severity == "OK"
    assert r.ratio == 1.0
    assert not r.borderline
    assert "no regression" in r.why


@pytest.mark.parametrize(
    ("factor", "expected"),
    [
        (1.05, "OK"),
        (1.10, "OK"),
        (1.22, "MINOR"),
        (1.40, "MAJOR"),
        (1.60, "CRITICAL"),
        (2, "CRITICAL"),
    ],
)
def test_clear_slowdowns_get_their_class(factor, expected):
    base = jittered(0.1, 10, seed=1)
    cur = jittered(0.1 * factor, 10, seed=2)
    r = compare_times(base, cur, thresholds=T)
    assert r.severity == expected
    assert r.estimate_severity == expected
    assert not r.borderline
    if expected in REGRESSIONS:
        assert r.p_value is not None
        assert r.p_value < 0.01
        assert f"{expected} (>" in r.why


def test_why_names_statistic_baseline_change_p_and_decision():
    r = compare_times(jittered(0.1, 10, seed=1), jittered(0.14, 10, seed=2), thresholds=T)
    assert r.why.startswith("median 0.14")
    assert "vs baseline 0.10" in r.why
    assert "+4" in r.why
    assert "p=" in r.why
    assert "10 vs 10 rounds" in r.why
    assert r.why.endswith("MAJOR (>30%)")


def test_past_threshold_but_not_significant_is_ok_and_borderline():
    base = [0.10, 0.20, 0.10, 0.21, 0.11, 0.19]  # bimodal and wide
    cur = [0.12, 0.24, 0.12, 0.25, 0.13, 0.23]
    r = compare_times(base, cur, thresholds=T)
    assert r.estimate_severity == "MINOR"
    assert r.severity == "OK"
    assert r.borderline
    assert "not significant" in r.why


def test_close_to_a_threshold_asks_for_confirmation():
    base = jittered(0.1, 10, 0.01, seed=1)
    cur = jittered(0.1165, 10, 0.01, seed=2)
    r = compare_times(base, cur, thresholds=T)
    assert r.severity == "MINOR"
    assert r.borderline
    assert "confirm" in r.why


def test_improvement_is_symmetric_and_needs_significance():
    base = jittered(0.1, 10, seed=1)
    assert compare_times(base, jittered(0.08, 10, seed=2), thresholds=T).severity == "IMPROVED"
    assert compare_times(base, jittered(0.09, 10, seed=2), thresholds=T).severity == "OK"
    r = compare_times(base, jittered(0.08, 10, seed=2), thresholds=T)
    assert r.p_value is not None
    assert r.p_value < 0.01
    assert not r.borderline


def test_scale_compares_through_calibration():
    base = jittered(0.1, 10, seed=1)  # recorded on a machine twice as fast
    cur = jittered(0.2, 10, seed=2)
    assert compare_times(base, cur, thresholds=T).severity == "CRITICAL"
    r = compare_times(base, cur, thresholds=T, scale=2.0)
    assert r.severity == "OK"
    assert "×2.000 calibration" in r.why
    assert r.baseline_s == pytest.approx(2 * median(base))


def test_history_spread_widens_the_margin_and_flags_too_noisy():
    base = jittered(0.1, 10, seed=1)
    cur = jittered(0.122, 10, seed=2)
    assert compare_times(base, cur, thresholds=T).severity == "MINOR"
    r = compare_times(base, cur, thresholds=T, history_spread=0.06)
    assert r.severity == "OK"
    assert r.borderline
    assert r.too_noisy
    assert r.margin_pct > 15
    assert r.advice is not None
    assert "raise the MINOR threshold to at least" in r.advice
    assert "moves between sessions" in r.advice
    assert "--simperf-add-baseline-session" in r.advice
    # A slowdown well beyond the margin is still caught, with its own class.
    far = compare_times(base, [x * 1.6 for x in cur], thresholds=T, history_spread=0.06)
    assert far.severity == "CRITICAL"


def test_noisy_short_measurement_advice():
    base = [0.001, 0.0014, 0.0008, 0.0012, 0.002]
    cur = [0.0011, 0.0015, 0.0009, 0.0021, 0.0013]
    r = compare_times(base, cur, thresholds=T)
    assert r.too_noisy
    assert r.advice is not None
    assert "longer" in r.advice
    assert "rounds" in r.advice
    assert "threads=1" in r.advice
    assert r.noise_pct > 20


@pytest.mark.parametrize(
    ("change", "expected", "borderline"),
    [
        (0.20, "OK", True),  # past MINOR, not past MINOR + 10% allowance
        (0.30, "MINOR", False),
        (0.45, "MAJOR", False),
        (0.60, "MAJOR", True),  # estimate CRITICAL, allowance keeps it MAJOR: rerun
        (1.00, "CRITICAL", False),
        (-0.30, "IMPROVED", False),
        (-0.10, "OK", False),
    ],
)
def test_single_sample_rule(change, expected, borderline):
    r = compare_times([0.1], [0.1 * (1 + change)], thresholds=T)
    assert r.severity == expected
    assert r.borderline is borderline
    assert r.p_value is None
    assert "one sample, no significance test" in r.why
    assert "noise n/a" in r.why


def test_single_current_sample_against_many_uses_their_noise():
    base = jittered(0.1, 10, 0.2, seed=1)  # wide: the allowance grows beyond 10%
    r = compare_times(base, [0.13], thresholds=T)
    assert r.p_value is None
    assert r.margin_pct > 10
    assert r.severity == "OK"


def test_too_few_rounds_for_significance_do_not_pretend():
    base = [0.100, 0.101, 0.099]
    r = compare_times(base, [0.140, 0.141, 0.139], thresholds=T)
    assert r.p_value == pytest.approx(0.05)  # the best 3 vs 3 can do: never < 0.01
    assert "too few rounds (3 vs 3 rounds), no significance test" in r.why
    assert r.severity == "MINOR"  # +40% minus the 10% allowance


def test_zero_median_cannot_be_compared():
    r = compare_times([0.0, 0.0, 0.0], [0.001, 0.001, 0.001], thresholds=T)
    assert r.severity == "OK"
    assert r.too_noisy


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"baseline": [], "current": [1.0]}, "baseline samples"),
        ({"baseline": [1.0], "current": []}, "current samples"),
        ({"baseline": [1.0], "current": [-1.0]}, "negative"),
        ({"baseline": [1.0], "current": [1.0], "scale": 0.0}, "scale"),
        ({"baseline": [1.0], "current": [1.0], "alpha": 1.5}, "alpha"),
    ],
)
def test_compare_times_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        compare_times(thresholds=T, **kwargs)


# ----------------------------------------------------------------------------- confirmation


def test_confirmation_pools_the_two_runs():
    base = jittered(0.1, 10, seed=1)
    first = compare_times(base, jittered(0.132, 10, 0.01, seed=2), thresholds=T)
    assert first.severity == "MAJOR"
    assert first.borderline
    confirm = compare_times(base, jittered(0.125, 10, seed=3), thresholds=T)
    assert confirm.severity == "MINOR"
    both = combine_confirmation(first, confirm)
    assert both.ratio == pytest.approx(math.sqrt(first.ratio * confirm.ratio))
    assert both.severity == "MINOR"  # pooled +28.3%
    assert both.confirmed
    assert not both.borderline
    assert both.n_current == 20
    assert both.why.startswith("first run: ")
    assert "; confirmation: " in both.why
    assert both.why.endswith("kept MINOR, supported by both runs (pooled +28.3%)")


def test_confirmation_class_is_not_dragged_below_the_pooled_estimate():
    base = jittered(0.1, 10, 0.005, seed=1)
    first = compare_times(base, jittered(0.152, 10, 0.005, seed=2), thresholds=T)
    confirm = compare_times(base, jittered(0.162, 10, 0.005, seed=3), thresholds=T)
    assert (first.severity, confirm.severity) == ("CRITICAL", "CRITICAL")
    assert first.borderline
    assert combine_confirmation(first, confirm).severity == "CRITICAL"
    low = compare_times(base, jittered(0.148, 10, 0.005, seed=3), thresholds=T)
    assert low.severity == "MAJOR"
    assert combine_confirmation(first, low).severity == "MAJOR"  # pooled just under 50%


def test_confirmation_can_clear_a_first_run():
    base = jittered(0.1, 10, seed=1)
    first = compare_times(base, jittered(0.1165, 10, 0.01, seed=2), thresholds=T)
    assert first.severity == "MINOR"
    assert first.borderline
    both = combine_confirmation(first, compare_times(base, jittered(0.1, 10, seed=3), thresholds=T))
    assert both.severity == "OK"
    assert "does not support" in both.why


def test_confirmation_can_support_an_unproven_first_run():
    base = jittered(0.1, 10, seed=1)
    first = TimeComparison(
        severity="OK",
        ratio=1.2,
        change_pct=20.0,
        p_value=0.04,
        noise_pct=8.0,
        borderline=True,
        too_noisy=False,
        advice=None,
        why="first",
        estimate_severity="MINOR",
    )
    confirm = compare_times(base, jittered(0.125, 10, seed=2), thresholds=T)
    assert confirm.severity == "MINOR"
    both = combine_confirmation(first, confirm)
    assert both.severity == "MINOR"
    assert both.noise_pct == max(8.0, confirm.noise_pct)
    assert both.p_value == confirm.p_value


def test_confirmation_of_single_samples_keeps_an_allowance():
    first = compare_times([0.1], [0.16], thresholds=T)
    assert (first.estimate_severity, first.severity, first.borderline) == (
        "CRITICAL",
        "MAJOR",
        True,
    )
    both = combine_confirmation(first, compare_times([0.1], [0.15], thresholds=T))
    assert both.allowance_pct == pytest.approx(10 * math.sqrt(2) / 2)
    assert both.severity == "MAJOR"  # pooled +54.9% less a 7.1% allowance
    again = combine_confirmation(first, compare_times([0.1], [0.158], thresholds=T))
    assert again.severity == "CRITICAL"  # pooled +59.0% less 7.1%


def test_confirmation_of_improvement():
    base = jittered(0.1, 10, seed=1)
    a = compare_times(base, jittered(0.07, 10, seed=2), thresholds=T)
    b = compare_times(base, jittered(0.071, 10, seed=3), thresholds=T)
    assert combine_confirmation(a, b).severity == "IMPROVED"
    c = compare_times(base, jittered(0.1, 10, seed=3), thresholds=T)
    assert combine_confirmation(a, c).severity == "OK"


# ----------------------------------------------------------------------------- properties

# Timings on a 10 µs grid from 10 µs to 1 s: realistic, with ties possible.
timings = st.integers(1, 100_000).map(lambda k: k * 1e-5)
sample_sets = st.lists(timings, min_size=1, max_size=12)


@settings(max_examples=300, deadline=None)
@given(sample_sets, st.randoms(use_true_random=False))
def test_identical_sample_sets_never_regress(xs, rnd):
    shuffled = list(xs)
    rnd.shuffle(shuffled)
    r = compare_times(xs, shuffled, thresholds=T)
    assert r.severity == "OK"
    assert not r.borderline
    assert r.change_pct == 0.0


@settings(max_examples=300, deadline=None)
@given(
    sample_sets,
    sample_sets,
    st.floats(1.0, 4.0),
    st.floats(1.0, 4.0),
    st.sampled_from([None, 0.02, 0.1]),
)
def test_class_never_decreases_as_the_slowdown_grows(base, cur, f1, f2, history):
    lo, hi = sorted((f1, f2))
    a = compare_times(base, [x * lo for x in cur], thresholds=T, history_spread=history)
    b = compare_times(base, [x * hi for x in cur], thresholds=T, history_spread=history)
    assert slowdown_rank(a.severity) <= slowdown_rank(b.severity)
    assert slowdown_rank(a.estimate_severity) <= slowdown_rank(b.estimate_severity)


@settings(max_examples=300, deadline=None)
@given(sample_sets, sample_sets, st.floats(0.01, 100.0))
def test_scaling_both_sides_keeps_the_verdict(base, cur, k):
    a = compare_times(base, cur, thresholds=T)
    b = compare_times([x * k for x in base], [x * k for x in cur], thresholds=T)
    assert (a.severity, a.estimate_severity, a.borderline, a.too_noisy) == (
        b.severity,
        b.estimate_severity,
        b.borderline,
        b.too_noisy,
    )
    assert a.ratio == pytest.approx(b.ratio)
    assert (a.p_value is None) == (b.p_value is None)
    if a.p_value is not None:
        assert a.p_value == pytest.approx(b.p_value)


@settings(max_examples=200, deadline=None)
@given(sample_sets, sample_sets, st.floats(0.25, 4.0))
def test_scale_is_the_same_as_rescaling_the_baseline(base, cur, s):
    a = compare_times(base, cur, thresholds=T, scale=s)
    b = compare_times([x * s for x in base], cur, thresholds=T)
    assert (a.severity, a.borderline) == (b.severity, b.borderline)


@given(st.floats(-0.99, 10.0), st.floats(-0.99, 10.0))
def test_classify_change_is_monotone(c1, c2):
    lo, hi = sorted((c1, c2))
    assert slowdown_rank(classify_change(lo, T)) <= slowdown_rank(classify_change(hi, T))


def test_session_drift_is_the_prior_until_three_sessions():
    assert session_drift(None, 1, 0.04) == 0.04
    assert session_drift(0.01, 2, 0.04) == 0.04  # two medians cannot give a robust spread
    three = session_drift(0.01, 3, 0.04)
    assert 0.01 < three < 0.04
    assert session_drift(0.01, 30, 0.04) < three  # many sessions speak for themselves
    with pytest.raises(ValueError, match="at least one recording session"):
        session_drift(None, 0, 0.04)


@settings(max_examples=200, deadline=None)
@given(
    observed=st.floats(0, 0.5),
    more=st.floats(0, 0.5),
    sessions=st.integers(1, 40),
    prior=st.floats(0, 0.2),
)
def test_session_drift_lies_between_prior_and_observation_and_grows_with_it(
    observed, more, sessions, prior
):
    drift = session_drift(observed, sessions, prior)
    assert min(observed, prior) - 1e-12 <= drift <= max(observed, prior) + 1e-12
    assert session_drift(observed + more, sessions, prior) >= drift - 1e-12
