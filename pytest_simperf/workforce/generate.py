"""Build a synthetic workforce with set-based SQL inside DuckDB.

The census is one ``SELECT`` over ``range()``. Each simulated year is a handful of statements that
read only the previous year's outcome (two temporary tables: survivors and hires) and
append that year's events and snapshots, so year ``t`` never re-reads years before ``t - 1`` and
the cost is linear in employees × years. No Python loop touches a row: Python only computes the
number of hires per year from two counts.

Every random choice is a pure function of (seed, year, stream, employee number) — see
:mod:`pytest_simperf.workforce.prng`. Row order is fixed without sorting: the census comes from
``range()`` in employee order, each year's population stays in that order (survivors, then hires
with higher numbers), and DuckDB keeps insertion order through scans, filters and ``UNION ALL``
(``preserve_insertion_order``, which the build switches on). So the same spec gives byte-identical
tables whatever the thread count, machine or run, without paying for an ``ORDER BY``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pytest_simperf.errors import UsageError
from pytest_simperf.workforce.prng import FULL, HIGH, LOW, draws_sql
from pytest_simperf.workforce.spec import WorkforceSpec, estimate_bytes

if TYPE_CHECKING:
    import duckdb

Progress = Callable[[str], None]

TABLES: tuple[str, ...] = ("census", "workforce_events", "workforce_snapshots")

#: Bump when the generated data changes, so caches built by older versions are not reused.
GENERATOR_VERSION = "1"

LEVEL_SHARES = (0.40, 0.68, 0.86, 0.96)  # cumulative: levels 1–4, the rest level 5
HIRE_LEVEL_SHARES = (0.55, 0.80, 0.92, 0.98)
LEVEL_BASE_PAY = (52_000.0, 72_000.0, 98_000.0, 135_000.0, 190_000.0)
LEVEL_PAY_WIDTH = (0.45, 0.45, 0.45, 0.50, 1.10)  # pay spans base × [0.8, 0.8 + width]
PAY_LOW = 0.80
COMPENSATION_LIMIT = 350_000.0  # IRS 401(a)(17), 2025
DEFERRAL_LIMIT = 23_500.0  # IRS 402(g), 2025
CORE_RATE = 0.03
DEPARTMENTS = (
    ("Engineering", 0.25),
    ("Sales", 0.45),
    ("Operations", 0.65),
    ("Finance", 0.75),
    ("Marketing", 0.85),
    ("HR", 0.90),
    ("IT", 0.95),
    ("Legal", 1.0),
)
ELIGIBILITY_DAYS = 90

# Stream numbers: each random quantity has its own (or half of one), so adding a draw never
# shifts the others. Draws compared with a user's rate use all 32 bits.
CENSUS_STREAMS = {
    "u_enrolled": (0, FULL),
    "u_age_a": (1, HIGH),
    "u_age_b": (1, LOW),
    "u_birth_day": (2, HIGH),
    "u_tenure": (2, LOW),
    "u_leave_day": (3, HIGH),
    "u_level": (3, LOW),
    "u_dept": (4, HIGH),
    "u_split": (4, LOW),
    "u_pay_a": (5, HIGH),
    "u_pay_b": (5, LOW),
    "u_rate_kind": (6, HIGH),
    "u_rate_pick": (6, LOW),
}
YEAR_STREAMS = {
    "u_term": (20, FULL),
    "u_promo": (21, FULL),
    "u_raise": (22, FULL),
    "u_enroll": (23, FULL),
    "u_esc": (24, FULL),
    "u_term_day": (25, HIGH),
    "u_promo_day": (25, LOW),
    "u_promo_pct": (26, HIGH),
    "u_raise_pct": (26, LOW),
    "u_raise_day": (27, HIGH),
    "u_enroll_day": (27, LOW),
    "u_enroll_rate": (28, HIGH),
    "u_esc_day": (28, LOW),
}
HIRE_STREAMS = {
    "u_leave": (40, FULL),
    "u_enroll": (41, FULL),
    "u_level": (42, HIGH),
    "u_hire_day": (42, LOW),
    "u_pay_a": (43, HIGH),
    "u_pay_b": (43, LOW),
    "u_leave_day": (44, HIGH),
    "u_enroll_rate": (44, LOW),
}


def f(value: float) -> str:
    """A float as a DOUBLE literal (plain ``0.45`` would be a DECIMAL in DuckDB)."""
    text = repr(float(value))
    return text if "e" in text else f"{text}e0"


def round2(expr: str) -> str:
    """Round a DOUBLE to cents. Same result as ``round(x, 2)``, which is six times slower
    because it recomputes ``pow(10, 2)`` for every value."""
    return f"(round(({expr}) * 100.0e0) / 100.0e0)"


def _case(value: str, bounds: Sequence[float], results: Sequence[str]) -> str:
    """``CASE WHEN value < bound_i THEN result_i ... ELSE result_last END``."""
    whens = " ".join(
        f"WHEN {value} < {f(bound)} THEN {result}"
        for bound, result in zip(bounds, results, strict=False)
    )
    return f"CASE {whens} ELSE {results[-1]} END"


def _by_level(level: str, values: Sequence[float]) -> str:
    whens = " ".join(f"WHEN {i + 1} THEN {f(v)}" for i, v in enumerate(values[:-1]))
    return f"CASE {level} {whens} ELSE {f(values[-1])} END"


def _pay(level: str, u_a: str, u_b: str) -> str:
    """Pay for a level: base × (0.8 + width × mean of two uniforms), a hump-shaped spread."""
    return round2(
        f"{_by_level(level, LEVEL_BASE_PAY)} * ({f(PAY_LOW)} + "
        f"{_by_level(level, LEVEL_PAY_WIDTH)} * (({u_a} + {u_b}) * {f(0.5)}))"
    )


def _level(u: str, shares: Sequence[float]) -> str:
    return _case(u, shares, ["1", "2", "3", "4", "5"])


def _employee_id(number: str) -> str:
    """``EMP_00000042``: zero-padded to 8 digits (wider past 99,999,999), cheaper than printf."""
    return (
        f"CASE WHEN {number} < 100000000 "
        f"THEN 'EMP_' || substr(CAST(100000000 + {number} AS VARCHAR), 2) "
        f"ELSE 'EMP_' || CAST({number} AS VARCHAR) END"
    )


def census_sql(spec: WorkforceSpec, leavers: int) -> str:
    """The census with its employee number ``n`` (active: 1..employees, leavers after).

    Written for speed, value for value the same as the straightforward formulas kept in
    :mod:`pytest_simperf.workforce.reference` (the tests compare them): ``least``/``greatest``
    become ``CASE`` (half the cost in DuckDB), pay is one ``CASE`` per level over the whole
    product, Jan 1 of each birth year comes from a list rather than ``make_date``, and the SSN
    string is built once and reused for the employee id.
    """
    year = spec.census_year
    census_date = f"DATE '{year:04d}-12-31'"
    total = spec.employees + leavers
    draws = draws_sql(
        f"SELECT range + 1 AS n FROM range({total})",
        "n",
        spec.seed,
        year,
        CENSUS_STREAMS,
        ["n"],
    )
    rates = spec.rates
    rate_kinds = _case(
        "u_rate_kind",
        (0.25, 0.55, 0.70, 0.78),
        [f(0.03), f(0.06), f(0.10), f(0.15), "(1.0e0 + floor(u_rate_pick * 14.0e0)) / 100.0e0"],
    )
    # Ages run from 22 to 65 (22 + floor(44 × a number below 1)): Jan 1 of each birth year.
    birth_years = ", ".join(f"DATE '{year - age:04d}-01-01'" for age in range(22, 66))
    leaving_day = f"{census_date} - CAST(floor(u_leave_day * 365.0e0) AS INTEGER)"
    # least(age - 18, 40) years of tenure at most.
    tenure_days = (
        "CAST(floor(CAST(CASE WHEN age < 58 THEN (age - 18) * 365 ELSE 14600 END AS DOUBLE)"
        " * (u_tenure * u_tenure * u_tenure)) AS INTEGER)"
    )
    pay = [
        f"{f(base)} * ({f(PAY_LOW)} + {f(width)} * pay_mean)"
        for base, width in zip(LEVEL_BASE_PAY, LEVEL_PAY_WIDTH, strict=True)
    ]
    pay_whens = " ".join(f"WHEN {level} THEN {expr}" for level, expr in enumerate(pay[:-1], 1))
    gross = round2(f"CASE level_id {pay_whens} ELSE {pay[-1]} END")
    limit, deferral_limit = f(COMPENSATION_LIMIT), f(DEFERRAL_LIMIT)
    contribution = round2(
        f"CASE WHEN capped * rate < {deferral_limit} THEN capped * rate ELSE {deferral_limit} END"
    )
    half, most = round2("contribution * 0.5e0"), round2("contribution * 0.8e0")
    # Safe-harbour match: 100% of the first 3% deferred, 50% of the next 2%; the factor
    # least(rate, 0.03) + 0.5 * greatest(least(rate, 0.05) - 0.03, 0), branch by branch.
    match_factor = (
        "CASE WHEN rate <= 0.03e0 THEN rate WHEN rate < 0.05e0 THEN 0.03e0 + 0.5e0 * "
        f"(rate - 0.03e0) ELSE {f(0.03 + 0.5 * (0.05 - 0.03))} END"
    )
    departments = _case(
        "u_dept", [b for _, b in DEPARTMENTS[:-1]], [f"'{name}'" for name, _ in DEPARTMENTS]
    )
    employee_id = "'EMP_' || substr(ssn, 2)" if total < 100_000_000 else _employee_id("n")
    return f"""
    WITH d AS ({draws}),
    a AS (
        SELECT n, u_birth_day, u_tenure, u_split, u_dept,
            22 + CAST(floor(44.0e0 * ((u_age_a + u_age_b) * 0.5e0)) AS INTEGER) AS age,
            CASE WHEN n > {spec.employees} THEN {leaving_day} ELSE {census_date} END AS end_date,
            {_level("u_level", LEVEL_SHARES)} AS level_id,
            (u_pay_a + u_pay_b) * 0.5e0 AS pay_mean,
            CASE WHEN u_enrolled < {f(rates.enrolled)} THEN {rate_kinds} ELSE 0.0e0 END AS rate
        FROM d
    ),
    b AS (
        SELECT n, u_split, u_dept, end_date, level_id, rate,
            [{birth_years}][age - 21] + CAST(floor(u_birth_day * 365.0e0) AS INTEGER)
                AS birth_date,
            end_date - {tenure_days} AS hire_date,
            {gross} AS gross
        FROM a
    ),
    c AS (
        SELECT *, CASE WHEN gross < {limit} THEN gross ELSE {limit} END AS capped
        FROM b
    ),
    e AS (
        SELECT *, {contribution} AS contribution, CAST(100000000 + n AS VARCHAR) AS ssn
        FROM c
    )
    SELECT
        n,
        {employee_id} AS employee_id,
        ssn AS employee_ssn,
        birth_date AS employee_birth_date,
        hire_date AS employee_hire_date,
        CASE WHEN n > {spec.employees} THEN end_date END AS employee_termination_date,
        gross AS employee_gross_compensation,
        capped AS employee_capped_compensation,
        rate AS employee_deferral_rate,
        contribution AS employee_contribution,
        CASE WHEN u_split < 0.60e0 THEN contribution
             WHEN u_split < 0.85e0 THEN 0.0e0
             WHEN u_split < 0.95e0 THEN {half}
             ELSE {most} END AS pre_tax_contribution,
        CASE WHEN u_split < 0.60e0 THEN 0.0e0
             WHEN u_split < 0.85e0 THEN contribution
             WHEN u_split < 0.95e0 THEN {round2(f"contribution - {half}")}
             ELSE 0.0e0 END AS roth_contribution,
        CASE WHEN u_split < 0.95e0 THEN 0.0e0
             ELSE {round2(f"contribution - {most}")} END AS after_tax_contribution,
        {round2(f"capped * {f(CORE_RATE)}")} AS employer_core_contribution,
        {round2(f"capped * {match_factor}")} AS employer_match_contribution,
        hire_date + {ELIGIBILITY_DAYS} AS eligibility_entry_date,
        n <= {spec.employees} AS active,
        level_id,
        {departments} AS department
    FROM e
    """


def year_sql(spec: WorkforceSpec, year: int, source: str) -> str:
    """One year's outcome for everyone active at its start, whom ``source`` lists."""
    rates = spec.rates
    days = _days_in_year(year)
    jan1 = f"DATE '{year:04d}-01-01'"
    draws = draws_sql(
        source,
        "n",
        spec.seed,
        year,
        YEAR_STREAMS,
        ["n", "employee_id", "level_id", "comp", "rate"],
    )
    promotion = _by_level("level_id", [*rates.promotion, 0.0])
    cap = rates.escalation_cap
    enroll_rate = _case("u_enroll_rate", (0.50, 0.80, 0.95), [f(0.03), f(0.06), f(0.10), f(0.15)])
    promoted_pay = round2(
        f"comp * (1.0e0 + {f(rates.promotion_raise)} + (u_promo_pct - 0.5e0) * 0.04e0)"
    )
    merit = _by_level("level_2", rates.merit_raise)
    raised_pay = round2(f"comp_1 * (1.0e0 + {merit} + (u_raise_pct - 0.5e0) * 0.02e0)")
    escalated = round2(f"least(rate + 0.01e0, {f(cap)})")
    # Events of a continuing employee fall in fixed windows (promotion Q1, raise Q2, enrolment Q3,
    # escalation Q4), so their order within the year is known without sorting by date.
    return f"""
    WITH d AS ({draws}),
    a AS (
        SELECT *,
            u_term < {f(rates.termination)} AS terminated,
            {jan1} + CAST(floor(u_term_day * {f(days)}) AS INTEGER) AS term_date
        FROM d
    ),
    b AS (
        SELECT *,
            NOT terminated AND level_id < 5 AND u_promo < {promotion} AS promoted,
            NOT terminated AND u_raise < {f(rates.raise_rate)} AS raised,
            NOT terminated AND rate = 0.0e0 AND u_enroll < {f(rates.enrollment)} AS enrolls,
            NOT terminated AND rate > 0.0e0 AND rate < {f(cap - 0.005)}
                AND u_esc < {f(rates.escalation)} AS escalates
        FROM a
    ),
    c AS (
        SELECT *,
            level_id + CAST(promoted AS INTEGER) AS level_2,
            CASE WHEN promoted THEN {promoted_pay} ELSE comp END AS comp_1,
            {jan1} + CAST(floor(u_promo_day * 90.0e0) AS INTEGER) AS promo_date,
            {jan1} + 90 + CAST(floor(u_raise_day * 91.0e0) AS INTEGER) AS raise_date,
            {jan1} + 181 + CAST(floor(u_enroll_day * 92.0e0) AS INTEGER) AS enroll_date,
            {jan1} + 273 + CAST(floor(u_esc_day * 92.0e0) AS INTEGER) AS esc_date,
            CASE WHEN enrolls THEN {enroll_rate}
                 WHEN escalates THEN {escalated}
                 ELSE rate END AS rate_2
        FROM b
    )
    SELECT n, employee_id, level_id, comp, rate, terminated, term_date, promoted, raised,
        enrolls, escalates, level_2, comp_1,
        CASE WHEN raised THEN {raised_pay} ELSE comp_1 END AS comp_2,
        rate_2, promo_date, raise_date, enroll_date, esc_date
    FROM c
    """


