"""The trend and step methods on synthetic series whose truth we know."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_simperf import trends


def series(
    seed: int,
    n: int,
    *,
    noise: float,
    drift_per_run: float = 0.0,
    step_at: int | None = None,
    step: float = 1.0,
    spikes: float = 0.0,
) -> list[float]:
    """Log-normal timings around 0.5 s; optional drift, one step, and slow-run spikes (CI)."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        value = 0.5 * math.exp(rng.gauss(0.0, noise) + drift_per_run * i)
        if step_at is not None and i >= step_at:
            value *= step
        if rng.random() < spikes:
            value *= rng.uniform(1.5, 3.0)
        out.append(value)
    return out


FLAT_CASES = [(n, noise) for n in (10, 30, 80) for noise in (0.01, 0.05, 0.12)]


@pytest.mark.parametrize(("n", "noise"), FLAT_CASES)
def test_flat_noisy_series_is_stable_for_every_seed(n, noise):
    labels = {}
    for seed in range(150):
        values = series(seed, n, noise=noise, spikes=0.02)
        assessed = trends.assess(values)
        labels[seed] = assessed.label
        assert assessed.steps == (), f"seed {seed}: false step {assessed.steps}"
    wrong = {seed: label for seed, label in labels.items() if label != "stable"}
    assert not wrong, f"flat series labelled {wrong}"


@pytest.mark.parametrize("direction", [1, -1])
def test_steady_drift_is_found_with_its_direction(direction):
    expected = "degrading" if direction > 0 else "improving"
    hits = 0
    for seed in range(100):
        values = series(seed, 40, noise=0.05, drift_per_run=direction * 0.01)
        verdict = trends.classify_trend(values)
        hits += verdict.label == expected
        assert verdict.label in (expected, "stable")  # never the wrong direction
        assert math.copysign(1, verdict.change_pct) == direction
    assert hits >= 95


@pytest.mark.parametrize(("noise", "step"), [(0.01, 1.3), (0.03, 1.3), (0.05, 1.5), (0.05, 0.6)])
def test_step_is_placed_at_the_run_where_it_happened(noise, step):
    for seed in range(100):
        at = 10 + seed % 25
        values = series(seed, 45, noise=noise, step_at=at, step=step)
        found = trends.detect_steps(values)
        assert [s.index for s in found] == [at], f"seed {seed}: step at {at}, found {found}"
        estimated = math.log1p(found[0].change_pct / 100)
        assert estimated == pytest.approx(math.log(step), abs=3 * noise)
        label = trends.assess(values).label
        assert label == ("degrading" if step > 1 else "improving")


def test_step_survives_slow_run_spikes():
    exact = 0
    for seed in range(100):
        values = series(seed, 40, noise=0.03, step_at=23, step=1.4, spikes=0.03)
        found = trends.detect_steps(values)
        assert found, f"seed {seed}: step missed"
        exact += [s.index for s in found] == [23]
    # a spike right before the step is indistinguishable from the step starting a run early
    assert exact >= 90


def test_two_steps_are_both_found_and_a_fixed_regression_is_stable():
    values = [0.5] * 15 + [0.8] * 15 + [0.5] * 15
    rng = random.Random(3)
    values = [v * math.exp(rng.gauss(0, 0.02)) for v in values]
    assert [s.index for s in trends.detect_steps(values)] == [15, 30]
    assessed = trends.assess(values)
    assert assessed.label == "stable"  # back where it started


def test_one_slow_run_at_the_end_is_not_a_step():
    values = [*series(1, 30, noise=0.02), 1.5]
    assert trends.detect_steps(values) == []
    assert trends.assess(values).label == "stable"


def test_a_step_needs_several_runs_at_the_new_level():
    base = series(2, 30, noise=0.02)
    assert trends.detect_steps([*base, 0.9, 0.9, 0.9]) == []
    found = trends.detect_steps([*base, *[0.9] * 6])
    assert [s.index for s in found] == [30]


def test_short_series_is_insufficient():
    verdict = trends.classify_trend([0.1, 0.2, 0.3])
    assert verdict.label == "insufficient"
    assert "need" in verdict.why


def test_trend_uses_only_the_recent_window():
    old_drift = [0.1 * 1.05**i for i in range(60)]
    flat_recent = [old_drift[-1] * (1 + 0.01 * ((i * 7) % 5 - 2)) for i in range(40)]
    assert trends.classify_trend(old_drift + flat_recent, max_points=40).label == "stable"
    assert trends.classify_trend(old_drift + flat_recent, max_points=100).label == "degrading"


def test_non_positive_values_are_refused():
    with pytest.raises(ValueError, match="positive"):
        trends.classify_trend([0.1, 0.0, 0.2, 0.3, 0.4, 0.5])


def test_mann_kendall_matches_the_pairwise_definition():
    rng = random.Random(5)
    ys = [round(rng.random(), 1) for _ in range(25)]  # with ties
    s = sum(
        (ys[j] > ys[i]) - (ys[j] < ys[i]) for i in range(len(ys)) for j in range(i + 1, len(ys))
    )
    assert trends.mann_kendall(ys).s == s


def test_theil_sen_recovers_a_line_despite_outliers():
    ys = [2.0 + 0.5 * i for i in range(20)]
    ys[3] = 100.0
    ys[11] = -50.0
    slope, intercept = trends.theil_sen(ys)
    assert slope == pytest.approx(0.5)
    assert intercept == pytest.approx(2.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(min_value=0.01, max_value=10.0), min_size=6, max_size=60),
    st.floats(min_value=0.2, max_value=5.0),
)
def test_labels_do_not_depend_on_units(values, scale):
    """Seconds or milliseconds, the verdict is the same: everything works on ratios."""
    a = trends.assess(values)
    b = trends.assess([v * scale for v in values])
    assert a.label == b.label
    assert [s.index for s in a.steps] == [s.index for s in b.steps]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(min_value=0.01, max_value=10.0), min_size=6, max_size=60))
def test_reversing_a_series_flips_the_trend(values):
    a = trends.classify_trend(values).label
    b = trends.classify_trend(values[::-1]).label
    flipped = {"degrading": "improving", "improving": "degrading"}
    assert b == flipped.get(a, a)
