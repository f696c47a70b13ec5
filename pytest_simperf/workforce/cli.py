"""``simperf generate``: write a synthetic workforce to a ``.duckdb`` file or a Parquet folder.

The Parquet folder (``census.parquet``, ``workforce_events.parquet``,
``workforce_snapshots.parquet``) is what a dbt project reads as its census input. Output appears
only when complete: it is written under a temporary name beside the target and renamed into place.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

from pytest_simperf.errors import UsageError
from pytest_simperf.workforce.generate import TABLES, build_database, check_memory
from pytest_simperf.workforce.handle import Workforce, open_workforce
from pytest_simperf.workforce.spec import SCALES, WorkforceSpec, resolve_employees

DUCKDB_SUFFIXES = (".duckdb", ".db", ".ddb")
#: Builds at least this large (employees × years) report progress on stderr.
PROGRESS_THRESHOLD = 250_000
_PREFIX = "simperf generate: "


class ProgressOutput:
    """How far a large build is, on stderr: on a terminal every step (census, each year, each
    table being written) on a status line, the years kept; in a log (CI, a pipe) only one line
    per simulation year, so a 1M-employee build is neither silent for the 18 s it spends
    writing nor dozens of lines in a CI log.

    ``stream`` and ``tty`` are injectable for tests; by default stderr and its ``isatty()``.
    """

    def __init__(self, stream: TextIO | None = None, *, tty: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self._status = False  # a status line is on screen, to be overwritten or ended

    def __call__(self, message: str) -> None:
        year = message.startswith("year ")
        if self.tty:
            # \r and erase-line: the status line is rewritten in place; a year line stays.
            self.stream.write(f"\r\x1b[K{_PREFIX}{message}" + ("\n" if year else ""))
            self._status = not year
        elif year:
            self.stream.write(f"{_PREFIX}{message}\n")
        self.stream.flush()

    def close(self) -> None:
        """End a status line left on screen, so what follows starts on a line of its own."""
        if self._status:
            self.stream.write("\n")
            self.stream.flush()
            self._status = False


def register(subparsers: Any) -> None:
    """Add the ``generate`` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="write a synthetic workforce (census, events, snapshots)",
        description=(
            "Build a seeded synthetic workforce with DuckDB and write it to a .duckdb file or a "
            "folder of Parquet files. The same arguments always give the same data."
        ),
    )
    parser.add_argument(
        "--employees",
        required=True,
        metavar="N|SCALE",
        help=f"active employees at the census date, or a scale: {', '.join(SCALES)}",
    )
    parser.add_argument("--years", type=int, default=5, help="simulation years (default 5)")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--start-year", type=int, default=2025, help="first simulation year (default 2025)"
    )
    parser.add_argument("--out", required=True, type=Path, metavar="PATH", help="output path")
    parser.add_argument(
        "--format",
        choices=("duckdb", "parquet"),
        default=None,
        help="duckdb: one database file; parquet: a folder with one file per table "
        f"(default: duckdb when PATH ends in {'/'.join(DUCKDB_SUFFIXES)}, else parquet)",
    )
    parser.add_argument("--force", action="store_true", help="replace PATH if it exists")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build and write; errors are :class:`UsageError`, which ``simperf`` prints as one line."""
    spec = WorkforceSpec(
        resolve_employees(args.employees),
        years=args.years,
        seed=args.seed,
        start_year=args.start_year,
    )
    out: Path = args.out
    fmt = args.format or ("duckdb" if out.suffix.lower() in DUCKDB_SUFFIXES else "parquet")
    if out.exists() and not args.force:
        raise UsageError(f"{out} already exists; pass --force to replace it")
    check_memory(spec)
    large = spec.employees * spec.years >= PROGRESS_THRESHOLD
    progress = ProgressOutput() if large and not args.quiet else None
    started = time.perf_counter()
    if fmt == "duckdb" and out.is_dir():
        raise UsageError(f"{out} is a directory; a .duckdb output must be a file")
    try:
        if fmt == "duckdb":
            build_database(spec, out, progress=progress)
            with open_workforce(out, spec, read_only=True) as workforce:
                counts = _counts(workforce)
        else:
            counts = _write_parquet(spec, out, progress)
    except OSError as exc:
        # Output beside an unwritable or missing folder, a full disk: say where, in one line.
        raise UsageError(f"--out {out}: cannot be written ({exc.strerror or exc})") from None
    except Exception as exc:
        import duckdb

        if not isinstance(exc, duckdb.Error):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"--out {out}: cannot be written ({first})") from None
    finally:
        if progress is not None:
            progress.close()
    elapsed = time.perf_counter() - started
    summary = ", ".join(f"{table} {rows:,} rows" for table, rows in counts.items())
    print(f"wrote {out} ({fmt}): {summary} in {elapsed:.1f} s")
    return 0


def _counts(workforce: Workforce) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in TABLES:
        row = workforce.con.execute(f"SELECT count(*) FROM {table}").fetchone()
        counts[table] = int(row[0]) if row else 0
    return counts


def _write_parquet(spec: WorkforceSpec, out: Path, progress: Any) -> dict[str, int]:
    from pytest_simperf.workforce.handle import create_workforce

    out.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    temp.chmod(0o755)  # mkdtemp makes it private; the result is an ordinary output folder
    try:
        with create_workforce(spec, progress=progress) as workforce:
            for index, table in enumerate(TABLES, start=1):
                if progress is not None:
                    progress(f"writing {table}.parquet ({index} of {len(TABLES)})")
                literal = str(temp / f"{table}.parquet").replace("'", "''")
                workforce.con.execute(f"COPY {table} TO '{literal}' (FORMAT parquet)")
            counts = _counts(workforce)
        _replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return counts


def _replace(new: Path, out: Path) -> None:
    """Move ``new`` to ``out``; an old ``out`` is set aside first and removed only after."""
    if not out.exists():
        new.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    old.rmdir()
    out.rename(old)
    try:
        new.rename(out)
    except BaseException:
        old.rename(out)
        raise
    if old.is_dir():
        shutil.rmtree(old, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