def hires_sql(spec: WorkforceSpec, year: int, first: int, count: int) -> str:
    """``count`` hires numbered from ``first``, some of whom leave again within the year."""
    rates = spec.rates
    days = _days_in_year(year)
    jan1 = f"DATE '{year:04d}-01-01'"
    dec31 = f"DATE '{year:04d}-12-31'"
    draws = draws_sql(
        f"SELECT range + {first} AS n FROM range({count})",
        "n",
        spec.seed,
        year,
        HIRE_STREAMS,
        ["n"],
    )
    rate = _case("u_enroll_rate", (0.70, 0.90), [f(0.03), f(0.06), f(0.10)])
    return f"""
    WITH d AS ({draws}),
    a AS (
        SELECT *, {_level("u_level", HIRE_LEVEL_SHARES)} AS level_id,
            {jan1} + CAST(floor(u_hire_day * {f(days)}) AS INTEGER) AS hire_date,
            u_leave < {f(rates.new_hire_termination)} AS terminated
        FROM d
    )
    SELECT n, {_employee_id("n")} AS employee_id, level_id,
        {_pay("level_id", "u_pay_a", "u_pay_b")} AS comp,
        hire_date,
        terminated,
        hire_date + CAST(floor(u_leave_day * CAST({dec31} - hire_date + 1 AS DOUBLE)) AS INTEGER)
            AS term_date,
        CASE WHEN NOT terminated AND u_enroll < {f(rates.new_hire_enrollment)}
            THEN {rate} ELSE 0.0e0 END AS rate
    FROM a
    """


