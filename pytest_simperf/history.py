"""The run history: every ``--simperf`` run appended to one DuckDB file, and the queries over it.

Why a database rather than more JSON: the questions asked of history ("when did year 5 start
getting slower?", "which component breaches most?") are group-bys over tens of thousands of rows,
which DuckDB answers in milliseconds from a file a few MB large.

Rules this module keeps:

* duckdb is imported inside functions: the pytest entry point imports this module lazily, and
  ``simperf --help`` should not pay for duckdb either.
* Every statement takes its values as parameters; nothing from a report or a user is spliced
  into SQL text.
* The schema carries a version and is migrated forward, in one transaction, keeping every row.
  A file from a newer pytest-simperf is refused, never rewritten.
* DuckDB lets one process write a file at a time. Two sessions finishing together must both be
  recorded, so opening retries with jittered exponential backoff while the lock is held.
"""

from __future__ import annotations

import fnmatch
import json
import math
import random
import secrets
import statistics
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_simperf import trends
from pytest_simperf.errors import SimperfError, UsageError
from pytest_simperf.report import figures as figures_mod

if TYPE_CHECKING:
    import duckdb

SCHEMA_VERSION = 4
DEFAULT_HISTORY_PATH = Path(".simperf/history.duckdb")
REGRESSION_CLASSES = ("MINOR", "MAJOR", "CRITICAL")
SEVERITY_ORDER = ("NEW", "OK", "IMPROVED", "MINOR", "MAJOR", "CRITICAL")

Row = dict[str, Any]


class HistoryError(SimperfError):
    """The history database cannot be used as asked; the message says which file and why."""


class HistoryNotFoundError(HistoryError):
    """No history file where one was expected."""


class EmptyHistoryError(HistoryError):
    """A history file with no runs (in the asked window)."""


class UnknownRunError(HistoryError):
    """A run id that is not in the history."""


class HistoryLockedError(HistoryError):
    """Another process held the history file for longer than we were willing to wait."""


class PatternError(UsageError):
    """A ``--test`` pattern that is malformed or matches nothing."""


# --------------------------------------------------------------------------------------------
# Schema and migrations
# --------------------------------------------------------------------------------------------

#: Forward migrations: ``_MIGRATIONS[v]`` takes a database from version ``v`` to ``v + 1``.
#: Never edit a released step: files in the wild were made by it. Add a new one instead.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 0 -> 1: the first schema.
    (
        "CREATE TABLE simperf_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
        """CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            started_at TIMESTAMP NOT NULL,
            finished_at TIMESTAMP,
            duration_s DOUBLE,
            git_commit VARCHAR,
            git_dirty BOOLEAN,
            machine_id VARCHAR,
            machine VARCHAR,
            calibration_s DOUBLE,
            options VARCHAR,
            exit_status INTEGER,
            report_schema_version INTEGER
        )""",
        """CREATE TABLE performance (
            run_id VARCHAR NOT NULL,
            nodeid VARCHAR NOT NULL,
            phase VARCHAR NOT NULL,
            year INTEGER,
            rounds INTEGER,
            median_s DOUBLE,
            min_s DOUBLE,
            max_s DOUBLE,
            cpu_s DOUBLE,
            baseline_median_s DOUBLE,
            change_pct DOUBLE,
            severity VARCHAR,
            peak_rss_mb DOUBLE,
            rows BIGINT,
            rows_per_s DOUBLE,
            sla_seconds DOUBLE,
            sla_status VARCHAR,
            sla_category VARCHAR
        )""",
        """CREATE TABLE regressions (
            run_id VARCHAR NOT NULL,
            nodeid VARCHAR NOT NULL,
            component VARCHAR NOT NULL,
            year INTEGER,
            metric VARCHAR NOT NULL,
            baseline DOUBLE,
            current DOUBLE,
            degradation_pct DOUBLE,
            class VARCHAR NOT NULL,
            status VARCHAR NOT NULL
        )""",
        """CREATE TABLE sla_definitions (
            run_id VARCHAR NOT NULL,
            component VARCHAR NOT NULL,
            seconds DOUBLE,
            warning_seconds DOUBLE,
            memory_mb DOUBLE
        )""",
    ),
    # 1 -> 2: the rest of the run report (memory verdicts, DuckDB counters, per-year figures,
    # raw samples), and cumulative / year-over-year figures backfilled for rows already stored.
    (
        "ALTER TABLE runs ADD COLUMN recorded_at TIMESTAMP",
        "UPDATE runs SET recorded_at = started_at",
        "ALTER TABLE runs ADD COLUMN duckdb_threads INTEGER",
        "ALTER TABLE runs ADD COLUMN xdist_workers INTEGER",
        "ALTER TABLE runs ADD COLUMN baselines VARCHAR",
        "ALTER TABLE performance ADD COLUMN test_outcome VARCHAR",
        "ALTER TABLE performance ADD COLUMN test_severity VARCHAR",
        "ALTER TABLE performance ADD COLUMN samples_s DOUBLE[]",
        "ALTER TABLE performance ADD COLUMN p_value DOUBLE",
        "ALTER TABLE performance ADD COLUMN noise_pct DOUBLE",
        "ALTER TABLE performance ADD COLUMN comparison VARCHAR",
        "ALTER TABLE performance ADD COLUMN baseline_peak_rss_mb DOUBLE",
        "ALTER TABLE performance ADD COLUMN memory_change_pct DOUBLE",
        "ALTER TABLE performance ADD COLUMN memory_severity VARCHAR",
        "ALTER TABLE performance ADD COLUMN duckdb_peak_buffer_mb DOUBLE",
        "ALTER TABLE performance ADD COLUMN rows_scanned BIGINT",
        "ALTER TABLE performance ADD COLUMN baseline_rows_scanned BIGINT",
        "ALTER TABLE performance ADD COLUMN intermediate_rows BIGINT",
        "ALTER TABLE performance ADD COLUMN baseline_intermediate_rows BIGINT",
        "ALTER TABLE performance ADD COLUMN plan_changed BOOLEAN",
        "ALTER TABLE performance ADD COLUMN sla_memory_mb DOUBLE",
        "ALTER TABLE performance ADD COLUMN yoy_change_pct DOUBLE",
        "ALTER TABLE performance ADD COLUMN cumulative_s DOUBLE",
        "ALTER TABLE performance ADD COLUMN why VARCHAR",
        """UPDATE performance SET cumulative_s = w.cumulative_s, yoy_change_pct = w.yoy_change_pct
        FROM (
            SELECT run_id, nodeid, phase, year,
                sum(median_s) OVER per_year AS cumulative_s,
                (median_s / lag(median_s) OVER per_year - 1) * 100 AS yoy_change_pct
            FROM performance WHERE year IS NOT NULL
            WINDOW per_year AS (PARTITION BY run_id, nodeid, phase ORDER BY year)
        ) AS w
        WHERE performance.run_id = w.run_id AND performance.nodeid = w.nodeid
            AND performance.phase = w.phase AND performance.year = w.year""",
        "ALTER TABLE regressions ADD COLUMN fails_gate BOOLEAN",
    ),
    # 2 -> 3: production runs beside test runs (``kind``, ``run_name``); the figures each verdict
    # used (``metric``: cpu / wall / instructions / rows_scanned, with its ``value`` and
    # ``baseline_value``), so every report reads the gate's own numbers; instruction counts; and
    # a phase's status, rows in and error, which production phases carry.
    (
        "ALTER TABLE runs ADD COLUMN kind VARCHAR",
        "UPDATE runs SET kind = 'test'",
        "ALTER TABLE runs ADD COLUMN run_name VARCHAR",
        "ALTER TABLE performance ADD COLUMN metric VARCHAR",
        "ALTER TABLE performance ADD COLUMN value DOUBLE",
        "ALTER TABLE performance ADD COLUMN baseline_value DOUBLE",
        "ALTER TABLE performance ADD COLUMN instructions BIGINT",
        "ALTER TABLE performance ADD COLUMN baseline_instructions BIGINT",
        "ALTER TABLE performance ADD COLUMN instructions_change_pct DOUBLE",
        "ALTER TABLE performance ADD COLUMN instructions_severity VARCHAR",
        "ALTER TABLE performance ADD COLUMN status VARCHAR",
        "ALTER TABLE performance ADD COLUMN rows_in BIGINT",
        "ALTER TABLE performance ADD COLUMN error VARCHAR",
    ),
    # 3 -> 4: peak allocation (the RSS a region added), which the memory SLA and the memory
    # verdict judge; peak RSS alone made the dashboard draw one figure beside another's limit.
    (
        "ALTER TABLE performance ADD COLUMN peak_alloc_mb DOUBLE",
        "ALTER TABLE performance ADD COLUMN baseline_peak_alloc_mb DOUBLE",
    ),
)

