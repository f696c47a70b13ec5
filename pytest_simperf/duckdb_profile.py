"""DuckDB's JSON profile of one statement, read into the work counters the plan gate compares.

DuckDB has written three layouts over the versions pytest-simperf allows, all recorded in
``tests/core/data/duckdb_profiles``:

- **2.x, nested:** the statement's totals in a ``query`` node (``total_rows_scanned``,
  ``total_intermediate_rows``, ``cpu_time``, ``sql``) and the process's in ``system``
  (``peak_buffer_memory``).
- **1.1-1.5, flat:** the totals at the top level as ``cumulative_rows_scanned``,
  ``cumulative_cardinality`` (what 2.x calls intermediate rows), ``cpu_time``, ``query_name``,
  and from 1.3 ``system_peak_buffer_memory``. Before 1.5 the Python API has no
  ``get_profiling_information``; the same document is read from the ``profiling_output`` file.
- **No statement:** ``{"result": "empty"}`` or ``{"result": "error"}`` (nothing profiled: an
  error, or a statement outside ``profiling_coverage``).

A statement whose result is still being read has no totals yet: 2.x shows its operators only
(or ``{}``), 1.5 a flat document with an empty ``query_name`` and zeros, and before 1.5 no file
is written. Such a profile is ``OPEN``, never counted as zero work.

Pure: no duckdb, no pytest, so it is tested on recorded profiles whatever DuckDB is installed.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from collections.abc import Mapping
from typing import Any


class ProfileState(enum.Enum):
    """What a profile says about the last statement of a connection."""

    FINISHED = "finished"  # the statement ran to its end: its totals are final
    OPEN = "open"  # its result is still being read: no totals yet
    NONE = "none"  # no statement profiled (an error, or a statement the profiler skips)
    UNREADABLE = "unreadable"  # finished, but without the figures counted here


@dataclasses.dataclass(frozen=True)
class StatementCounters:
    """The deterministic work of one finished statement (``cpu_time_s`` is not: it is timing)."""

    rows_scanned: int
    intermediate_rows: int
    cpu_time_s: float
    peak_buffer_bytes: int | None
    sql: str
    # Not work: lets a reader tell two runs of the same text apart (latency, total time).
    elapsed_s: float | None = None

    @property
    def signature(self) -> tuple[str, float, float | None]:
        """Equal for two reads of the same statement's profile, different for two runs."""
        return (self.sql, self.cpu_time_s, self.elapsed_s)


@dataclasses.dataclass(frozen=True)
class Profile:
    """A profile read: its state, the counters when it is finished, and its layout."""

    state: ProfileState
    counters: StatementCounters | None = None
    layout: str = "none"  # nested (2.x) | flat (1.1-1.5) | none
    reason: str | None = None  # why a FINISHED-looking profile is UNREADABLE

    @property
    def sql(self) -> str | None:
        return None if self.counters is None else self.counters.sql


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _missing(names: list[str], layout: str) -> Profile:
    return Profile(
        ProfileState.UNREADABLE,
        layout=layout,
        reason=f"the profile has no {', '.join(names)}",
    )


def _nested(data: Mapping[str, Any]) -> Profile:
    query = data.get("query")
    if not isinstance(query, Mapping):
        return Profile(ProfileState.OPEN, layout="nested")
    system = data.get("system")
    system = system if isinstance(system, Mapping) else {}
    scanned = _int(query.get("total_rows_scanned"))
    intermediate = _int(query.get("total_intermediate_rows"))
    missing = [
        name
        for name, value in (
            ("total_rows_scanned", scanned),
            ("total_intermediate_rows", intermediate),
        )
        if value is None
    ]
    if missing or scanned is None or intermediate is None:
        return _missing(missing, "nested")
    return Profile(
        ProfileState.FINISHED,
        StatementCounters(
            rows_scanned=scanned,
            intermediate_rows=intermediate,
            cpu_time_s=_float(query.get("cpu_time")) or 0.0,
            peak_buffer_bytes=_int(system.get("peak_buffer_memory")),
            sql=str(query.get("sql") or ""),
            elapsed_s=_float(query.get("total_time")),
        ),
        layout="nested",
    )


def _flat(data: Mapping[str, Any]) -> Profile:
    sql = data.get("query_name")
    if not sql:
        # 1.5 while the result is being read: the shape of a profile, empty name, zeros.
        return Profile(ProfileState.OPEN, layout="flat")
    scanned = _int(data.get("cumulative_rows_scanned"))
    intermediate = _int(data.get("cumulative_cardinality"))
    missing = [
        name
        for name, value in (
            ("cumulative_rows_scanned", scanned),
            ("cumulative_cardinality", intermediate),
        )
        if value is None
    ]
    if missing or scanned is None or intermediate is None:
        return _missing(missing, "flat")
    return Profile(
        ProfileState.FINISHED,
        StatementCounters(
            rows_scanned=scanned,
            intermediate_rows=intermediate,
            cpu_time_s=_float(data.get("cpu_time")) or 0.0,
            peak_buffer_bytes=_int(data.get("system_peak_buffer_memory")),
            sql=str(sql),
            elapsed_s=_float(data.get("latency")),
        ),
        layout="flat",
    )


def parse_profile(data: Mapping[str, Any] | str | bytes | None) -> Profile:
    """Read a profile as DuckDB wrote it (JSON text or the decoded object), any layout."""
    if data is None:
        return Profile(ProfileState.NONE)
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError:
            return Profile(ProfileState.UNREADABLE, reason="the profile is not JSON")
    if not isinstance(data, Mapping):
        return Profile(ProfileState.UNREADABLE, reason="the profile is not a JSON object")
    if "result" in data and len(data) == 1:
        return Profile(ProfileState.NONE)
    if "query" in data or "operator" in data or not data:
        return _nested(data)
    if "query_name" in data or "cumulative_rows_scanned" in data:
        return _flat(data)
    return Profile(ProfileState.UNREADABLE, reason="the profile's layout is not one DuckDB wrote")


def read_counters(data: Mapping[str, Any] | str | bytes | None) -> StatementCounters | None:
    """The counters of a finished statement's profile, or None when it lacks the totals."""
    return parse_profile(data).counters


def normalise_sql(sql: str) -> str:
    """Statement text as DuckDB's profile names it: no surrounding blanks, no final ``;``."""
    return sql.strip().rstrip(";").strip()


def same_statement(expected: str | None, profiled: str | None) -> bool:
    """True when a profile's statement text is the statement run (None: the text is unknown)."""
    if expected is None or profiled is None:
        return True
    return normalise_sql(expected) == normalise_sql(profiled)


def incomplete_note(unprofiled: int, statements: int, reasons: Mapping[str, int]) -> str | None:
    """What a report says of a region whose counters miss statements (None: they do not)."""
    if unprofiled <= 0:
        return None
    why = "; ".join(f"{reason} ({count})" for reason, count in sorted(reasons.items()))
    return f"counters incomplete: {unprofiled} of {statements} statements had no profile" + (
        f": {why}" if why else ""
    )