def events_sql(year: int, y: str, h: str) -> str:
    """The year's events from its outcome table ``y`` and hires table ``h``."""
    cols = (
        "employee_id, {y} AS simulation_year, '{t}' AS event_type, {d} AS effective_date, "
        "{c} AS compensation_amount, {p} AS previous_compensation, {lv} AS level_id, "
        "{r} AS employee_deferral_rate, {s} AS event_sequence, n"
    )

    def part(table: str, where: str, **kw: str) -> str:
        return f"SELECT {cols.format(y=year, **kw)} FROM {table} WHERE {where}"

    seq_raise = "1 + CAST(promoted AS INTEGER)"
    seq_last = "1 + CAST(promoted AS INTEGER) + CAST(raised AS INTEGER)"
    parts = [
        part(y, "terminated", t="termination", d="term_date", c="comp", p="comp",
             lv="level_id", r="rate", s="1"),
        part(y, "promoted", t="promotion", d="promo_date", c="comp_1", p="comp",
             lv="level_2", r="rate", s="1"),
        part(y, "raised", t="raise", d="raise_date", c="comp_2", p="comp_1",
             lv="level_2", r="rate", s=seq_raise),
        part(y, "enrolls", t="enrollment", d="enroll_date", c="comp_2", p="comp_2",
             lv="level_2", r="rate_2", s=seq_last),
        part(y, "escalates", t="deferral_escalation", d="esc_date", c="comp_2", p="comp_2",
             lv="level_2", r="rate_2", s=seq_last),
        part(h, "true", t="hire", d="hire_date", c="comp", p="NULL",
             lv="level_id", r="0.0e0", s="1"),
        part(h, "rate > 0.0e0", t="enrollment", d="hire_date", c="comp", p="comp",
             lv="level_id", r="rate", s="2"),
        part(h, "terminated", t="termination", d="term_date", c="comp", p="comp",
             lv="level_id", r="rate", s="2"),
    ]  # fmt: skip
    union = "\nUNION ALL ".join(parts)
    return f"SELECT * EXCLUDE (n) FROM ({union})"


