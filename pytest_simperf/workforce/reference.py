"""The census again, one row at a time in plain Python: a reference, not a generator to use.

It exists for two reasons: the tests compare it value for value with the SQL census, which proves
the SQL computes what :mod:`generate` says it does (and that the random numbers agree bit for bit);
and the benchmark times it against the SQL, because a per-row Python loop like this is how
workforce census scripts are usually written.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator, Sequence
from typing import TypeVar

from pytest_simperf.workforce import generate as g
from pytest_simperf.workforce.prng import HIGH, LOW, stream_constants
from pytest_simperf.workforce.prng import mix32 as _mix32
from pytest_simperf.workforce.spec import WorkforceSpec

CensusRow = tuple[object, ...]
T = TypeVar("T")


def _round2(value: float) -> float:
    """DuckDB's ``round(x, 2)`` on a DOUBLE: ``std::round(x * 100) / 100``, half away from 0."""
    scaled = value * 100.0
    whole = math.floor(abs(scaled))
    if abs(scaled) - whole >= 0.5:
        whole += 1
    return math.copysign(whole, scaled) / 100.0


def _pick(value: float, bounds: Sequence[float], results: Sequence[T]) -> T:
    for bound, result in zip(bounds, results, strict=False):
        if value < bound:
            return result
    return results[-1]


def _part(h: int, part: int) -> float:
    if part == HIGH:
        return (h >> 16) / 65536.0
    if part == LOW:
        return (h & 0xFFFF) / 65536.0
    return h / 4294967296.0


def _employee_id(number: int) -> str:
    return f"EMP_{number:08d}"


def census_rows(spec: WorkforceSpec) -> Iterator[CensusRow]:
    """The rows of ``census``, in table order and column order."""
    year = spec.census_year
    census_date = dt.date(year, 12, 31)
    rates = spec.rates
    leavers = g._round_half_up(spec.employees * rates.census_terminated)
    streams = sorted({stream for stream, _part in g.CENSUS_STREAMS.values()})
    constants = {stream: stream_constants(spec.seed, year, stream) for stream in streams}
    dept_bounds = tuple(bound for _, bound in g.DEPARTMENTS[:-1])
    dept_names = tuple(name for name, _ in g.DEPARTMENTS)
    for n in range(1, spec.employees + leavers + 1):
        hashes = {s: _mix32((n * a + b) & 0xFFFFFFFF) for s, (a, b) in constants.items()}
        u = {name: _part(hashes[s], part) for name, (s, part) in g.CENSUS_STREAMS.items()}
        age = 22 + math.floor(44.0 * ((u["u_age_a"] + u["u_age_b"]) * 0.5))
        leaver = n > spec.employees
        birth = dt.date(year - age, 1, 1) + dt.timedelta(days=math.floor(u["u_birth_day"] * 365.0))
        end = census_date
        if leaver:
            end = census_date - dt.timedelta(days=math.floor(u["u_leave_day"] * 365.0))
        tenure = math.floor(
            float(min(age - 18, 40) * 365) * (u["u_tenure"] * u["u_tenure"] * u["u_tenure"])
        )
        level = _pick(u["u_level"], g.LEVEL_SHARES, (1, 2, 3, 4, 5))
        enrolled = u["u_enrolled"] < rates.enrolled
        gross = _round2(
            g.LEVEL_BASE_PAY[level - 1]
            * (g.PAY_LOW + g.LEVEL_PAY_WIDTH[level - 1] * ((u["u_pay_a"] + u["u_pay_b"]) * 0.5))
        )
        rate = 0.0
        if enrolled:
            picked = (1.0 + math.floor(u["u_rate_pick"] * 14.0)) / 100.0
            kinds = (0.03, 0.06, 0.10, 0.15, picked)
            rate = _pick(u["u_rate_kind"], (0.25, 0.55, 0.70, 0.78), kinds)
        capped = min(gross, g.COMPENSATION_LIMIT)
        contribution = _round2(min(capped * rate, g.DEFERRAL_LIMIT))
        split = u["u_split"]
        pre_tax, roth, after_tax = 0.0, 0.0, 0.0
        if split < 0.60:
            pre_tax = contribution
        elif split < 0.85:
            roth = contribution
        elif split < 0.95:
            pre_tax = _round2(contribution * 0.5)
            roth = _round2(contribution - pre_tax)
        else:
            pre_tax = _round2(contribution * 0.8)
            after_tax = _round2(contribution - pre_tax)
        hire = end - dt.timedelta(days=tenure)
        yield (
            _employee_id(n),
            str(100000000 + n),
            birth,
            hire,
            end if leaver else None,
            gross,
            capped,
            rate,
            contribution,
            pre_tax,
            roth,
            after_tax,
            _round2(capped * g.CORE_RATE),
            _round2(capped * (min(rate, 0.03) + 0.5 * max(min(rate, 0.05) - 0.03, 0.0))),
            hire + dt.timedelta(days=g.ELIGIBILITY_DAYS),
            not leaver,
            level,
            _pick(u["u_dept"], dept_bounds, dept_names),
        )
