"""Hypothesis strategies for small synthetic workforces, for property tests of a pipeline.

A pipeline that turns a census into yearly events and snapshots has laws (headcount is conserved,
nobody acts after leaving, a promotion moves one level). Property tests check such laws over many
random inputs; these strategies supply the inputs, including the edge cases that break pipelines:
a single employee, everybody leaving in the first year, nobody enrolled, nobody moving at all.

Requires Hypothesis (``pip install "pytest-simperf[hypothesis]"``)::

    from hypothesis import given, settings
    from pytest_simperf.strategies import workforces

    @settings(max_examples=25, deadline=None)
    @given(workforces())
    def test_my_pipeline(workforce):
        ...
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from hypothesis import strategies as st

from pytest_simperf.workforce.handle import Workforce, create_workforce
from pytest_simperf.workforce.spec import Rates, WorkforceSpec

#: Named rate settings that drive a workforce to an extreme.
EDGE_RATES: Mapping[str, Rates] = MappingProxyType(
    {
        "everyone_terminated": Rates(termination=1.0, growth=-1.0),
        "nobody_enrolled": Rates(enrolled=0.0, enrollment=0.0, new_hire_enrollment=0.0),
        "everyone_enrolled": Rates(enrolled=1.0, enrollment=1.0, new_hire_enrollment=1.0),
        "no_change": Rates(
            termination=0.0,
            new_hire_termination=0.0,
            growth=0.0,
            promotion=(0.0, 0.0, 0.0, 0.0),
            raise_rate=0.0,
            enrollment=0.0,
            escalation=0.0,
            census_terminated=0.0,
        ),
        "high_churn": Rates(termination=0.6, new_hire_termination=0.5, growth=0.2),
        "everyone_promoted": Rates(promotion=(1.0, 1.0, 1.0, 1.0), raise_rate=1.0),
    }
)

_probability = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


def _with_edges(strategy: st.SearchStrategy[float], *edges: float) -> st.SearchStrategy[float]:
    # Hypothesis finds 0 and 1 on its own only sometimes; a rate of exactly 0 or 1 is where
    # pipelines divide by zero or lose a year, so offer the edges explicitly.
    return st.one_of(st.sampled_from(edges), strategy)


def rates(*, edge_cases: bool = True) -> st.SearchStrategy[Rates]:
    """Any valid :class:`Rates`; with ``edge_cases``, also the presets in :data:`EDGE_RATES`."""
    p = _with_edges(_probability, 0.0, 1.0)
    random_rates = st.builds(
        Rates,
        termination=p,
        new_hire_termination=_with_edges(st.floats(0.0, 0.95), 0.0, 0.95),
        growth=_with_edges(st.floats(-1.0, 0.5), -1.0, 0.0, 0.5),
        promotion=st.tuples(p, p, p, p),
        promotion_raise=st.floats(0.0, 0.3),
        raise_rate=p,
        merit_raise=st.tuples(*[st.floats(0.0, 0.1)] * 5),
        enrolled=p,
        enrollment=p,
        new_hire_enrollment=p,
        escalation=p,
        escalation_cap=st.sampled_from([0.0, 0.06, 0.10, 0.15]),
        census_terminated=st.floats(0.0, 0.5),
    )
    if not edge_cases:
        return random_rates
    return st.one_of(st.sampled_from(list(EDGE_RATES.values())), st.just(Rates()), random_rates)


_any_rates = rates  # the parameter below shadows the name


def workforce_specs(
    *,
    min_employees: int = 1,
    max_employees: int = 60,
    min_years: int = 1,
    max_years: int = 3,
    seeds: st.SearchStrategy[int] | None = None,
    start_years: st.SearchStrategy[int] | None = None,
    rates: st.SearchStrategy[Rates] | None = None,
) -> st.SearchStrategy[WorkforceSpec]:
    """Specs of small workforces: any seed, a few employees and years, varied rates.

    The single-employee workforce is always among the candidates.
    """
    if rates is None:
        rates = _any_rates()
    employees = st.integers(min_employees, max_employees)
    if min_employees <= 1 <= max_employees:
        employees = st.one_of(st.just(1), employees)
    return st.builds(
        WorkforceSpec,
        employees=employees,
        years=st.integers(min_years, max_years),
        seed=seeds if seeds is not None else st.integers(0, 2**64 - 1),
        start_year=start_years if start_years is not None else st.integers(1990, 2060),
        rates=rates,
    )


def workforces(
    specs: st.SearchStrategy[WorkforceSpec] | None = None,
) -> st.SearchStrategy[Workforce]:
    """Built workforces (in-memory DuckDB, each with its own connection) for the given specs.

    Each example costs one build (tens of milliseconds at these sizes), so use
    ``@settings(deadline=None)`` and a modest ``max_examples``.
    """
    return (specs if specs is not None else workforce_specs()).map(create_workforce)