def snapshots_sql(year: int, y: str, h: str) -> str:
    """Everyone employed at some point in the year, as of its end."""
    return f"""
    SELECT employee_id, {year} AS simulation_year, status AS employment_status, level_id,
        current_compensation, current_deferral_rate
    FROM (
        SELECT n, employee_id,
            CASE WHEN terminated THEN 'terminated' ELSE 'active' END AS status,
            level_2 AS level_id, comp_2 AS current_compensation, rate_2 AS current_deferral_rate
        FROM {y}
        UNION ALL
        SELECT n, employee_id, CASE WHEN terminated THEN 'terminated' ELSE 'active' END,
            level_id, comp, rate
        FROM {h}
    )
    """


_SCHEMA = {
    "workforce_events": """
        employee_id VARCHAR, simulation_year INTEGER, event_type VARCHAR, effective_date DATE,
        compensation_amount DOUBLE, previous_compensation DOUBLE, level_id INTEGER,
        employee_deferral_rate DOUBLE, event_sequence INTEGER
    """,
    "workforce_snapshots": """
        employee_id VARCHAR, simulation_year INTEGER, employment_status VARCHAR,
        level_id INTEGER, current_compensation DOUBLE, current_deferral_rate DOUBLE
    """,
}


def _days_in_year(year: int) -> int:
    return (dt.date(year + 1, 1, 1) - dt.date(year, 1, 1)).days


