"""What a synthetic workforce is: its size, its seed and the yearly rates that drive it.

Everything here is validated on construction, so a bad marker argument, option or command-line
value fails with one clear :class:`UsageError` before any SQL runs. Pure: no duckdb, no pytest.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pytest_simperf.errors import UsageError

#: Named sizes a marker, option or the command accepts instead of a number of employees.
SCALES: Mapping[str, int] = MappingProxyType(
    {
        "small": 1_000,
        "medium": 5_000,
        "large": 10_000,
        "enterprise": 25_000,
        "xl": 100_000,
        "xxl": 1_000_000,
    }
)

MAX_EMPLOYEES = 50_000_000
MAX_YEARS = 50
MIN_START_YEAR = 1900
MAX_START_YEAR = 2200
#: Employee numbers must stay below 2**32: the SQL random numbers mix them as 32-bit integers.
MAX_EMPLOYEE_NUMBERS = 2**32 - 1


def scale_names() -> str:
    """The valid scale names with their sizes, for error messages and help text."""
    return ", ".join(f"{name} ({size:,})" for name, size in SCALES.items())


def resolve_employees(value: int | str) -> int:
    """Turn a count or a scale name ("large", "10_000") into a number of employees."""
    if isinstance(value, bool):
        raise UsageError(f"employees must be a count or a scale name, got {value!r}")
    if isinstance(value, str):
        text = value.strip().lower()
        if text in SCALES:
            return SCALES[text]
        try:
            number = int(text)
        except ValueError:
            raise UsageError(
                f"unknown workforce scale {value!r}; use a positive count or one of: "
                f"{scale_names()}"
            ) from None
        return _check_employees(number)
    if isinstance(value, int):
        return _check_employees(value)
    raise UsageError(
        f"employees must be a count or a scale name, got {type(value).__name__} {value!r}"
    )


def _check_employees(number: int) -> int:
    if number < 1:
        raise UsageError(f"employees must be at least 1, got {number}")
    if number > MAX_EMPLOYEES:
        raise UsageError(f"employees must be at most {MAX_EMPLOYEES:,}, got {number:,}")
    return number


def _fraction(name: str, value: object, *, low: float = 0.0, high: float = 1.0) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"Rates.{name} must be a number, got {value!r}")
    if not math.isfinite(value) or not low <= value <= high:
        raise UsageError(f"Rates.{name} must be between {low:g} and {high:g}, got {value!r}")


@dataclass(frozen=True)
class Rates:
    """Yearly probabilities and percentages; the defaults resemble a mid-size US employer.

    Every probability may be 0 or 1, so edge cases (everyone leaves, nobody enrols) are expressible.
    """

    #: Chance that an employee active at the start of a year leaves during it.
    termination: float = 0.12
    #: Chance that someone hired in a year also leaves before its end.
    new_hire_termination: float = 0.10
    #: Target net change of active headcount per year (-1 hires nobody; 0.03 = 3% growth).
    growth: float = 0.03
    #: Chance of promotion from level 1, 2, 3 and 4 (5 is the top level).
    promotion: tuple[float, float, float, float] = (0.12, 0.09, 0.06, 0.03)
    #: Pay rise that comes with a promotion (±2 percentage points of spread).
    promotion_raise: float = 0.12
    #: Chance that a continuing employee gets a merit raise in a year.
    raise_rate: float = 0.90
    #: Mean merit raise by level 1–5 (±1 percentage point of spread).
    merit_raise: tuple[float, float, float, float, float] = (0.040, 0.035, 0.030, 0.030, 0.025)
    #: Share of the census enrolled in the plan (deferring more than 0%).
    enrolled: float = 0.85
    #: Chance that a non-enrolled employee enrols during a year.
    enrollment: float = 0.25
    #: Chance that a hire enrols when hired (auto-enrolment take-up).
    new_hire_enrollment: float = 0.60
    #: Chance that an enrolled employee below the cap escalates their deferral by 1 point.
    escalation: float = 0.40
    #: Deferral rate that escalation stops at.
    escalation_cap: float = 0.10
    #: Census rows for people who left during the census year, as a share of ``employees``.
    census_terminated: float = 0.05

    def __post_init__(self) -> None:
        for name in (
            "termination",
            "raise_rate",
            "enrolled",
            "enrollment",
            "new_hire_enrollment",
            "escalation",
            "census_terminated",
        ):
            _fraction(name, getattr(self, name))
        # A hire who always leaves would need infinitely many hires to grow at all.
        _fraction("new_hire_termination", self.new_hire_termination, high=0.95)
        _fraction("growth", self.growth, low=-1.0, high=0.5)
        _fraction("promotion_raise", self.promotion_raise, high=1.0)
        _fraction("escalation_cap", self.escalation_cap, high=0.15)
        self._tuple("promotion", 4, high=1.0)
        self._tuple("merit_raise", 5, high=0.5)

    def _tuple(self, name: str, length: int, *, high: float) -> None:
        value = getattr(self, name)
        if not isinstance(value, (tuple, list)) or len(value) != length:
            raise UsageError(f"Rates.{name} must be {length} numbers, got {value!r}")
        for index, item in enumerate(value):
            _fraction(f"{name}[{index}]", item, high=high)
        # Lists are accepted for convenience but stored as a tuple so the spec stays hashable.
        object.__setattr__(self, name, tuple(float(item) for item in value))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, used in the cache key and in reports."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


@dataclass(frozen=True)
class WorkforceSpec:
    """Everything that determines a workforce: the same spec always yields the same tables."""

    employees: int
    years: int = 5
    seed: int = 42
    start_year: int = 2025
    rates: Rates = field(default_factory=Rates)

    def __post_init__(self) -> None:
        if isinstance(self.employees, str):
            raise UsageError(
                f"employees must be a count, got {self.employees!r}; "
                "resolve scale names with resolve_employees()"
            )
        resolve_employees(self.employees)
        _integer("years", self.years, 1, MAX_YEARS)
        _integer("seed", self.seed, 0, 2**64 - 1)
        _integer("start_year", self.start_year, MIN_START_YEAR, MAX_START_YEAR)
        if not isinstance(self.rates, Rates):
            raise UsageError(f"rates must be a Rates instance, got {self.rates!r}")
        if expected_rows(self)["employee_numbers"] > MAX_EMPLOYEE_NUMBERS:
            raise UsageError(
                f"{self.employees:,} employees over {self.years} years at growth "
                f"{self.rates.growth:g} would need more than {MAX_EMPLOYEE_NUMBERS:,} employee "
                "numbers; use fewer employees, years or less growth"
            )

    @property
    def simulation_years(self) -> list[int]:
        """The simulated years; the census describes the end of the year before the first."""
        return list(range(self.start_year, self.start_year + self.years))

    @property
    def census_year(self) -> int:
        """The year the census describes (it is taken on 31 December of this year)."""
        return self.start_year - 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form."""
        return {
            "employees": self.employees,
            "years": self.years,
            "seed": self.seed,
            "start_year": self.start_year,
            "rates": self.rates.to_dict(),
        }

    def key(self, *extra: str) -> str:
        """A stable digest of the spec (plus ``extra``, e.g. versions), for cache file names."""
        text = json.dumps([self.to_dict(), *extra], sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def label(self) -> str:
        """Short human name, e.g. ``10000x5-seed42-2025``."""
        return f"{self.employees}x{self.years}-seed{self.seed}-{self.start_year}"


def _integer(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= high:
        raise UsageError(f"{name} must be between {low} and {high}, got {value}")


def expected_rows(spec: WorkforceSpec) -> dict[str, int]:
    """Expected row counts per table (and employee numbers used), from the rates alone.

    The memory estimate and the id-space check use it; the real counts vary with the draws.
    """
    rates = spec.rates
    headcount = float(spec.employees)
    census = spec.employees + math.floor(spec.employees * rates.census_terminated + 0.5)
    numbers = float(census)
    events = 0.0
    snapshots = 0.0
    for _ in range(spec.years):
        leavers = headcount * rates.termination
        target = max(0.0, leavers + headcount * rates.growth)
        hires = target / (1.0 - rates.new_hire_termination)
        numbers += hires
        # Roughly: hire (+ enrolment), termination, promotion, raise, enrolment/escalation.
        events += hires * 2 + leavers + (headcount - leavers) * 1.6
        snapshots += headcount + hires
        headcount = max(0.0, headcount - leavers + target)
    return {
        "census": census,
        "workforce_events": math.ceil(events),
        "workforce_snapshots": math.ceil(snapshots),
        "employee_numbers": math.ceil(numbers) + 1,
    }


#: Peak bytes per expected output row while building in memory, with a margin: the benchmark
#: measured 84 (1M employees × 5 years: 1.43 GB peak RSS for 17.1M expected rows).
BYTES_PER_ROW = 110
#: Fixed overhead of the Python process and a DuckDB connection.
BASE_BYTES = 100 * 1024 * 1024


def estimate_bytes(spec: WorkforceSpec) -> int:
    """Rough peak memory of building ``spec`` in memory, to refuse builds that cannot fit."""
    rows = expected_rows(spec)
    total = rows["census"] + rows["workforce_events"] + rows["workforce_snapshots"]
    return BASE_BYTES + total * BYTES_PER_ROW


#: Keywords ``@pytest.mark.workforce`` accepts.
MARKER_KEYWORDS = ("employees", "years", "seed", "start_year", "rates")


def spec_from_marker(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], default_employees: int
) -> WorkforceSpec:
    """The spec a ``workforce`` marker asks for; ``default_employees`` when it names no size."""
    if args:
        raise UsageError(
            f"takes keyword arguments only ({', '.join(MARKER_KEYWORDS)}), got positional {args!r}"
        )
    unknown = sorted(set(kwargs) - set(MARKER_KEYWORDS))
    if unknown:
        raise UsageError(
            f"unknown keyword {', '.join(unknown)}; valid keywords: {', '.join(MARKER_KEYWORDS)}"
        )
    values = dict(kwargs)
    values["employees"] = resolve_employees(values.get("employees", default_employees))
    return WorkforceSpec(**values)
