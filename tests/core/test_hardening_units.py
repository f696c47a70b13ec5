"""Pure pieces of issue 16: the exact p-value bound at any sample size, and rounds whose
bookkeeping stays linear however many there are."""

from __future__ import annotations

import itertools

import pytest

from pytest_simperf import measure
from pytest_simperf.stats import Thresholds, _min_p_value, compare_times


@pytest.mark.parametrize(("n", "m"), [(515, 515), (600, 600), (10_000, 7), (5000, 5000)])
def test_the_exact_p_value_bound_does_not_overflow(n, m):
    assert 0.0 <= _min_p_value(n, m) < 1e-20


def test_the_exact_p_value_bound_is_exact_where_it_fits():
    assert _min_p_value(3, 3) == pytest.approx(1 / 20)
    assert _min_p_value(100, 100) > 0.0


def test_six_hundred_samples_a_side_are_compared():
    base = [0.1 + (i % 11) * 0.001 for i in range(600)]
    slower = [2 * x for x in base]
    assert compare_times(base, base, thresholds=Thresholds()).severity == "OK"
    assert compare_times(base, slower, thresholds=Thresholds()).severity == "CRITICAL"


class CountingSum:
    """Stands in for the builtin ``sum`` inside ``measure``: counts how often rounds re-sum."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return sum(*args, **kwargs)


def test_run_rounds_keeps_a_running_total_instead_of_re_summing(monkeypatch):
    counting = CountingSum()
    monkeypatch.setattr(measure, "sum", counting, raising=False)
    ticks = itertools.count()
    rounds = measure.run_rounds(
        lambda: None, (), {}, rounds=2000, clock=lambda: float(next(ticks)), max_time_s=1e9
    )
    assert len(rounds.samples_s) == 2000
    assert counting.calls == 0


def test_run_rounds_budget_still_stops_at_the_round_that_would_pass_it():
    ticks = itertools.count()  # every round takes exactly one second on this clock
    rounds = measure.run_rounds(
        lambda: None, (), {}, rounds=100, clock=lambda: float(next(ticks)), max_time_s=10.0
    )
    # after 5 rounds: 5 s spent + 1 s expected next = 6 ≤ 10; after 9: 9 + 1 = 10 ≤ 10;
    # after 10: 10 + 1 > 10, so stop with 10 samples.
    assert len(rounds.samples_s) == 10