def _round_half_up(value: float) -> int:
    return int(value + 0.5) if value >= 0 else -int(-value + 0.5)


def hires_for(spec: WorkforceSpec, headcount: int, leavers: int) -> int:
    """Hires needed so the year ends near ``headcount × (1 + growth)`` after all leavers.

    Some hires leave again within the year, so the target is scaled up by their leaving rate.
    """
    rates = spec.rates
    target = max(0, leavers + _round_half_up(headcount * rates.growth))
    return _round_half_up(target / (1.0 - rates.new_hire_termination))


def check_memory(spec: WorkforceSpec, available: int | None = None) -> None:
    """Refuse a build whose estimated peak memory exceeds what the machine has free."""
    if available is None:
        import psutil

        available = int(psutil.virtual_memory().available)
    needed = estimate_bytes(spec)
    if needed > available:
        raise UsageError(
            f"a workforce of {spec.employees:,} employees over {spec.years} years needs about "
            f"{needed / 2**30:.1f} GiB of memory to build, but only {available / 2**30:.1f} GiB "
            "is available; use fewer employees or years"
        )


def build_workforce(
    con: duckdb.DuckDBPyConnection,
    spec: WorkforceSpec,
    *,
    progress: Progress | None = None,
    check_fits: bool = True,
) -> None:
    """Create ``census``, ``workforce_events`` and ``workforce_snapshots`` in ``con``.

    Existing tables of those names are replaced. Temporary helper tables are dropped at the end.
    """
    if check_fits:
        check_memory(spec)
    row = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    preserve = bool(row[0]) if row else True
    con.execute("SET preserve_insertion_order = true")
    try:
        _build(con, spec, progress or (lambda _message: None))
    finally:
        for temp in _TEMP_TABLES:
            con.execute(f"DROP TABLE IF EXISTS {temp}")
        if not preserve:
            con.execute("SET preserve_insertion_order = false")


