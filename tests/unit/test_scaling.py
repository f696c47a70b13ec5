"""Growth-class fitting and scaling verdicts (pure: synthetic cost curves, no DuckDB).

The accuracy tests draw seeded lognormal noise, so they are deterministic; each regime runs
200 seeds. Regimes where the method must be right ≥ 95% of the time are the ones where the data
can tell the classes apart; where they cannot (log or n log n under a fixed overhead), the tests
pin down the safe failure mode instead: a lower neighbour or no class, never a worse one.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_simperf.errors import BaselineError, UsageError
from pytest_simperf.scaling import (
    GROWTH_CLASSES,
    SCALE_SIZES,
    GrowthFit,
    ScalingVerdict,
    compare_growth,
    fit_growth,
    parse_sizes,
)

SEEDS = 200
NAMED_5 = [1_000, 5_000, 10_000, 25_000, 100_000]  # small … xl: 5 sizes over 2 decades
WIDE_4 = [1_000, 10_000, 100_000, 1_000_000]  # 4 sizes over 3 decades
SHORT_4 = [1_000, 5_000, 25_000, 100_000]

GROWTH = {
    "constant": lambda n: 0.0,
    "log": math.log,
    "linear": lambda n: n,
    "nlogn": lambda n: n * math.log(n),
    "quadratic": lambda n: n * n,
    "cubic": lambda n: n**3,
}


def curve(growth_class, sizes, overhead):
    """Noise-free cost: ``overhead`` is the fixed cost relative to the growing part at the
    smallest size (1.0: half the smallest cost is fixed)."""
    if growth_class == "constant":
        return [1.0 for _ in sizes]
    g = GROWTH[growth_class]
    unit = g(sizes[0])
    return [overhead + g(n) / unit for n in sizes]


def noisy_fit(growth_class, sizes, overhead, sigma, seed, rounds=1):
    rng = random.Random(f"{growth_class}/{sizes}/{overhead}/{sigma}/{rounds}/{seed}")
    xs, ys = [], []
    for n, cost in zip(sizes, curve(growth_class, sizes, overhead), strict=True):
        for _ in range(rounds):
            xs.append(n)
            ys.append(0.01 * cost * math.exp(rng.gauss(0.0, sigma)))
    return fit_growth(xs, ys)


def outcomes(growth_class, sizes, overhead, sigma, rounds=1):
    """Per seed: 'ok', 'none', 'under' (a cheaper class) or the number of steps too expensive."""
    truth = GROWTH_CLASSES.index(growth_class)
    tally = Counter()
    for seed in range(SEEDS):
        got = noisy_fit(growth_class, sizes, overhead, sigma, seed, rounds).growth_class
        if got == growth_class:
            tally["ok"] += 1
        elif got is None:
            tally["none"] += 1
        elif GROWTH_CLASSES.index(got) < truth:
            tally["under"] += 1
        else:
            tally[GROWTH_CLASSES.index(got) - truth] += 1
    return tally


def fit_of(growth_class, *, exponent, net=None, noisy=True, stderr=0.02, metric="time"):
    """A hand-made fit for verdict tests."""
    return GrowthFit(
        growth_class=growth_class,
        exponent=exponent,
        r_squared=0.99,
        points=((1_000.0, 1.0), (10_000.0, 2.0), (100_000.0, 3.0)),
        metric=metric,
        reason="test",
        net_exponent=net,
        noisy=noisy,
        exponent_stderr=stderr if noisy else 0.0,
    )


# --------------------------------------------------------------------------------------------
# parse_sizes


def test_parse_sizes_accepts_names_numbers_and_strings():
    assert parse_sizes(["small", "large", 100_000]) == [1_000, 10_000, 100_000]
    assert parse_sizes("xl, Medium ,small") == [1_000, 5_000, 100_000]
    assert parse_sizes(("10_000", 2_000, 3000.0)) == [2_000, 3_000, 10_000]
    assert parse_sizes(list(SCALE_SIZES)) == sorted(SCALE_SIZES.values())


def test_parse_sizes_counts_distinct_sizes():
    with pytest.raises(UsageError, match=r"at least 3 distinct sizes.*got 2 \(1,000, 5,000\)"):
        parse_sizes(["small", 1_000, "medium"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (["small", "huge", "xl"], r"unknown size 'huge'; use a positive integer or one of small"),
        ([1_000, -5, 10_000], r"sizes must be positive, got -5"),
        ([1_000, 0, 10_000], r"sizes must be positive, got 0"),
        ([True, 10, 100], r"True is not a size"),
        ([1.5, 10, 100], r"1.5 is not a size"),
        ([None, 10, 100], r"None is not a size"),
        (10_000, r"at least 3 distinct sizes"),
        ("", r"got 0 \(none\)"),
    ],
)
def test_parse_sizes_rejects_bad_input_naming_where(value, message):
    with pytest.raises(UsageError, match=message) as info:
        parse_sizes(value, where="tests/perf/test_x.py::test_y: scaling(employees=...)")
    assert str(info.value).startswith("tests/perf/test_x.py::test_y: scaling(employees=...): ")


# --------------------------------------------------------------------------------------------
# Deterministic counters: always exactly right


@pytest.mark.parametrize("growth_class", GROWTH_CLASSES)
@pytest.mark.parametrize("overhead", [0.0, 1.0, 10.0, 100.0])
@pytest.mark.parametrize("sizes", [NAMED_5, WIDE_4, [1_000, 10_000, 100_000], [10, 20, 30]])
def test_exact_counters_are_always_classed_right(growth_class, overhead, sizes):
    rows = [round(1_000 * c) for c in curve(growth_class, sizes, overhead)]
    fit = fit_growth(sizes, rows, metric="rows_scanned", noisy=False)
    assert fit.growth_class == growth_class, fit.reason
    assert "exact fit" in fit.reason
    assert not fit.noisy
    assert fit.exponent_stderr == 0.0
    assert fit.metric == "rows_scanned"


@pytest.mark.parametrize(("growth_class", "exponent"), [("linear", 1.0), ("quadratic", 2.0)])
def test_exponent_of_a_pure_power_law_is_exact(growth_class, exponent):
    fit = fit_growth(NAMED_5, curve(growth_class, NAMED_5, 0.0), noisy=False)
    assert fit.exponent == pytest.approx(exponent)
    assert fit.net_exponent == pytest.approx(exponent, abs=0.01)
    assert fit.r_squared == pytest.approx(1.0)


def test_counter_with_a_growing_quadratic_term_is_classed_by_it():
    # A scan (n rows) plus a join whose output grows as n²/100 000: equal at the largest size.
    rows = [n + n * n // 100_000 for n in NAMED_5]
    fit = fit_growth(NAMED_5, rows, metric="intermediate_rows", noisy=False)
    assert fit.growth_class == "quadratic", fit.reason
    assert "linear + quadratic" in fit.reason
    assert "50% of the cost at 100,000" in fit.reason


def test_counter_with_a_negligible_faster_term_keeps_the_slower_class():
    rows = [n + n * n // 10_000_000 for n in NAMED_5]  # the n² term is 1% at 100K
    assert fit_growth(NAMED_5, rows, noisy=False).growth_class == "linear"


def test_counter_that_fits_no_class_claims_none():
    rows = [round(100 * math.sqrt(n)) for n in NAMED_5]  # √n is not one of our classes
    fit = fit_growth(NAMED_5, rows, noisy=False)
    assert fit.growth_class is None
    assert fit.reason.startswith("no class claimed: no class or sum of two classes fits")
    assert fit.exponent == pytest.approx(0.5, abs=0.01)


# --------------------------------------------------------------------------------------------
# Noisy timings: accuracy over many seeds


CLEAR_REGIMES = [
    # (sizes, sigma, rounds per size)
    (NAMED_5, 0.05, 1),
    (NAMED_5, 0.10, 1),
    (WIDE_4, 0.10, 1),
]


@pytest.mark.parametrize(("sizes", "sigma", "rounds"), CLEAR_REGIMES)
@pytest.mark.parametrize(
    ("growth_class", "overhead"),
    [
        ("constant", 0.0),
        ("linear", 0.0),
        ("linear", 1.0),
        ("quadratic", 0.0),
        ("quadratic", 1.0),
        ("cubic", 0.0),
        ("cubic", 1.0),
    ],
)
def test_noisy_curves_are_classed_right_at_least_95_percent(
    growth_class, overhead, sizes, sigma, rounds
):
    tally = outcomes(growth_class, sizes, overhead, sigma, rounds)
    assert tally["ok"] >= 0.95 * SEEDS, tally


@pytest.mark.parametrize(
    ("growth_class", "sizes", "sigma", "rounds"),
    [
        ("log", WIDE_4, 0.05, 1),  # one sample per size over 3 decades
        ("log", WIDE_4, 0.10, 5),  # the median of 5 rounds per size
        ("log", NAMED_5, 0.05, 5),
        ("nlogn", NAMED_5, 0.05, 1),
        ("nlogn", WIDE_4, 0.05, 1),
        ("nlogn", NAMED_5, 0.10, 5),
    ],
)
def test_log_and_nlogn_without_overhead_are_classed_right_at_least_95_percent(
    growth_class, sizes, sigma, rounds
):
    """log n grows only 1.7x over two decades, and n log n differs from n by the same factor:
    they need less noise (or more rounds, or a wider span) than the other classes."""
    tally = outcomes(growth_class, sizes, 0.0, sigma, rounds)
    assert tally["ok"] >= 0.95 * SEEDS, tally


def test_a_heavy_fixed_overhead_does_not_hide_linear_or_quadratic_growth():
    for growth_class in ("linear", "quadratic"):
        tally = outcomes(growth_class, NAMED_5, 10.0, 0.05)
        assert tally["ok"] >= 0.95 * SEEDS, (growth_class, tally)


@pytest.mark.parametrize(("growth_class", "overhead"), [("log", 1.0), ("nlogn", 1.0)])
def test_indistinct_neighbours_fail_safe(growth_class, overhead):
    """Under a fixed overhead, log looks constant and n log n looks linear in 10% noise: the
    fit may say the cheaper neighbour or nothing, but almost never a more expensive class and
    never one two steps up."""
    tally = outcomes(growth_class, NAMED_5, overhead, 0.10)
    worse = sum(count for key, count in tally.items() if isinstance(key, int))
    assert worse <= 0.05 * SEEDS, tally
    assert all(key == 1 for key in tally if isinstance(key, int)), tally


def test_replicated_rounds_are_reduced_to_their_median():
    sizes = [n for n in NAMED_5 for _ in range(3)]
    costs = [n * 1e-6 * factor for n in NAMED_5 for factor in (1.0, 1.02, 40.0)]  # one stall
    fit = fit_growth(sizes, costs)
    assert fit.growth_class == "linear", fit.reason
    assert [size for size, _ in fit.points] == NAMED_5
    assert [cost for _, cost in fit.points] == pytest.approx([n * 1.02e-6 for n in NAMED_5])


def test_fixed_overhead_lowers_the_raw_exponent_but_not_the_class():
    # 5 ms fixed + 0.1 µs per employee: the raw log-log slope is far below 1.
    costs = [0.005 + n * 1e-7 for n in NAMED_5]
    fit = fit_growth(NAMED_5, costs)
    assert fit.growth_class == "linear", fit.reason
    assert fit.exponent < 0.3
    assert fit.net_exponent == pytest.approx(1.0, abs=0.02)
    assert fit.overhead == pytest.approx(0.005)
    assert "net of fixed cost of 0.005" in fit.reason


# --------------------------------------------------------------------------------------------
# Refusing to claim a class


@pytest.mark.parametrize(
    ("sizes", "costs"),
    [([1_000, 10_000], [1.0, 10.0]), ([1_000, 1_000, 1_000], [1.0, 1.1, 0.9]), ([5], [1.0])],
)
def test_fewer_than_three_sizes_claim_no_class(sizes, costs):
    fit = fit_growth(sizes, costs)
    assert fit.growth_class is None
    assert "at least 3 are needed" in fit.reason


def test_scattered_costs_claim_no_class():
    fit = fit_growth(NAMED_5, [1.0, 3.0, 1.0, 3.0, 1.0])
    assert fit.growth_class is None
    assert fit.reason.startswith("no class claimed: costs scatter ±")
    assert "measure more rounds" in fit.reason


def test_falling_cost_is_named_as_such():
    fit = fit_growth(NAMED_5, [5.0, 4.0, 3.0, 2.0, 1.0])
    assert fit.growth_class is None
    assert "cost falls as size grows" in fit.reason


def test_a_lone_spike_at_the_largest_size_is_not_called_cubic():
    fit = fit_growth(NAMED_5, [1.0, 1.05, 0.97, 1.02, 3.0])
    assert fit.growth_class not in ("quadratic", "cubic"), fit.reason


def test_zero_costs():
    assert fit_growth(NAMED_5, [0] * 5, noisy=False).growth_class == "constant"
    assert fit_growth(NAMED_5, [0.0] * 5).growth_class is None
    partly = fit_growth(NAMED_5, [0, 1, 2, 3, 4], noisy=False)
    assert partly.growth_class is None
    assert "zero at size 1,000" in partly.reason


@pytest.mark.parametrize(
    ("sizes", "costs", "message"),
    [
        ([1, 2, 3], [1.0, 2.0], "got 3 sizes but 2 costs"),
        ([0, 2, 3], [1.0, 2.0, 3.0], "sizes must be finite and at least 1"),
        ([1, 2, 3], [1.0, -2.0, 3.0], "costs must be finite and non-negative"),
        ([1, 2, 3], [1.0, math.nan, 3.0], "costs must be finite and non-negative"),
    ],
)
def test_invalid_points_raise(sizes, costs, message):
    with pytest.raises(ValueError, match=message):
        fit_growth(sizes, costs)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    growth_class=st.sampled_from(GROWTH_CLASSES),
    scale=st.floats(min_value=1e-6, max_value=1e6),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_class_does_not_depend_on_the_unit_of_cost(growth_class, scale, seed):
    """Seconds or milliseconds, rows or thousands of rows: the same curve, the same verdict."""
    base = noisy_fit(growth_class, NAMED_5, 1.0, 0.05, seed)
    costs = [cost * scale for _, cost in base.points]
    again = fit_growth(NAMED_5, costs)
    assert again.growth_class == base.growth_class
    assert again.exponent == pytest.approx(base.exponent, abs=1e-9)


# --------------------------------------------------------------------------------------------
# JSON round trip


def test_fit_round_trips_through_json():
    fit = fit_growth(NAMED_5, [0.005 + n * 1e-7 for n in NAMED_5])
    data = json.loads(json.dumps(fit.to_json()))
    assert data["class"] == "linear"
    assert data["points"][0] == [1000, pytest.approx(0.0051)]
    again = GrowthFit.from_json(data)
    assert again.to_json() == data
    assert (again.growth_class, again.exponent, again.net_exponent) == (
        fit.growth_class,
        fit.exponent,
        fit.net_exponent,
    )


def test_fit_without_class_or_exponent_round_trips():
    fit = fit_growth([1_000], [1.0])
    data = json.loads(json.dumps(fit.to_json()))
    assert data["class"] is None
    assert data["exponent"] is None
    assert math.isnan(GrowthFit.from_json(data).exponent)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "must be an object"),
        ({"class": "linear", "exponent": 1.0, "r_squared": 1.0, "points": []}, "missing 'metric'"),
        (
            {"class": "linearish", "exponent": 1, "r_squared": 1, "points": [], "metric": "time"},
            "unknown class 'linearish'",
        ),
        (
            {"class": None, "exponent": "1", "r_squared": 1, "points": [], "metric": "time"},
            "'exponent' must be a number",
        ),
        (
            {"class": None, "exponent": 1, "r_squared": 1, "points": [[1]], "metric": "time"},
            r"point must be \[size, cost\]",
        ),
        (
            {"class": None, "exponent": 1, "r_squared": 1, "points": [], "metric": ""},
            "'metric' must be a non-empty string",
        ),
    ],
)
def test_malformed_baseline_fit_is_a_baseline_error(data, message):
    with pytest.raises(BaselineError, match=message):
        GrowthFit.from_json(data)


# --------------------------------------------------------------------------------------------
# compare_growth


def test_no_baseline_is_new():
    verdict = compare_growth(None, fit_of("linear", exponent=0.98))
    assert verdict == ScalingVerdict("NEW", None, "linear", None, 0.98, verdict.why)
    assert verdict.why == "no baseline; linear (exponent 0.98)"


@pytest.mark.parametrize(
    ("current", "severity"),
    [
        ("constant", "IMPROVED"),
        ("log", "IMPROVED"),
        ("linear", "OK"),
        ("nlogn", "MAJOR"),
        ("quadratic", "CRITICAL"),
        ("cubic", "CRITICAL"),
    ],
)
def test_class_change_of_exact_counters(current, severity):
    nominal = {"constant": 0.0, "log": 0.1, "linear": 1.0, "nlogn": 1.1, "quadratic": 2.0}
    exponent = nominal.get(current, 3.0)
    baseline = fit_of("linear", exponent=1.0, net=1.0, noisy=False)
    now = fit_of(current, exponent=exponent, net=exponent, noisy=False)
    verdict = compare_growth(baseline, now)
    assert verdict.severity == severity, verdict.why
    assert (verdict.baseline_class, verdict.current_class) == ("linear", current)


def test_linear_to_quadratic_timing_is_critical():
    verdict = compare_growth(
        fit_of("linear", exponent=0.9, net=1.0), fit_of("quadratic", exponent=1.8, net=2.0)
    )
    assert verdict.severity == "CRITICAL"
    assert verdict.why == (
        "linear (exponent 0.90) → quadratic (exponent 1.80): growth class got worse"
    )


def test_constant_to_linear_timing_is_major():
    verdict = compare_growth(fit_of("constant", exponent=0.01), fit_of("linear", exponent=0.7))
    assert verdict.severity == "MAJOR"


def test_noisy_class_change_without_exponent_evidence_is_not_flagged():
    verdict = compare_growth(
        fit_of("constant", exponent=0.02), fit_of("linear", exponent=0.04, net=0.3)
    )
    assert verdict.severity == "OK"
    assert "not flagged" in verdict.why


def test_linear_to_nlogn_on_timings_is_judged_by_the_exponent_margin():
    small = compare_growth(
        fit_of("linear", exponent=0.95, net=1.0), fit_of("nlogn", exponent=1.05, net=1.1)
    )
    assert small.severity == "OK"
    assert "not told apart on timings" in small.why
    large = compare_growth(
        fit_of("linear", exponent=0.95, net=1.0), fit_of("nlogn", exponent=1.3, net=1.35)
    )
    assert large.severity == "MAJOR"
    assert "beyond the 0.25 margin" in large.why


def test_exponent_rise_beyond_margin_in_the_same_class_is_major():
    baseline = fit_of("linear", exponent=0.9, net=1.0)
    assert compare_growth(baseline, fit_of("linear", exponent=1.1, net=1.2)).severity == "OK"
    steeper = fit_of("linear", exponent=1.3, net=1.4)
    rising = compare_growth(baseline, steeper)
    assert rising.severity == "MAJOR"
    assert rising.why.endswith("exponent rose by 0.40, beyond the 0.25 margin")
    assert compare_growth(baseline, steeper, exponent_margin=0.5).severity == "OK"
    to_quadratic = compare_growth(baseline, fit_of("linear", exponent=1.8, net=1.9))
    assert to_quadratic.severity == "CRITICAL"


def test_exponent_rise_that_only_the_raw_exponent_shows_is_overhead_not_growth():
    # A faster setup shrinks the fixed cost: the raw slope rises, the net one does not.
    verdict = compare_growth(
        fit_of("linear", exponent=0.5, net=1.0), fit_of("linear", exponent=0.85, net=1.01)
    )
    assert verdict.severity == "OK"


def test_exponent_rise_within_noise_is_not_flagged():
    verdict = compare_growth(
        fit_of(None, exponent=1.0, stderr=0.2), fit_of(None, exponent=1.3, stderr=0.2)
    )
    assert verdict.severity == "OK"
    assert "class unknown" in verdict.why


def test_unknown_class_falls_back_to_exponents():
    verdict = compare_growth(fit_of("linear", exponent=1.0), fit_of(None, exponent=1.9))
    assert verdict.severity == "CRITICAL"
    assert "(class unknown; exponents compared)" in verdict.why
    assert compare_growth(fit_of(None, exponent=1.9), fit_of(None, exponent=1.0)).severity == (
        "IMPROVED"
    )


def test_max_class_fails_outright_even_without_baseline():
    verdict = compare_growth(None, fit_of("quadratic", exponent=2.0), max_class="linear")
    assert verdict.severity == "CRITICAL"
    assert verdict.why == "quadratic (exponent 2.00) exceeds max_class=linear: grows quadratic"
    assert compare_growth(None, fit_of("linear", exponent=1.0), max_class="linear").severity == (
        "NEW"
    )


def test_max_class_trumps_a_matching_baseline():
    baseline = fit_of("quadratic", exponent=2.0)
    verdict = compare_growth(baseline, fit_of("quadratic", exponent=2.0), max_class="nlogn")
    assert verdict.severity == "CRITICAL"


def test_max_class_lets_an_unconfirmed_hard_neighbour_pass_on_timings():
    allowed = compare_growth(None, fit_of("nlogn", exponent=1.1, net=1.1), max_class="linear")
    assert allowed.severity == "NEW"
    steep = compare_growth(None, fit_of("nlogn", exponent=1.4, net=1.5), max_class="linear")
    assert steep.severity == "CRITICAL"
    exact = compare_growth(
        None, fit_of("nlogn", exponent=1.1, net=1.1, noisy=False), max_class="linear"
    )
    assert exact.severity == "CRITICAL"


def test_max_class_with_no_class_needs_both_exponents_above_the_limit():
    assert compare_growth(
        None, fit_of(None, exponent=1.9, net=2.0), max_class="linear"
    ).severity == ("CRITICAL")
    assert compare_growth(
        None, fit_of(None, exponent=1.1, net=2.0), max_class="linear"
    ).severity == ("NEW")


def test_baseline_may_be_the_stored_json():
    stored = fit_of("linear", exponent=1.0, net=1.0).to_json()
    verdict = compare_growth(stored, fit_of("quadratic", exponent=2.0, net=2.0))
    assert verdict.severity == "CRITICAL"
    assert verdict.baseline_exponent == 1.0
    assert verdict.to_json()["baseline_class"] == "linear"


def test_compare_rejects_bad_arguments():
    fit = fit_of("linear", exponent=1.0)
    with pytest.raises(UsageError, match="max_class must be one of constant, log, linear"):
        compare_growth(None, fit, max_class="exponential")
    with pytest.raises(UsageError, match="exponent_margin must be a non-negative number"):
        compare_growth(None, fit, exponent_margin=-0.1)
    with pytest.raises(ValueError, match="cannot compare growth of 'time'"):
        compare_growth(fit_of("linear", exponent=1.0, metric="rows_scanned"), fit)
    with pytest.raises(BaselineError):
        compare_growth({"class": "linear"}, fit)


def test_unchanged_noisy_growth_does_not_raise_false_alarms():
    """Two independent noisy fits of the same curve: no MAJOR or CRITICAL verdict."""
    alarms = Counter()
    for growth_class, overhead in [("linear", 1.0), ("nlogn", 1.0), ("log", 0.0)]:
        for seed in range(100):
            before = noisy_fit(growth_class, NAMED_5, overhead, 0.10, seed)
            after = noisy_fit(growth_class, NAMED_5, overhead, 0.10, seed + 10_000)
            severity = compare_growth(before, after).severity
            if severity in ("MAJOR", "CRITICAL"):
                alarms[growth_class] += 1
    assert sum(alarms.values()) == 0, alarms


def test_noisy_linear_to_quadratic_is_always_caught():
    for seed in range(100):
        before = noisy_fit("linear", NAMED_5, 1.0, 0.10, seed)
        after = noisy_fit("quadratic", NAMED_5, 1.0, 0.10, seed + 10_000)
        assert compare_growth(before, after).severity == "CRITICAL", (before.reason, after.reason)