assert len(_MIGRATIONS) == SCHEMA_VERSION

#: Columns of ``performance`` in insertion order, with the DuckDB type each list is cast to.
_PERF_COLUMNS: tuple[tuple[str, str], ...] = (
    ("run_id", "VARCHAR"),
    ("nodeid", "VARCHAR"),
    ("phase", "VARCHAR"),
    ("year", "INTEGER"),
    ("rounds", "INTEGER"),
    ("median_s", "DOUBLE"),
    ("min_s", "DOUBLE"),
    ("max_s", "DOUBLE"),
    ("cpu_s", "DOUBLE"),
    ("baseline_median_s", "DOUBLE"),
    ("change_pct", "DOUBLE"),
    ("severity", "VARCHAR"),
    ("peak_rss_mb", "DOUBLE"),
    ("rows", "BIGINT"),
    ("rows_per_s", "DOUBLE"),
    ("sla_seconds", "DOUBLE"),
    ("sla_status", "VARCHAR"),
    ("sla_category", "VARCHAR"),
    ("test_outcome", "VARCHAR"),
    ("test_severity", "VARCHAR"),
    ("samples_s", "DOUBLE[]"),
    ("p_value", "DOUBLE"),
    ("noise_pct", "DOUBLE"),
    ("comparison", "VARCHAR"),
    ("baseline_peak_rss_mb", "DOUBLE"),
    ("memory_change_pct", "DOUBLE"),
    ("memory_severity", "VARCHAR"),
    ("duckdb_peak_buffer_mb", "DOUBLE"),
    ("rows_scanned", "BIGINT"),
    ("baseline_rows_scanned", "BIGINT"),
    ("intermediate_rows", "BIGINT"),
    ("baseline_intermediate_rows", "BIGINT"),
    ("plan_changed", "BOOLEAN"),
    ("sla_memory_mb", "DOUBLE"),
    ("yoy_change_pct", "DOUBLE"),
    ("cumulative_s", "DOUBLE"),
    ("why", "VARCHAR"),
    ("metric", "VARCHAR"),
    ("value", "DOUBLE"),
    ("baseline_value", "DOUBLE"),
    ("instructions", "BIGINT"),
    ("baseline_instructions", "BIGINT"),
    ("instructions_change_pct", "DOUBLE"),
    ("instructions_severity", "VARCHAR"),
    ("status", "VARCHAR"),
    ("rows_in", "BIGINT"),
    ("error", "VARCHAR"),
    ("peak_alloc_mb", "DOUBLE"),
    ("baseline_peak_alloc_mb", "DOUBLE"),
)


