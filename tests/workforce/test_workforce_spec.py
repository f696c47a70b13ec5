"""Sizes, rates and specs: every bad value is refused with a message that says what is wrong."""

from __future__ import annotations

import pytest

from pytest_simperf.errors import UsageError
from pytest_simperf.workforce import SCALES, Rates, WorkforceSpec, resolve_employees
from pytest_simperf.workforce.spec import (
    MAX_EMPLOYEES,
    estimate_bytes,
    expected_rows,
    spec_from_marker,
)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("small", 1_000),
        ("medium", 5_000),
        ("large", 10_000),
        ("enterprise", 25_000),
        ("xl", 100_000),
        ("xxl", 1_000_000),
    ],
)
def test_scale_names(name, size):
    assert resolve_employees(name) == size
    assert resolve_employees(name.upper()) == size
    assert SCALES[name] == size


@pytest.mark.parametrize(("value", "expected"), [(7, 7), ("7", 7), ("10_000", 10_000), (1, 1)])
def test_counts(value, expected):
    assert resolve_employees(value) == expected


def test_unknown_scale_lists_the_valid_names():
    with pytest.raises(UsageError, match="unknown workforce scale 'huge'") as info:
        resolve_employees("huge")
    for name in SCALES:
        assert name in str(info.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "at least 1, got 0"),
        (-5, "at least 1, got -5"),
        ("-5", "at least 1"),
        (MAX_EMPLOYEES + 1, "at most"),
        (True, "count or a scale name"),
        (2.5, "count or a scale name"),
    ],
)
def test_bad_counts(value, message):
    with pytest.raises(UsageError, match=message):
        resolve_employees(value)


def test_spec_defaults_and_years():
    spec = WorkforceSpec(100)
    assert (spec.years, spec.seed, spec.start_year) == (5, 42, 2025)
    assert spec.simulation_years == [2025, 2026, 2027, 2028, 2029]
    assert spec.census_year == 2024
    assert spec.rates == Rates()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"employees": 10, "years": 0}, "years must be between 1 and 50, got 0"),
        ({"employees": 10, "years": 51}, "years must be between"),
        ({"employees": 10, "years": 2.0}, "years must be an integer"),
        ({"employees": 10, "seed": -1}, "seed must be between"),
        ({"employees": 10, "start_year": 1800}, "start_year must be between"),
        ({"employees": -3}, "employees must be at least 1"),
        ({"employees": "large"}, "resolve scale names"),
        ({"employees": 10, "rates": {"termination": 0.1}}, "rates must be a Rates instance"),
    ],
)
def test_bad_specs(kwargs, message):
    with pytest.raises(UsageError, match=message):
        WorkforceSpec(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"termination": 1.5}, r"Rates.termination must be between 0 and 1, got 1.5"),
        ({"termination": float("nan")}, "Rates.termination must be between"),
        ({"enrolled": -0.1}, "Rates.enrolled"),
        ({"new_hire_termination": 1.0}, "Rates.new_hire_termination must be between 0 and 0.95"),
        ({"growth": -1.5}, "Rates.growth must be between -1 and 0.5"),
        ({"promotion": (0.1, 0.1)}, "Rates.promotion must be 4 numbers"),
        ({"promotion": (0.1, 0.1, 2.0, 0.1)}, r"Rates.promotion\[2\]"),
        ({"merit_raise": (0.1,) * 4}, "Rates.merit_raise must be 5 numbers"),
        ({"escalation_cap": 0.2}, "Rates.escalation_cap"),
        ({"raise_rate": "often"}, "Rates.raise_rate must be a number"),
    ],
)
def test_bad_rates(kwargs, message):
    with pytest.raises(UsageError, match=message):
        Rates(**kwargs)


def test_rates_lists_become_tuples_so_specs_stay_hashable():
    rates = Rates(promotion=[0.1, 0.1, 0.1, 0.1])  # type: ignore[arg-type]
    assert rates.promotion == (0.1, 0.1, 0.1, 0.1)
    assert hash(WorkforceSpec(5, rates=rates)) == hash(
        WorkforceSpec(5, rates=Rates(promotion=(0.1, 0.1, 0.1, 0.1)))
    )


def test_key_changes_with_every_field():
    base = WorkforceSpec(100)
    variants = [
        WorkforceSpec(101),
        WorkforceSpec(100, years=4),
        WorkforceSpec(100, seed=43),
        WorkforceSpec(100, start_year=2024),
        WorkforceSpec(100, rates=Rates(termination=0.2)),
    ]
    keys = {base.key(), *(v.key() for v in variants)}
    assert len(keys) == 1 + len(variants)
    assert base.key() == WorkforceSpec(100).key()
    assert base.key("1") != base.key("2")


def test_expected_rows_grow_with_size_and_years():
    small, big, longer = WorkforceSpec(1000), WorkforceSpec(2000), WorkforceSpec(1000, years=10)
    assert expected_rows(big)["workforce_snapshots"] > expected_rows(small)["workforce_snapshots"]
    assert expected_rows(longer)["workforce_events"] > expected_rows(small)["workforce_events"]
    assert expected_rows(small)["census"] == 1050  # 5% census leavers by default
    assert estimate_bytes(big) > estimate_bytes(small)


def test_runaway_growth_is_refused():
    with pytest.raises(UsageError, match="employee numbers"):
        WorkforceSpec(40_000_000, years=50, rates=Rates(growth=0.5))


class TestMarker:
    def test_defaults_to_the_session_size(self):
        assert spec_from_marker((), {}, 250) == WorkforceSpec(250)

    def test_keywords(self):
        spec = spec_from_marker((), {"employees": "medium", "years": 2, "seed": 7}, 250)
        assert spec == WorkforceSpec(5_000, years=2, seed=7)

    @pytest.mark.parametrize(
        ("args", "kwargs", "message"),
        [
            ((), {"employees": "huge"}, "unknown workforce scale 'huge'"),
            ((), {"employees": -1}, "at least 1"),
            ((), {"years": 0}, "years must be between 1 and 50, got 0"),
            ((), {"employes": 10}, "unknown keyword employes; valid keywords: employees"),
            ((10,), {}, "keyword arguments only"),
            ((), {"rates": 0.1}, "rates must be a Rates instance"),
        ],
    )
    def test_errors(self, args, kwargs, message):
        with pytest.raises(UsageError, match=message):
            spec_from_marker(args, kwargs, 100)