_TEMP_TABLES = ("_simperf_year_0", "_simperf_year_1", "_simperf_hires_0", "_simperf_hires_1")
_CENSUS_ACTIVE = (
    "SELECT CAST(substr(employee_id, 5) AS BIGINT) AS n, employee_id, level_id, "
    "employee_gross_compensation AS comp, employee_deferral_rate AS rate FROM census WHERE active"
)


def _survivors(y: str, h: str) -> str:
    # Survivors, then hires: both in employee order, and every hire's number is higher, so the
    # next year's population stays sorted without an ORDER BY.
    return (
        f"SELECT n, employee_id, level_2 AS level_id, comp_2 AS comp, rate_2 AS rate FROM {y} "
        f"WHERE NOT terminated UNION ALL "
        f"SELECT n, employee_id, level_id, comp, rate FROM {h} WHERE NOT terminated"
    )


def _build(con: duckdb.DuckDBPyConnection, spec: WorkforceSpec, report: Progress) -> None:
    started = time.perf_counter()
    leavers = _round_half_up(spec.employees * spec.rates.census_terminated)
    for table in TABLES:
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.execute(f"CREATE TABLE census AS SELECT * EXCLUDE (n) FROM ({census_sql(spec, leavers)})")
    for table, schema in _SCHEMA.items():
        con.execute(f"CREATE TABLE {table} ({schema})")
    report(
        f"census: {spec.employees:,} active + {leavers:,} leavers "
        f"({time.perf_counter() - started:.1f} s)"
    )
    next_number = spec.employees + leavers + 1
    source = _CENSUS_ACTIVE
    for index, year in enumerate(spec.simulation_years):
        y, h = f"_simperf_year_{index % 2}", f"_simperf_hires_{index % 2}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {y} AS {year_sql(spec, year, source)}")
        row = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE terminated) FROM {y}"
        ).fetchone()
        headcount, leaving = (int(row[0]), int(row[1])) if row else (0, 0)
        hires = hires_for(spec, headcount, leaving)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {h} AS {hires_sql(spec, year, next_number, hires)}"
        )
        next_number += hires
        con.execute(f"INSERT INTO workforce_events {events_sql(year, y, h)}")
        con.execute(f"INSERT INTO workforce_snapshots {snapshots_sql(year, y, h)}")
        source = _survivors(y, h)
        report(
            f"year {year}: {headcount:,} active at the start, {hires:,} hired, "
            f"{leaving:,} leaving ({time.perf_counter() - started:.1f} s)"
        )


def build_database(
    spec: WorkforceSpec, path: str | os.PathLike[str], *, progress: Progress | None = None
) -> Path:
    """Write the workforce to a ``.duckdb`` file: built beside it, then renamed into place.

    A crash or interrupt leaves either the old file or none, never a half-written one. The data
    is built in memory and written once at the end: building inside the file would log every
    statement and recompress as it goes, about three times slower.
    """
    import duckdb

    target = Path(path)
    check_memory(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    temp = Path(temp_name)
    temp.unlink()  # DuckDB refuses to open an existing empty file as a database.
    report = progress or (lambda _message: None)
    try:
        with duckdb.connect() as con:
            build_workforce(con, spec, progress=progress, check_fits=False)
            started = time.perf_counter()
            literal = str(temp).replace("'", "''")
            con.execute(f"ATTACH '{literal}' AS simperf_out")
            # One writer thread: parallel inserts split row groups differently from run to run.
            # The rows would be identical, but DuckDB's zone-map pruning follows the row groups,
            # so rows-scanned counters measured on the copies would not be reproducible.
            con.execute("SET threads = 1")
            for index, table in enumerate(TABLES, start=1):
                # Said before each table: writing is most of a large build's time.
                report(f"writing {table} ({index} of {len(TABLES)})")
                con.execute(f"CREATE TABLE simperf_out.{table} AS SELECT * FROM {table}")
            con.execute("DETACH simperf_out")
            report(f"written {target.name} ({time.perf_counter() - started:.1f} s)")
        os.replace(temp, target)
    finally:
        for leftover in (temp, Path(f"{temp}.wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return target