def _schema_version(con: duckdb.DuckDBPyConnection, path: Path | None = None) -> int:
    """0 for a file without our tables (a fresh file), else the stored version."""
    where = "history file" if path is None else f"history {path}"
    tables = {
        r[0]
        for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
    }
    if "simperf_meta" not in tables:
        if tables:
            raise HistoryError(
                f"{where} is not a pytest-simperf history (it holds other tables: "
                f"{', '.join(sorted(tables))})"
            )
        return 0
    row = con.execute("SELECT value FROM simperf_meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise HistoryError(f"{where} has no schema version")
    try:
        return int(str(row[0]).strip())
    except ValueError:
        raise HistoryError(
            f"{where} has an unreadable schema version {str(row[0])[:40]!r}; it was not "
            "written by pytest-simperf, or was edited (the file is untouched)"
        ) from None


def _migrate(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Bring the file to ``SCHEMA_VERSION`` in one transaction: all steps or none."""
    con.execute("BEGIN TRANSACTION")
    try:
        version = _schema_version(con, path)
        if version > SCHEMA_VERSION:
            raise HistoryError(
                f"{path} has history schema version {version}, newer than this pytest-simperf "
                f"understands ({SCHEMA_VERSION}); upgrade pytest-simperf (the file is untouched)"
            )
        for step in _MIGRATIONS[version:]:
            for statement in step:
                con.execute(statement)
        if version < SCHEMA_VERSION:
            con.execute(
                "INSERT OR REPLACE INTO simperf_meta VALUES ('schema_version', ?)",
                [str(SCHEMA_VERSION)],
            )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# --------------------------------------------------------------------------------------------
# Opening the file
# --------------------------------------------------------------------------------------------

Connector = Callable[[str, bool], "duckdb.DuckDBPyConnection"]


def _duckdb_connect(path: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect(path, read_only=read_only)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("conflicting" in text or "could not set" in text)


def _open_with_retry(
    path: Path,
    *,
    read_only: bool,
    sleep: Callable[[float], None],
    timeout_s: float,
    connect: Connector,
    clock: Callable[[], float] = time.monotonic,
) -> duckdb.DuckDBPyConnection:
    """Open the file, waiting with jittered exponential backoff while another process holds it."""
    deadline = clock() + timeout_s
    delay = 0.02
    while True:
        try:
            return connect(str(path), read_only)
        except Exception as exc:
            if not _is_lock_error(exc):
                raise HistoryError(f"cannot open history {path}: {exc}") from exc
            if clock() >= deadline:
                raise HistoryLockedError(
                    f"history {path} stayed locked by another process for {timeout_s:g} s: {exc}"
                ) from exc
            sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2.0, 1.0)


@contextmanager
def open_history(
    path: str | Path,
    *,
    write: bool = False,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = 60.0,
    connect: Connector = _duckdb_connect,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to an up-to-date history; reading needs the file, writing creates it."""
    import duckdb

    path = Path(path)
    if not write and not path.is_file():
        if path.exists():
            raise HistoryError(f"history {path} is not a file")
        raise HistoryNotFoundError(
            f"no history at {path}: run `pytest --simperf` first (each run is recorded at the "
            "end of the session), or point --history at the file"
        )
    _check_is_duckdb_file(path)
    if write:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"cannot create the folder of history {path}: {exc}") from None
    con = _open_with_retry(
        path, read_only=not write, sleep=sleep, timeout_s=timeout_s, connect=connect
    )
    try:
        if _schema_version(con, path) != SCHEMA_VERSION:
            if not write:
                # An older file must be migrated before we can read it, which needs a writer.
                con.close()
                con = _open_with_retry(
                    path, read_only=False, sleep=sleep, timeout_s=timeout_s, connect=connect
                )
            _migrate(con, path)
        yield con
    except duckdb.Error as exc:
        # A table dropped or altered by hand, a truncated or corrupted file: the query that
        # met it says what, in its first line; the file is never repaired behind the user.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise HistoryError(f"history {path} cannot be used: {first}") from None
    finally:
        con.close()


#: Bytes 8-11 of every DuckDB database file.
_DUCKDB_MAGIC = b"DUCK"


def _check_is_duckdb_file(path: Path) -> None:
    """Refuse, before DuckDB opens it, a file that is not a DuckDB database.

    DuckDB opens what it recognises: a SQLite file makes it try to download the sqlite
    extension (network, on a CI runner), and other files give errors that do not say which
    file. A missing file is fine (writing creates it); a directory or anything else is not.
    """
    try:
        with path.open("rb") as handle:
            header = handle.read(12)
    except FileNotFoundError:
        return
    except IsADirectoryError:
        raise HistoryError(f"history {path} is a directory, not a DuckDB file") from None
    except OSError as exc:
        raise HistoryError(f"history {path} cannot be read: {exc}") from None
    # Shorter than a header: being created by another session right now, or empty; DuckDB
    # waits for the one and refuses the other with a message naming the file.
    if len(header) == 12 and header[8:12] != _DUCKDB_MAGIC:
        kind = "a SQLite database" if header.startswith(b"SQLite for") else "another kind of file"
        raise HistoryError(
            f"cannot open history {path}: it is {kind}, not a pytest-simperf history (a DuckDB "
            "file); it was left untouched: point --simperf-history / --history elsewhere"
        )


# --------------------------------------------------------------------------------------------
# Recording a run
# --------------------------------------------------------------------------------------------


def _parse_time(value: Any) -> datetime | None:
    """An ISO-8601 timestamp as naive UTC (how the history stores time), or None."""
    if not value:
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise HistoryError(f"run report has a malformed timestamp: {value!r}") from exc
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def new_run_id(started_at: datetime) -> str:
    """Sortable by time at a glance, unique by its random suffix: ``20261123-084000-3fa2b1``."""
    return f"{started_at:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


_num = figures_mod.finite_number


#: The range of DuckDB's INTEGER and BIGINT columns.
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def _int(value: Any, bounds: tuple[int, int] = _INT32) -> int | None:
    """A whole number that fits its column, else None: one phase's ``year=10**12`` or
    ``rows=10**30`` must cost that figure, never the whole run its history row."""
    if isinstance(value, int) and not isinstance(value, bool):
        number: int | None = value
    else:
        as_float = _num(value)
        number = None if as_float is None else round(as_float)
    if number is None or not bounds[0] <= number <= bounds[1]:
        return None
    return number


def _bigint(value: Any) -> int | None:
    return _int(value, _INT64)


def _str(value: Any) -> str | None:
    # A lone surrogate (from a test id built out of bytes) cannot be stored as UTF-8.
    return None if value is None else str(value).encode("utf-8", "replace").decode("utf-8")


def _rank(severity: str | None) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else -1


def _validate_report(report: Mapping[str, Any]) -> None:
    if not isinstance(report, Mapping):
        raise HistoryError(f"run report must be a mapping, got {type(report).__name__}")
    version = report.get("schema_version")
    if version != 1:
        raise HistoryError(f"run report has schema_version {version!r}; this history reads 1")
    if not isinstance(report.get("run"), Mapping) or not isinstance(report.get("tests"), list):
        raise HistoryError("run report lacks its 'run' mapping or 'tests' list")


def _performance_rows(run_id: str, report: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for test in report["tests"]:
        nodeid = str(test.get("nodeid"))
        phases = sorted(
            test.get("phases") or [],
            key=lambda p: (str(p.get("name")), p.get("year") is None, p.get("year") or 0),
        )
        cumulative: dict[str, float] = {}
        previous: dict[str, float] = {}
        for phase in phases:
            name = str(phase.get("name"))
            year = _int(phase.get("year"))
            samples = [float(s) for s in phase.get("samples_s") or [] if _num(s) is not None]
            median = _num(phase.get("median_s"))
            if median is None and samples:
                median = float(statistics.median(samples))
            yoy = _num(phase.get("yoy_change_pct"))
            cum = _num(phase.get("cumulative_s"))
            if year is not None and median is not None:
                # Fill what an older or partial report left out; the report's own figure wins.
                if yoy is None and previous.get(name):
                    yoy = (median / previous[name] - 1.0) * 100.0
                cumulative[name] = cumulative.get(name, 0.0) + median
                if cum is None:
                    cum = cumulative[name]
                previous[name] = median
            rows.append(
                (
                    run_id,
                    nodeid,
                    name,
                    year,
                    _int(phase.get("rounds")) or (len(samples) or None),
                    median,
                    min(samples) if samples else median,
                    max(samples) if samples else median,
                    _num(phase.get("cpu_s")),
                    _num(phase.get("baseline_median_s")),
                    _num(phase.get("change_pct")),
                    _str(phase.get("severity")),
                    _num(phase.get("peak_rss_mb")),
                    _bigint(phase.get("rows")),
                    _num(phase.get("rows_per_s")),
                    _num(phase.get("sla_seconds")),
                    _str(phase.get("sla_status")),
                    _str(phase.get("sla_category")),
                    _str(test.get("outcome")),
                    _str(test.get("severity")),
                    samples or None,
                    _num(phase.get("p_value")),
                    _num(phase.get("noise_pct")),
                    _str(phase.get("comparison")),
                    _num(phase.get("baseline_peak_rss_mb")),
                    _num(phase.get("memory_change_pct")),
                    _str(phase.get("memory_severity")),
                    _num(phase.get("duckdb_peak_buffer_mb")),
                    _bigint(phase.get("rows_scanned")),
                    _bigint(phase.get("baseline_rows_scanned")),
                    _bigint(phase.get("intermediate_rows")),
                    _bigint(phase.get("baseline_intermediate_rows")),
                    phase.get("plan_changed")
                    if isinstance(phase.get("plan_changed"), bool)
                    else None,
                    _num(phase.get("sla_memory_mb")),
                    yoy,
                    cum,
                    _str(phase.get("why")),
                    _str(phase.get("metric")),
                    _num(phase.get("value")),
                    _num(phase.get("baseline_value")),
                    _bigint(phase.get("instructions")),
                    _bigint(phase.get("baseline_instructions")),
                    _num(phase.get("instructions_change_pct")),
                    _str(phase.get("instructions_severity")),
                    _str(phase.get("status")),
                    _bigint(phase.get("rows_in")),
                    _str(phase.get("error")),
                    _num(phase.get("peak_alloc_mb")),
                    _num(phase.get("baseline_peak_alloc_mb")),
                )
            )
    return rows


def _regression_candidates(report: Mapping[str, Any]) -> list[Row]:
    """One entry per regressed figure of each phase: the judged one (the phase's class, on its
    metric: cpu, wall, instructions, rows_scanned …) and memory when it regressed on its own."""
    fail_on = (report["run"].get("options") or {}).get("fail_on")
    out: list[Row] = []
    for test in report["tests"]:
        for phase in test.get("phases") or []:
            gate = figures_mod.judged(phase)
            found = [
                (
                    gate.metric,
                    phase.get("severity"),
                    gate.baseline_value,
                    gate.value,
                    gate.change_pct,
                )
            ]
            if gate.metric != "memory":
                # the figure the memory verdict compares: peak allocation (RSS before it)
                alloc = phase.get("peak_alloc_mb") is not None
                found.append(
                    (
                        "memory",
                        phase.get("memory_severity"),
                        phase.get("baseline_peak_alloc_mb" if alloc else "baseline_peak_rss_mb"),
                        phase.get("peak_alloc_mb" if alloc else "peak_rss_mb"),
                        phase.get("memory_change_pct"),
                    )
                )
            for metric, cls, base, current, pct in found:
                if cls not in REGRESSION_CLASSES:
                    continue
                out.append(
                    {
                        "nodeid": str(test.get("nodeid")),
                        "component": str(phase.get("name")),
                        "year": _int(phase.get("year")),
                        "metric": metric,
                        "baseline": _num(base),
                        "current": _num(current),
                        "degradation_pct": _num(pct),
                        "class": cls,
                        "fails_gate": (_rank(cls) >= _rank(fail_on))
                        if fail_on in SEVERITY_ORDER
                        else None,
                    }
                )
    return out


def _insert_columns(
    con: duckdb.DuckDBPyConnection,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
) -> None:
    """Insert many rows in one statement: each column goes in as one list parameter, unnested."""
    if not rows:
        return
    names = ", ".join(name for name, _ in columns)
    selects = ", ".join(f"unnest(?::{kind}[])" for _, kind in columns)
    values = [[row[i] for row in rows] for i in range(len(columns))]
    con.execute(f"INSERT INTO {table} ({names}) SELECT {selects}", values)


def record_run(
    path: str | Path,
    report: Mapping[str, Any],
    *,
    run_id: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    timeout_s: float = 60.0,
    connect: Connector = _duckdb_connect,
) -> str:
    """Append one run report to the history at ``path`` (created if missing); return its run id.

    Everything is written in one transaction, so a failure leaves the history as it was. While
    another process holds the file we wait (``sleep`` with backoff, up to ``timeout_s``).
    """
    _validate_report(report)
    run = report["run"]
    started = _parse_time(run.get("started_at")) or _utcnow()
    run_id = run_id or new_run_id(started)
    machine = run.get("machine") if isinstance(run.get("machine"), Mapping) else {}
    perf_rows = _performance_rows(run_id, report)
    candidates = _regression_candidates(report)
    sla_defs = report.get("sla_definitions") or {}
    with open_history(path, write=True, sleep=sleep, timeout_s=timeout_s, connect=connect) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            if con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone():
                raise HistoryError(f"run id {run_id} is already in {path}")
            con.execute(
                """INSERT INTO runs (run_id, started_at, finished_at, duration_s, git_commit,
                    git_dirty, machine_id, machine, calibration_s, options, exit_status,
                    report_schema_version, recorded_at, duckdb_threads, xdist_workers, baselines,
                    kind, run_name)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [
                    run_id,
                    started,
                    _parse_time(run.get("finished_at")),
                    _num(run.get("duration_s")),
                    _str(run.get("git_commit")),
                    run.get("git_dirty") if isinstance(run.get("git_dirty"), bool) else None,
                    _str(machine.get("id")),
                    json.dumps(machine, sort_keys=True, default=str),
                    _num(run.get("calibration_s")),
                    json.dumps(run.get("options") or {}, sort_keys=True, default=str),
                    _int(run.get("exit_status")),
                    1,
                    _utcnow(),
                    _int(run.get("duckdb_threads")),
                    _int(run.get("xdist_workers")),
                    json.dumps(report.get("baselines") or {}, sort_keys=True, default=str),
                    _str(run.get("kind")) or "test",
                    _str(run.get("name")),
                ],
            )
            _insert_columns(con, "performance", _PERF_COLUMNS, perf_rows)
            _insert_regressions(con, run_id, started, candidates)
            _insert_columns(
                con,
                "sla_definitions",
                (
                    ("run_id", "VARCHAR"),
                    ("component", "VARCHAR"),
                    ("seconds", "DOUBLE"),
                    ("warning_seconds", "DOUBLE"),
                    ("memory_mb", "DOUBLE"),
                ),
                [
                    (
                        run_id,
                        str(name),
                        _num(spec.get("seconds")),
                        _num(spec.get("warning_seconds")),
                        _num(spec.get("memory_mb")),
                    )
                    for name, spec in sorted(sla_defs.items())
                    if isinstance(spec, Mapping)
                ],
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return run_id


def _insert_regressions(
    con: duckdb.DuckDBPyConnection, run_id: str, started: datetime, candidates: list[Row]
) -> None:
    """Status ``new`` unless the same metric regressed in the last earlier run that measured it."""
    if not candidates:
        return
    previous = con.execute(
        """WITH last_measured AS (
            SELECT p.nodeid, p.phase, p.year, arg_max(p.run_id, r.started_at) AS run_id
            FROM performance p JOIN runs r USING (run_id)
            WHERE r.started_at < ? AND p.run_id <> ?
                AND list_contains(?, p.nodeid)
            GROUP BY p.nodeid, p.phase, p.year
        )
        SELECT g.nodeid, g.component, g.year, g.metric
        FROM regressions g JOIN last_measured m
            ON g.run_id = m.run_id AND g.nodeid = m.nodeid AND g.component = m.phase
            AND g.year IS NOT DISTINCT FROM m.year""",
        [started, run_id, sorted({c["nodeid"] for c in candidates})],
    ).fetchall()
    ongoing = set(previous)
    _insert_columns(
        con,
        "regressions",
        (
            ("run_id", "VARCHAR"),
            ("nodeid", "VARCHAR"),
            ("component", "VARCHAR"),
            ("year", "INTEGER"),
            ("metric", "VARCHAR"),
            ("baseline", "DOUBLE"),
            ("current", "DOUBLE"),
            ("degradation_pct", "DOUBLE"),
            ("class", "VARCHAR"),
            ("status", "VARCHAR"),
            ("fails_gate", "BOOLEAN"),
        ),
        [
            (
                run_id,
                c["nodeid"],
                c["component"],
                c["year"],
                c["metric"],
                c["baseline"],
                c["current"],
                c["degradation_pct"],
                c["class"],
                "ongoing"
                if (c["nodeid"], c["component"], c["year"], c["metric"]) in ongoing
                else "new",
                c["fails_gate"],
            )
            for c in candidates
        ],
    )


# --------------------------------------------------------------------------------------------
# Queries
# --------------------------------------------------------------------------------------------


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[Row]:
    names = [d[0] for d in cursor.description or []]
    return [dict(zip(names, values, strict=True)) for values in cursor.fetchall()]


def _since(days: float | None, now: datetime | None) -> datetime:
    if days is None:
        return datetime(1, 1, 1)
    if days <= 0 or not math.isfinite(days):
        raise UsageError(f"--days must be a positive number, got {days:g}")
    try:
        return (now or _utcnow()) - timedelta(days=days)
    except OverflowError:  # a window reaching past year 1 (--days 1e10): everything
        return datetime(1, 1, 1)


def _require_runs(
    con: duckdb.DuckDBPyConnection, path: Path, since: datetime, days: float | None
) -> None:
    row = con.execute("SELECT count(*) FROM runs WHERE started_at >= ?", [since]).fetchone()
    if row is None or row[0] == 0:
        total = con.execute("SELECT count(*) FROM runs").fetchone()
        if total is None or total[0] == 0:
            raise EmptyHistoryError(
                f"history {path} holds no runs yet: run `pytest --simperf` to record one"
            )
        raise EmptyHistoryError(
            f"history {path} holds no runs from the last {days:g} days ({total[0]} older runs); "
            "widen --days"
        )


def _limit(limit: int | None) -> int:
    """A LIMIT DuckDB accepts: more rows than any history holds means all of them."""
    return 2**62 if limit is None else max(0, min(int(limit), 2**62))


def _run_row(row: Row) -> Row:
    """Decode the JSON columns of a ``runs`` row."""
    out = dict(row)
    for key in ("machine", "options", "baselines"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    for key in ("started_at", "finished_at", "recorded_at"):
        if isinstance(out.get(key), datetime):
            out[key] = out[key].isoformat(timespec="seconds") + "Z"
    return out


def list_runs(
    path: str | Path,
    *,
    days: float | None = None,
    limit: int | None = None,
    now: datetime | None = None,
) -> list[Row]:
    """Runs newest first, each with its test and phase counts."""
    path = Path(path)
    since = _since(days, now)
    with open_history(path) as con:
        _require_runs(con, path, since, days)
        cur = con.execute(
            """SELECT r.*, count(DISTINCT p.nodeid) AS tests, count(p.phase) AS phases
            FROM runs r LEFT JOIN performance p USING (run_id)
            WHERE r.started_at >= ?
            GROUP BY ALL ORDER BY r.started_at DESC, r.run_id DESC
            LIMIT ?""",
            [since, _limit(limit)],
        )
        return [_run_row(r) for r in _rows(cur)]


def shown_ref(ref: str) -> str:
    """A run reference short enough for a one-line error."""
    return ref if len(ref) <= 40 else ref[:37] + "..."


def latest_offset(ref: str) -> int | None:
    """N of ``latest`` / ``latest~N`` (0 for ``latest``); None for anything else (a run id or a
    prefix of one). A malformed N is an ``UnknownRunError``."""
    if not (ref == "latest" or ref.startswith("latest~")):
        return None
    back = ref.partition("~")[2] or "0"
    if not (back.isascii() and back.isdigit()):
        raise UnknownRunError(
            f"bad run reference {shown_ref(ref)!r}: use latest, latest~N or a run id"
        )
    # Compared as text length first: int() of a 5,000-digit N is refused by Python. Past 18
    # digits no history holds that many runs, and DuckDB's OFFSET takes a BIGINT.
    return _limit(None) if len(back.lstrip("0")) > 18 else int(back)


def latest_run(
    con: duckdb.DuckDBPyConnection,
    offset: int,
    *,
    kind: str | None = None,
    name: str | None = None,
) -> tuple[str | None, int]:
    """The run ``offset`` back from the newest among runs of ``kind`` named ``name`` (None:
    any), or None if there are not that many; and how many such runs there are."""
    where = "(?::VARCHAR IS NULL OR kind = ?) AND (?::VARCHAR IS NULL OR run_name = ?)"
    params = [kind, kind, name, name]
    row = con.execute(
        f"SELECT run_id FROM runs WHERE {where} "
        "ORDER BY started_at DESC, run_id DESC LIMIT 1 OFFSET ?",
        [*params, offset],
    ).fetchone()
    count_row = con.execute(f"SELECT count(*) FROM runs WHERE {where}", params).fetchone()
    return (None if row is None else str(row[0])), int(count_row[0]) if count_row else 0


def resolve_run(con: duckdb.DuckDBPyConnection, path: Path, ref: str | None) -> str:
    """A full run id from ``None``/``latest``, ``latest~N`` or a unique prefix of an id."""
    _require_runs(con, path, datetime(1, 1, 1), None)
    ref = (ref or "latest").strip()
    offset = latest_offset(ref)
    if offset is not None:
        run_id, count = latest_run(con, offset)
        if run_id is None:
            raise UnknownRunError(f"{shown_ref(ref)}: the history holds only {count} runs")
        return run_id
    matches = [
        r[0]
        for r in con.execute(
            "SELECT run_id FROM runs WHERE starts_with(run_id, ?) ORDER BY run_id LIMIT 6", [ref]
        ).fetchall()
    ]
    if len(matches) == 1:
        return str(matches[0])
    if len(matches) > 1:
        raise UnknownRunError(f"run id {ref!r} is ambiguous: {', '.join(matches[:5])}, …")
    recent = [
        r[0]
        for r in con.execute("SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5").fetchall()
    ]
    raise UnknownRunError(
        f"no run {ref!r} in {path}; recent runs: {', '.join(recent)} (see `simperf report`)"
    )


def load_run(path: str | Path, ref: str | None = None) -> Row:
    """One run: its row, performance rows, regressions and SLA definitions."""
    path = Path(path)
    with open_history(path) as con:
        run_id = resolve_run(con, path, ref)
        run = _rows(con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))[0]
        perf = _rows(
            con.execute(
                "SELECT * EXCLUDE (run_id) FROM performance WHERE run_id = ? "
                "ORDER BY nodeid, phase, year NULLS FIRST",
                [run_id],
            )
        )
        regressions = _rows(
            con.execute(
                "SELECT * EXCLUDE (run_id) FROM regressions WHERE run_id = ? "
                "ORDER BY nodeid, component, year NULLS FIRST, metric",
                [run_id],
            )
        )
        slas = _rows(
            con.execute(
                "SELECT * EXCLUDE (run_id) FROM sla_definitions WHERE run_id = ? "
                "ORDER BY component",
                [run_id],
            )
        )
    return {
        "run": _run_row(run),
        "performance": perf,
        "regressions": regressions,
        "sla_definitions": slas,
    }


def phase_key(name: str, year: int | None) -> str:
    """``name`` or ``name@year``: the phase key used in JSON and reports."""
    return name if year is None else f"{name}@{year}"


def run_to_report(data: Mapping[str, Any]) -> Row:
    """Rebuild a run report (ARCHITECTURE.md shape) from a stored run, for the Markdown view."""
    run = data["run"]
    tests: dict[str, Row] = {}
    for p in data["performance"]:
        test = tests.setdefault(
            p["nodeid"],
            {
                "nodeid": p["nodeid"],
                "outcome": p.get("test_outcome"),
                "severity": p.get("test_severity"),
                "sla_status": None,
                "baseline_file": None,
                "failed_reasons": [],
                "summary": {},
                "growth": [],
                "phases": [],
            },
        )
        phase = {
            k: v
            for k, v in p.items()
            if k not in ("nodeid", "phase", "test_outcome", "test_severity")
        }
        phase["name"] = p["phase"]
        phase["samples_s"] = list(p.get("samples_s") or [])
        test["phases"].append(phase)
    for test in tests.values():
        statuses = [ph.get("sla_status") for ph in test["phases"] if ph.get("sla_status")]
        for status in ("SLA_BREACH", "SLA_WARNING", "WITHIN_SLA"):
            if status in statuses:
                test["sla_status"] = status
                break
    return {
        "schema_version": 1,
        "run": {
            "run_id": run["run_id"],
            "started_at": run.get("started_at"),
            "finished_at": run.get("finished_at"),
            "duration_s": run.get("duration_s"),
            "git_commit": run.get("git_commit"),
            "git_dirty": run.get("git_dirty"),
            "machine": run.get("machine") or {},
            "calibration_s": run.get("calibration_s"),
            "duckdb_threads": run.get("duckdb_threads"),
            "xdist_workers": run.get("xdist_workers"),
            "options": run.get("options") or {},
            "exit_status": run.get("exit_status"),
        },
        "tests": list(tests.values()),
        "baselines": run.get("baselines") or {},
        "sla_definitions": {
            s["component"]: {
                "seconds": s.get("seconds"),
                "warning_seconds": s.get("warning_seconds"),
                "memory_mb": s.get("memory_mb"),
            }
            for s in data["sla_definitions"]
        },
    }


#: The columns ``compare_runs`` and ``trend`` read a judged figure from (see report.figures).
_FIGURE_COLUMNS = (
    "metric",
    "value",
    "cpu_s",
    "median_s",
    "instructions",
    "rows_scanned",
    "intermediate_rows",
    "noise_pct",
)


def compare_runs(path: str | Path, ref_a: str, ref_b: str) -> Row:
    """Phase-by-phase change from run A to run B (B is "now"), plus phases only one of them has.

    Each phase is compared on the metric its gate judged in B (CPU time, wall time, instructions,
    rows scanned), read from both runs; wall medians on a loaded machine once called identical
    code "+124.7% CRITICAL". Rows stored before the metric was named use CPU time where both runs
    recorded it, else wall time, and ``metric`` says which.
    """
    path = Path(path)
    with open_history(path) as con:
        run_a = resolve_run(con, path, ref_a)
        run_b = resolve_run(con, path, ref_b)
        runs = {
            r["run_id"]: _run_row(r)
            for r in _rows(con.execute("SELECT * FROM runs WHERE run_id IN (?, ?)", [run_a, run_b]))
        }
        figures = ", ".join(
            f"a.{c} AS a_{c}, b.{c} AS b_{c}" for c in (*_FIGURE_COLUMNS, "peak_rss_mb")
        )
        rows = _rows(
            con.execute(
                f"""WITH a AS (SELECT * FROM performance WHERE run_id = ?),
                     b AS (SELECT * FROM performance WHERE run_id = ?)
                SELECT coalesce(a.nodeid, b.nodeid) AS nodeid, coalesce(a.phase, b.phase) AS phase,
                    coalesce(a.year, b.year) AS year, {figures},
                    a.sla_status AS a_sla_status, b.sla_status AS b_sla_status,
                    a.nodeid IS NOT NULL AS in_a, b.nodeid IS NOT NULL AS in_b
                FROM a FULL OUTER JOIN b
                    ON a.nodeid = b.nodeid AND a.phase = b.phase
                    AND a.year IS NOT DISTINCT FROM b.year
                ORDER BY nodeid, phase, year NULLS FIRST""",
                [run_a, run_b],
            )
        )
    options = runs[run_b].get("options") or {}
    thresholds = options.get("thresholds") or [15, 30, 50]
    both, only_a, only_b = [], [], []
    for r in rows:
        key = {"nodeid": r["nodeid"], "phase": r["phase"], "year": r["year"]}
        if not r["in_b"]:
            only_a.append(key)
            continue
        if not r["in_a"]:
            only_b.append(key)
            continue
        side_a = {c: r[f"a_{c}"] for c in _FIGURE_COLUMNS}
        side_b = {c: r[f"b_{c}"] for c in _FIGURE_COLUMNS}
        metric = figures_mod.series_metric([side_a, side_b])
        a_value, b_value = figures_mod.figure(side_a, metric), figures_mod.figure(side_b, metric)
        change = _pct(a_value, b_value)
        # Counts are exact; a time's noise is what its runs measured on that clock.
        noise = (
            max(r["a_noise_pct"] or 0.0, r["b_noise_pct"] or 0.0)
            if metric in figures_mod.TIME_METRICS
            else 0.0
        )
        both.append(
            {
                **key,
                "metric": metric,
                "metric_recorded": side_b["metric"] == metric,
                "a_value": a_value,
                "b_value": b_value,
                "change_pct": change,
                "class": classify_change(change, noise, thresholds),
                "a_median_s": r["a_median_s"],
                "b_median_s": r["b_median_s"],
                "wall_change_pct": _pct(r["a_median_s"], r["b_median_s"]),
                "a_peak_rss_mb": r["a_peak_rss_mb"],
                "b_peak_rss_mb": r["b_peak_rss_mb"],
                "memory_change_pct": _pct(r["a_peak_rss_mb"], r["b_peak_rss_mb"]),
                "a_sla_status": r["a_sla_status"],
                "b_sla_status": r["b_sla_status"],
            }
        )
    return {
        "run_a": runs[run_a],
        "run_b": runs[run_b],
        "phases": both,
        "only_in_a": only_a,
        "only_in_b": only_b,
    }


def _pct(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return (after / before - 1.0) * 100.0


def classify_change(change_pct: float | None, noise_pct: float, thresholds: Sequence[float]) -> str:
    """Class of a change between two stored medians; within the runs' own noise it is ``OK``.

    Two stored medians allow no significance test, so this is a pointer for a person, not a
    verdict: the gate itself classes changes from the samples at run time.
    """
    if change_pct is None:
        return "NEW"
    minor, major, critical = (float(t) for t in list(thresholds)[:3])
    if abs(change_pct) <= noise_pct:
        return "OK"
    if change_pct > critical:
        return "CRITICAL"
    if change_pct > major:
        return "MAJOR"
    if change_pct > minor:
        return "MINOR"
    if change_pct < -minor:
        return "IMPROVED"
    return "OK"


def validate_pattern(pattern: str) -> str:
    """Check a ``--test`` glob and anchor it nowhere: it may match anywhere in the series key.

    Series are keyed ``path/to/test_x.py::test_y::phase@year``; people type a fragment of that
    (``test_y``, ``fct_yearly_events@2029``, ``test_y::fct*``), as with ``pytest -k``.
    """
    if not pattern.strip():
        raise PatternError("--test pattern is empty")
    depth = 0
    for char in pattern:
        if char == "[":
            depth += 1
        elif char == "]" and depth:
            depth -= 1
    if depth:
        raise PatternError(f"--test pattern {pattern!r} has an unclosed '['")
    return f"*{pattern.strip('*')}*"


def series_key(nodeid: str, phase: str, year: int | None) -> str:
    """``nodeid::phase@year``: what ``--test`` patterns are matched against."""
    return f"{nodeid}::{phase_key(phase, year)}"


def _matches(glob: str, nodeid: str, phase: str, year: int | None) -> bool:
    return fnmatch.fnmatchcase(series_key(nodeid, phase, year), glob)


def trend(
    path: str | Path,
    *,
    pattern: str | None = None,
    days: float | None = None,
    now: datetime | None = None,
    max_points: int = 60,
) -> list[Row]:
    """Per test × phase × year over the runs in the window: figures, trend label and any step."""
    path = Path(path)
    since = _since(days, now)
    glob = validate_pattern(pattern) if pattern is not None else None
    with open_history(path) as con:
        _require_runs(con, path, since, days)
        keys = con.execute(
            """SELECT DISTINCT p.nodeid, p.phase, p.year
            FROM performance p JOIN runs r USING (run_id) WHERE r.started_at >= ?""",
            [since],
        ).fetchall()
        selected = {(n, ph, y) for n, ph, y in keys if glob is None or _matches(glob, n, ph, y)}
        wanted = sorted({f"{n}::{ph}" for n, ph, _ in selected})
        if not wanted:
            tests = sorted({n for n, _, _ in keys})
            shown = ", ".join(tests[:5]) + (
                f" (and {len(tests) - 5} more)" if len(tests) > 5 else ""
            )
            raise PatternError(
                f"no test or phase matches {pattern!r} in {path}"
                + (f" (last {days:g} days)" if days is not None else "")
                + (f"; tests recorded: {shown}" if shown else "")
            )
        # One row per series with its points as lists, oldest first: DuckDB builds them, and
        # Python never sees 100,000 row tuples.
        lists = ", ".join(
            f"list(p.{c} ORDER BY r.started_at, p.run_id) AS {c}" for c in _FIGURE_COLUMNS
        )
        series = con.execute(
            f"""SELECT p.nodeid, p.phase, p.year,
                list(p.run_id ORDER BY r.started_at, p.run_id) AS run_ids, {lists},
                count(*) FILTER (WHERE p.sla_status = 'SLA_BREACH') AS breaches,
                count(*) FILTER (WHERE p.sla_status = 'SLA_WARNING') AS warnings
            FROM performance p JOIN runs r USING (run_id)
            WHERE r.started_at >= ? AND list_contains(?, p.nodeid || '::' || p.phase)
            GROUP BY p.nodeid, p.phase, p.year
            ORDER BY p.nodeid, p.phase, p.year NULLS FIRST""",
            [since, wanted],
        ).fetchall()
        started = _run_starts(con, since)
    out = []
    width = len(_FIGURE_COLUMNS)
    for nodeid, phase, year, run_ids, *rest in series:
        if (nodeid, phase, year) not in selected:
            continue
        columns, (breaches, warnings) = rest[:width], rest[width:]
        metric, ids, values = judged_series(
            run_ids,
            [
                dict(zip(_FIGURE_COLUMNS, point, strict=True))
                for point in zip(*columns, strict=True)
            ],
        )
        if values:
            out.append(
                summarise_series(
                    nodeid,
                    phase,
                    year,
                    ids,
                    values,
                    started,
                    breaches,
                    warnings,
                    max_points=max_points,
                    metric=metric,
                )
            )
    return out


def judged_series(
    run_ids: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> tuple[str, list[str], list[float]]:
    """(metric, run ids, values) of one stored series, on one metric from end to end.

    The metric is the gate's (``report.figures.series_metric``); points without a positive
    value for it (a phase that did not run, a zero timing) are left out.
    """
    metric = figures_mod.series_metric(list(rows))
    kept = [
        (run_id, value)
        for run_id, row in zip(run_ids, rows, strict=True)
        if (value := figures_mod.figure(row, metric)) is not None and value > 0
    ]
    return metric, [r for r, _ in kept], [v for _, v in kept]


def _run_starts(con: duckdb.DuckDBPyConnection, since: datetime) -> dict[str, str]:
    return {
        run_id: started.isoformat(timespec="seconds") + "Z"
        for run_id, started in con.execute(
            "SELECT run_id, started_at FROM runs WHERE started_at >= ?", [since]
        ).fetchall()
    }


def summarise_series(
    nodeid: str,
    phase: str,
    year: int | None,
    run_ids: Sequence[str],
    values: Sequence[float],
    started: Mapping[str, str],
    breaches: int,
    warnings: int,
    *,
    max_points: int = 60,
    metric: str = "wall",
) -> Row:
    """Figures, trend label and largest step of one series of ``metric`` (positive values,
    oldest first)."""
    assessed = trends.assess(values, max_points=max_points)
    verdict = assessed.trend
    step = trends.largest_step(assessed.steps)
    return {
        "nodeid": nodeid,
        "phase": phase,
        "year": year,
        "metric": metric,
        "runs": len(values),
        "median": float(statistics.median(values)),
        "min": min(values),
        "max": max(values),
        "latest": values[-1],
        "breaches": breaches,
        "warnings": warnings,
        "trend": assessed.label,
        "change_pct": verdict.change_pct,
        "p_value": verdict.p_value,
        "noise_pct": verdict.noise_pct,
        "why": assessed.why,
        "steps": len(assessed.steps),
        "step": None
        if step is None
        else {
            "run_id": run_ids[step.index],
            "started_at": started.get(run_ids[step.index]),
            "before": step.before,
            "after": step.after,
            "change_pct": step.change_pct,
            "score": step.score,
        },
        "first_run": run_ids[0],
        "last_run": run_ids[-1],
    }


def sla_compliance(
    path: str | Path,
    *,
    days: float | None = None,
    now: datetime | None = None,
    kind: str | None = None,
) -> list[Row]:
    """Per component (phase name): how often it stayed within its SLA over the window; ``kind``
    keeps production or test runs only (``None`` / ``all``: every run)."""
    path = Path(path)
    since = _since(days, now)
    wanted = check_kind(kind)
    with open_history(path) as con:
        _require_runs(con, path, since, days)
        rows = _rows(
            con.execute(
                """WITH w AS (
                    SELECT p.*, r.started_at FROM performance p JOIN runs r USING (run_id)
                    WHERE r.started_at >= ? AND p.sla_status IS NOT NULL
                        AND (?::VARCHAR IS NULL OR r.kind = ?)
                ),
                latest_defs AS (
                    SELECT d.component, d.seconds, d.memory_mb FROM sla_definitions d
                    WHERE d.run_id = (SELECT run_id FROM runs WHERE started_at >= ?
                                        AND (?::VARCHAR IS NULL OR kind = ?)
                                      ORDER BY started_at DESC, run_id DESC LIMIT 1)
                ),
                measured AS (
                    SELECT phase AS component,
                        count(*) AS measurements,
                        count(DISTINCT run_id) AS runs,
                        count(DISTINCT nodeid) AS tests,
                        count(*) FILTER (WHERE sla_status = 'WITHIN_SLA') AS within,
                        count(*) FILTER (WHERE sla_status = 'SLA_WARNING') AS warnings,
                        count(*) FILTER (WHERE sla_status = 'SLA_BREACH') AS breaches,
                        arg_max(sla_seconds, started_at) AS sla_seconds,
                        arg_max(sla_memory_mb, started_at) AS sla_memory_mb,
                        max(median_s / nullif(sla_seconds, 0)) * 100 AS worst_pct_of_sla,
                        median(median_s / nullif(sla_seconds, 0)) * 100 AS median_pct_of_sla,
                        max(started_at) FILTER (WHERE sla_status = 'SLA_BREACH') AS last_breach
                    FROM w GROUP BY phase
                )
                SELECT coalesce(m.component, d.component) AS component,
                    coalesce(m.measurements, 0) AS measurements, coalesce(m.runs, 0) AS runs,
                    coalesce(m.tests, 0) AS tests, coalesce(m.within, 0) AS within,
                    coalesce(m.warnings, 0) AS warnings, coalesce(m.breaches, 0) AS breaches,
                    coalesce(m.sla_seconds, d.seconds) AS sla_seconds,
                    coalesce(m.sla_memory_mb, d.memory_mb) AS sla_memory_mb,
                    m.worst_pct_of_sla, m.median_pct_of_sla, m.last_breach
                FROM measured m FULL OUTER JOIN latest_defs d ON m.component = d.component
                ORDER BY breaches DESC, component""",
                [since, wanted, wanted, since, wanted, wanted],
            )
        )
    for r in rows:
        r["compliance_pct"] = (
            (r["within"] + r["warnings"]) / r["measurements"] * 100.0 if r["measurements"] else None
        )
        if isinstance(r.get("last_breach"), datetime):
            r["last_breach"] = r["last_breach"].isoformat(timespec="seconds") + "Z"
    return rows


#: Decoding the numbers the dashboard query codes classes and SLA states into.
_CLASSES = ("", "MINOR", "MAJOR", "CRITICAL")
_SLA_CODES = "-owb"


def dashboard_data(
    path: str | Path,
    *,
    days: float | None = None,
    now: datetime | None = None,
    max_runs: int = 500,
) -> Row:
    """Everything the HTML dashboard draws, as JSON-ready data (compact: arrays, not rows).

    Each series carries the figure its gate judged (``metric``, values in ``v``; CPU then wall
    time for rows stored before the metric was named), peak allocation for memory (what the
    memory SLA limits; RSS for older rows, said in ``mem_metric``), rows scanned and instruction
    counts where recorded. Components come most-urgent first (``attention``): the largest
    slowdown, as a step still in force or as a regression in the latest run.
    """
    path = Path(path)
    since = _since(days, now)
    with open_history(path) as con:
        _require_runs(con, path, since, days)
        runs = _rows(
            con.execute(
                """SELECT run_id, started_at, git_commit, git_dirty, machine_id, kind, run_name
                FROM runs WHERE started_at >= ? ORDER BY started_at DESC, run_id DESC LIMIT ?""",
                [since, _limit(max_runs)],
            )
        )[::-1]
        run_ids = [r["run_id"] for r in runs]
        # One row per series, its points as one list ordered once, rounded in DuckDB: µs and kB
        # are plenty for a chart.
        series = con.execute(
            """WITH shown AS (
                SELECT run_id, row_number() OVER (ORDER BY started_at, run_id) - 1 AS i
                FROM runs WHERE list_contains(?, run_id)
            )
            SELECT p.nodeid, p.phase, p.year,
                list([s.i, round(p.median_s, 6), round(p.cpu_s, 6), round(p.value, 6),
                      round(p.peak_alloc_mb, 3), round(p.peak_rss_mb, 3),
                      list_position(['MINOR', 'MAJOR', 'CRITICAL'], p.severity),
                      list_position(['MINOR', 'MAJOR', 'CRITICAL'], p.memory_severity),
                      list_position(['WITHIN_SLA', 'SLA_WARNING', 'SLA_BREACH'], p.sla_status),
                      p.rows_scanned, p.intermediate_rows, p.instructions,
                      p.change_pct, p.plan_changed::INTEGER]
                     ORDER BY s.i),
                list(p.metric ORDER BY s.i),
                arg_max(p.sla_seconds, s.i), arg_max(p.sla_memory_mb, s.i),
                count(*) FILTER (WHERE p.sla_status = 'SLA_BREACH'),
                count(*) FILTER (WHERE p.sla_status = 'SLA_WARNING')
            FROM performance p JOIN shown s USING (run_id)
            GROUP BY p.nodeid, p.phase, p.year
            ORDER BY p.nodeid, p.phase, p.year NULLS FIRST""",
            [run_ids],
        ).fetchall()
        started = _run_starts(con, since)
        latest = load_run_rows(con, run_ids[-1])
    index = {run_id: i for i, run_id in enumerate(run_ids)}
    components: dict[tuple[str, str], Row] = {}
    series_rows: list[Row] = []
    for nodeid, phase, year, points, metrics, sla_s, sla_mb, br, wa in series:
        comp = components.setdefault(
            (nodeid, phase),
            {"nodeid": nodeid, "phase": phase, "series": [], "sla_s": None, "sla_mb": None},
        )
        comp["sla_s"], comp["sla_mb"] = sla_s, sla_mb
        runs_idx = [int(p[0]) for p in points]
        rows = [
            {
                "median_s": p[1],
                "cpu_s": p[2],
                "value": p[3],
                "metric": m,
                "rows_scanned": p[9],
                "intermediate_rows": p[10],
                "instructions": p[11],
            }
            for p, m in zip(points, metrics, strict=True)
        ]
        metric, kept_ids, kept_values = judged_series([run_ids[i] for i in runs_idx], rows)
        summary = (
            summarise_series(
                nodeid, phase, year, kept_ids, kept_values, started, br, wa, metric=metric
            )
            if kept_values
            else None
        )
        alloc = any(p[4] is not None for p in points)
        scanned = [p[9] for p in points]
        instructions = [p[11] for p in points]
        comp["series"].append(
            {
                "year": year,
                "run": runs_idx,
                "metric": metric,
                "v": [figures_mod.figure(r, metric) for r in rows],
                "wall": [p[1] for p in points],
                "mem": [p[4] if alloc else p[5] for p in points],
                "mem_metric": "alloc" if alloc else "rss",
                # only where recorded: most histories have neither, or never see them move
                "scanned": scanned if any(x is not None for x in scanned) else None,
                "instr": instructions if any(x is not None for x in instructions) else None,
                "plan": [i for i, p in enumerate(points) if p[13]],
                # sparse and coded: most points are neither regressions nor SLA trouble, and a
                # 100,000-point history would otherwise spend megabytes saying so
                "sev": [[i, _CLASSES[int(p[6])]] for i, p in enumerate(points) if p[6]],
                "msev": [[i, _CLASSES[int(p[7])]] for i, p in enumerate(points) if p[7]],
                "sla": "".join(_SLA_CODES[int(p[8] or 0)] for p in points),
                "last_change": points[-1][12]
                if points[-1][6] and points[-1][0] == len(runs) - 1
                else None,
                "trend": summary["trend"] if summary else None,
                "trend_why": summary["why"] if summary else None,
                "step": (
                    {
                        "run": index[summary["step"]["run_id"]],
                        "change_pct": round(summary["step"]["change_pct"], 2),
                        "before": summary["step"]["before"],
                        "after": summary["step"]["after"],
                    }
                    if summary and summary["step"]
                    else None
                ),
            }
        )
        if summary:
            series_rows.append(summary)
    for comp in components.values():
        comp["attention"] = _attention(comp)
    ordered = sorted(
        components.values(),
        key=lambda c: (-c["attention"]["score"], c["nodeid"], c["phase"]),
    )
    return {
        "generated_at": _utcnow().isoformat(timespec="seconds") + "Z",
        "history": str(path),
        "runs": [
            {
                "id": r["run_id"],
                "t": r["started_at"].isoformat(timespec="seconds") + "Z",
                "commit": r["git_commit"],
                "dirty": r["git_dirty"],
                "machine": r["machine_id"],
                "kind": r["kind"] or "test",
                "name": r["run_name"],
            }
            for r in runs
        ],
        "components": ordered,
        # p50/p95/p99 per kind of run, component and year over the same window (monitoring)
        "percentiles": percentiles(path, days=days, now=now),
        "latest": latest,
        "trends": {
            "degrading": sum(1 for s in series_rows if s["trend"] == "degrading"),
            "improving": sum(1 for s in series_rows if s["trend"] == "improving"),
            "stable": sum(1 for s in series_rows if s["trend"] == "stable"),
            "steps": sum(1 for s in series_rows if s["step"]),
        },
    }


def _attention(comp: Mapping[str, Any]) -> Row:
    """How urgently a component needs a look: its largest slowdown, with where and since when.

    A series' largest detected step up counts its change; so does a regression class in the
    latest run, by its change. Improvements count nothing.
    """
    best: Row = {"score": 0.0, "why": None}
    for s in comp["series"]:
        where = phase_key(comp["phase"], s["year"])
        step = s.get("step")
        last = s.get("last_change")
        stepped = step is not None and step["change_pct"] > 0
        score = max(step["change_pct"] if stepped else 0.0, last or 0.0)
        if score <= best["score"]:
            continue
        if stepped:  # since when: the run the level moved at
            best = {
                "score": float(score),
                "why": f"{where}: step {step['change_pct']:+.1f}% {s['metric']}",
                "run": step["run"],
            }
        else:
            best = {
                "score": float(score),
                "why": f"{where}: {last:+.1f}% {s['metric']} in the latest run",
                "run": s["run"][-1],
            }
    return best


def load_run_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> Row:
    """The latest-run table of the dashboard: run row, phases and regressions."""
    run = _run_row(_rows(con.execute("SELECT * FROM runs WHERE run_id = ?", [run_id]))[0])
    phases = _rows(
        con.execute(
            """SELECT nodeid, phase, year, metric, value, baseline_value, cpu_s, median_s,
                baseline_median_s, change_pct, severity, sla_seconds, sla_status, sla_category,
                peak_rss_mb, peak_alloc_mb, baseline_peak_alloc_mb, baseline_peak_rss_mb,
                sla_memory_mb, memory_change_pct, memory_severity,
                rows_per_s, yoy_change_pct, cumulative_s, rows_scanned, baseline_rows_scanned,
                plan_changed, instructions, instructions_change_pct
            FROM performance WHERE run_id = ? ORDER BY nodeid, phase, year NULLS FIRST""",
            [run_id],
        )
    )
    regressions = _rows(
        con.execute(
            "SELECT * EXCLUDE (run_id) FROM regressions WHERE run_id = ? "
            "ORDER BY nodeid, component, year",
            [run_id],
        )
    )
    return {"run": run, "phases": phases, "regressions": regressions}


# --------------------------------------------------------------------------------------------
# Production runs beside test runs: kinds and percentiles
# --------------------------------------------------------------------------------------------

#: ``--kind`` values: runs of one kind, or every run (``all``, what ``None`` means too).
RUN_KINDS = ("production", "test", "all")
#: The percentiles reported per component and year.
PERCENTILES = (0.5, 0.95, 0.99)


def check_kind(kind: str | None) -> str | None:
    """``None`` for every run, else the run kind to keep; an unknown kind is a usage error."""
    if kind is not None and kind not in RUN_KINDS:
        raise UsageError(f"unknown run kind {kind!r}: expected one of {', '.join(RUN_KINDS)}")
    return None if kind == "all" else kind


def percentiles(
    path: str | Path,
    *,
    days: float | None = None,
    kind: str | None = None,
    now: datetime | None = None,
    by: str = "component",
) -> list[Row]:
    """p50 / p95 / p99 of phase wall time over the window.

    ``kind``: ``production`` or ``test`` keeps that kind of run; ``all`` pools every run (rows
    say ``kind: all``); ``None`` gives each kind its own rows (the dashboard shows them apart).

    ``by="component"``: one row per component over all its years (``year`` None) and one per
    component × year (``all_years`` tells the two apart for a component without years);
    ``by="series"``: one per test (or production pipeline) × phase × year.
    Wall time (``median_s``), the figure production runs are judged on and every run has; a
    test's phase contributes its median over rounds, so these are percentiles across runs.
    Continuous percentiles (linear interpolation, as numpy's default): with few runs, p99 is
    close to the maximum, which ``max_s`` states.
    """
    if by not in ("component", "series"):
        raise UsageError(f"percentiles by {by!r}: expected 'component' or 'series'")
    path = Path(path)
    since = _since(days, now)
    wanted = check_kind(kind)
    groups = (
        "GROUPING SETS ((k, phase), (k, phase, year))"
        if by == "component"
        else "k, nodeid, phase, year"
    )
    nodeid = "NULL" if by == "component" else "nodeid"
    with open_history(path) as con:
        _require_runs(con, path, since, days)
        rows = con.execute(
            f"""WITH w AS (
                SELECT CASE WHEN ? THEN 'all' ELSE r.kind END AS k, p.*
                FROM performance p JOIN runs r USING (run_id)
                WHERE r.started_at >= ? AND p.median_s IS NOT NULL
                    AND coalesce(p.status, 'ok') = 'ok' AND (?::VARCHAR IS NULL OR r.kind = ?)
            )
            SELECT k, {nodeid} AS node, phase, year, grouping(year) = 1,
                count(DISTINCT run_id) AS runs, count(*) AS measurements,
                quantile_cont(median_s, ?) AS q, max(median_s) AS max_s
            FROM w GROUP BY {groups}
            ORDER BY k, node NULLS FIRST, phase, year NULLS FIRST""",
            [kind == "all", since, wanted, wanted, list(PERCENTILES)],
        ).fetchall()
    out: list[Row] = []
    for run_kind, node, phase, year, all_years, runs, measurements, q, max_s in rows:
        # ``all_years``: the component over every year (its ``year`` is None then).
        row: Row = {"kind": run_kind, "component": phase, "year": year, "all_years": all_years}
        if by == "series":
            row["nodeid"] = node
        row.update(
            runs=runs,
            measurements=measurements,
            p50_s=q[0],
            p95_s=q[1],
            p99_s=q[2],
            max_s=max_s,
        )
        out.append(row)
    return out
