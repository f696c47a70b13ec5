"""Baseline files: one deterministic JSON file per test module, validated, written atomically.

Files are committed and reviewed, so the text is stable: sorted keys, two-space indent, floats
rounded to six significant digits, a trailing newline. A file that cannot be trusted (malformed,
truncated, an unknown ``schema_version``, a value the verdict could not use) raises
``BaselineError`` naming it and the entry, and is never rewritten. Changes are queued in memory
and each file is written once, at the end of the session, through a temporary file in the same
folder and ``os.replace`` — so an interrupted update leaves every file either old or new.

Two sessions may update the same file at once (``make baselines`` in two terminals, CI jobs on
one checkout): each write re-reads the file under an exclusive lock on its folder and merges its
entries — and its pooled sessions — into what is there now, so neither session's work is lost.
A killed writer leaves at most a temporary file, which the next run removes and reports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import numbers
import os
import re
import stat
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_simperf.errors import BaselineError, SimperfWarning
from pytest_simperf.stats import MEASURED_DRIFT_SESSIONS

SCHEMA_VERSION = 1
SIGNIFICANT_DIGITS = 6
# How many recording sessions' medians are kept to estimate the noise between sessions.
SESSION_HISTORY = 5
# Rounds kept when sessions are pooled (--simperf-add-baseline-session).
MAX_POOLED_SAMPLES = 35
# In a queued (never a written) phase entry: this session's own report phase, for pooling again.
OWN_PHASE = "_own_phase"


def round_floats(value: Any) -> Any:
    """Round every float to ``SIGNIFICANT_DIGITS`` so files diff cleanly and reload identically."""
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return None
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dict):
        return {str(k): round_floats(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_floats(v) for v in value]
    return value


def dumps(data: Mapping[str, Any]) -> str:
    """The canonical text of a baseline file."""
    return json.dumps(round_floats(dict(data)), sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half.

    A process killed between the two steps leaves ``.<name>.<pid>.<random>.tmp`` beside the
    target; ``sweep_temp_files`` recognises exactly that name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.{os.getpid()}."  # the pid tells a later sweep whether we died
    fd, tmp_name = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        # mkstemp creates 0600; a committed file should keep its mode, or get the usual one.
        try:
            mode = path.stat().st_mode & 0o777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# A temporary file of ``write_atomic`` for a JSON target: ``.<target>.json.<pid>.<8 chars>.tmp``
# (without ``<pid>.`` from versions before the writer's pid was part of the name).
_TEMP_NAME = re.compile(r"\.(?P<target>.+\.json)\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp")
#: A temporary file whose writer may still be alive is removed only past this age. Writers of
#: baselines hold the folder lock while theirs exists, so the age guards what else
#: ``write_atomic`` writes unlocked (the JSON report a user may point into this folder) and
#: writers on another host (a shared folder), whose pids mean nothing here.
STALE_TEMP_AGE_S = 60.0


def _alive(pid: int) -> bool:
    """Is process ``pid`` running on this host? True when it cannot be told (not POSIX)."""
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate it on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # another user's process, or no pid at all: assume the worst
    return True


def sweep_temp_files(
    folder: Path,
    *,
    min_age_s: float = STALE_TEMP_AGE_S,
    now: Callable[[], float] = time.time,
    alive: Callable[[int], bool] = _alive,
) -> list[Path]:
    """Remove the temporary files a killed ``write_atomic`` left in ``folder``; return them.

    Only names ``write_atomic`` makes for a ``.json`` target, only in this folder (not below
    it), and only when their writer is gone: its pid (in the name) runs no more, or the file is
    older than ``min_age_s``. Call it holding the folder's lock (``folder_lock``).
    """
    removed: list[Path] = []
    try:
        candidates = [(p, _TEMP_NAME.fullmatch(p.name)) for p in folder.iterdir()]
    except OSError:
        return removed
    cutoff = now() - min_age_s
    found = sorted(((c, m) for c, m in candidates if m is not None), key=lambda cm: cm[0])
    for candidate, match in found:
        try:
            info = candidate.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            pid = match.group("pid")
            if info.st_mtime > cutoff and (pid is None or alive(int(pid))):
                continue
            candidate.unlink()
        except OSError:
            continue
        removed.append(candidate)
    return removed


#: How long a write waits for another process's write to the same baseline folder.
LOCK_TIMEOUT_S = 60.0


@contextmanager
def folder_lock(
    folder: Path,
    *,
    wait: bool = True,
    timeout_s: float = LOCK_TIMEOUT_S,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[bool]:
    """Hold an exclusive lock on a baseline folder; yields whether it is held.

    The lock is ``flock`` on the folder itself, so no lock file appears among committed files,
    and the kernel drops it when its holder dies (a killed update cannot wedge the next one).
    ``wait=False`` yields False at once when another process holds it. Without ``fcntl`` (not
    POSIX) nothing is locked and True is yielded: writes stay atomic, merges are then last-wins.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield True
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        deadline = clock() + timeout_s
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not wait:
                    yield False
                    return
                if clock() >= deadline:
                    raise BaselineError(
                        f"baseline folder {folder}: another process held its lock for "
                        f"{timeout_s:g} s; nothing was written there"
                    ) from None
                sleep(delay)
                delay = min(delay * 2.0, 0.5)
        yield True
    finally:
        os.close(fd)


def module_key(nodeid: str) -> tuple[str, str]:
    """Split a node id: ``a/b.py::C::t[x]`` → (``a/b.py``, ``C::t[x]``)."""
    module, sep, rest = nodeid.partition("::")
    if not sep:
        return module, module
    return module, rest


def baseline_path(baseline_dir: Path, module: str) -> Path:
    """``tests/perf/test_x.py`` → ``<baseline_dir>/tests/perf/test_x.json``.

    Refuses a module that would map outside ``baseline_dir`` or onto no file: an absolute
    path or ``..`` (a saved run's ``fullname`` is data, not trusted), or the empty module
    pytest gives a test file outside the rootdir (node id ``::test_x``).
    """
    if not module:
        raise BaselineError(
            "a test file outside the rootdir has no module path in its node id (it reads "
            "'::test_name'), so it has no baseline file; run pytest with a --rootdir that "
            "contains the test file"
        )
    relative = PurePosixPath(module)
    if relative.is_absolute() or ".." in relative.parts or Path(module).is_absolute():
        raise BaselineError(
            f"test module {module!r} is not a path inside the rootdir, so its baseline file "
            f"would leave {baseline_dir}; refused"
        )
    name = relative.name
    if not name or name in (".", ".."):
        raise BaselineError(f"test module {module!r} names no file; it has no baseline file")
    stem = name[: -len(relative.suffix)] if relative.suffix else name
    return baseline_dir.joinpath(*relative.parts[:-1], f"{stem}.json")


def _fail(path: Path, message: str) -> BaselineError:
    return BaselineError(
        f"baseline file {path}: {message}. The file was left untouched; fix or delete it, then "
        "run with --simperf-update-baseline to record it again"
    )


# -- what a value may be -----------------------------------------------------------------------

#: Counts land in the history's BIGINT columns, years in its INTEGER column.
INT64_MAX = 2**63 - 1
INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1


def is_finite_non_negative(value: object) -> bool:
    """A real number (not a bool), finite and ≥ 0: seconds, megabytes, spreads."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return False
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        return False
    return math.isfinite(number) and number >= 0


def is_count(value: object) -> bool:
    """A whole number (not a bool) from 0 to ``INT64_MAX``: rows, counters, instructions."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= INT64_MAX


def is_year(value: object) -> bool:
    """An int (not a bool) that fits the history's INTEGER year column."""
    return (
        isinstance(value, int) and not isinstance(value, bool) and INT32_MIN <= value <= INT32_MAX
    )


def _show(value: Any) -> str:
    """A value for a one-line error: short, and never a 4,300-digit int (Python refuses)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"an integer of about {int(value.bit_length() * math.log10(2))} digits"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _numbers_problem(value: Any, field: str) -> str | None:
    if not isinstance(value, list):
        return f"{field} must be numbers ≥ 0 in a list, got {_show(value)}"
    for index, item in enumerate(value):
        if not is_finite_non_negative(item):
            return f"{field} must be numbers ≥ 0, got {_show(item)} at index {index}"
    return None


#: Optional phase fields, by kind: null or absent is always fine.
_PHASE_SECONDS_LISTS = ("samples_s", "cpu_samples_s", "session_medians", "session_cpu_medians")
_PHASE_FINITE = (
    "cpu_s",
    "runq_wait_s",
    "peak_rss_mb",
    "peak_alloc_mb",
    "duckdb_peak_buffer_mb",
    "session_spread",
    "session_cpu_spread",
)
_PHASE_COUNTS = ("rows", "rows_scanned", "intermediate_rows", "instructions")


def _phase_problem(phase: Any) -> str | None:
    """What in one phase entry the verdict could not use, or None."""
    if not isinstance(phase, dict):
        return "expected an object"
    median = phase.get("median_s")
    if not is_finite_non_negative(median):
        return f"invalid median_s {_show(median)}"
    for field in _PHASE_SECONDS_LISTS:
        if phase.get(field) is not None:
            problem = _numbers_problem(phase[field], field)
            if problem:
                return problem
    for field in _PHASE_FINITE:
        value = phase.get(field)
        if value is not None and not is_finite_non_negative(value):
            return f"{field} must be a finite number ≥ 0, got {_show(value)}"
    for field in _PHASE_COUNTS:
        value = phase.get(field)
        if value is not None and not is_count(value):
            return f"{field} must be a whole number ≥ 0, got {_show(value)}"
    year = phase.get("year")
    if year is not None and not is_year(year):
        return f"year must be an int or null, got {_show(year)}"
    for field in ("name", "source"):
        if phase.get(field) is not None and not isinstance(phase[field], str):
            return f"{field} must be a string, got {_show(phase[field])}"
    env = phase.get("instructions_env")
    if env is not None and not (
        isinstance(env, dict) and all(isinstance(v, str) for v in env.values())
    ):
        return f"instructions_env must be an object of strings, got {_show(env)}"
    complete = phase.get("instructions_complete")
    if complete is not None and not isinstance(complete, bool):
        return f"instructions_complete must be true or false, got {_show(complete)}"
    return None


def _calibration_problem(calibration: Any) -> str | None:
    """What in an entry's calibration ``CalibrationResult.from_dict`` and the scale could not
    use: the scale divides by the score, and the spread needs finite samples."""
    if not isinstance(calibration, dict):
        return f"calibration must be an object or null, got {_show(calibration)}"
    score = calibration.get("score_s")
    if not is_finite_non_negative(score) or score == 0:
        return f"calibration score_s must be a finite number > 0, got {_show(score)}"
    samples = calibration.get("samples_s")
    if samples is not None:
        problem = _numbers_problem(samples, "calibration samples_s")
        if problem:
            return problem
    for field in ("duckdb_s", "python_s"):
        value = calibration.get(field)
        if value is not None and not is_finite_non_negative(value):
            return f"calibration {field} must be a finite number ≥ 0, got {_show(value)}"
    return None


def _entry_problem(entry: Any) -> str | None:
    """What in one test's entry (outside its phases) the verdict could not use, or None."""
    if not isinstance(entry, dict) or not isinstance(entry.get("phases"), dict):
        return "expected an object with 'phases'"
    machine = entry.get("machine")
    if machine is not None and not isinstance(machine, str):
        return f"machine must be a machine id (a string), got {_show(machine)}"
    for field in ("duckdb_threads", "cores"):
        value = entry.get(field)
        if value is not None and not (is_count(value) and value >= 1):
            return f"{field} must be a whole number ≥ 1 or null, got {_show(value)}"
    if entry.get("calibration") is not None:
        return _calibration_problem(entry["calibration"])
    return None


def _file_problem(data: Any) -> str | None:
    """What makes a parsed baseline file unusable, as one phrase naming the entry, or None."""
    if not isinstance(data, dict):
        return "expected a JSON object at the top level"
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        return f"missing or invalid schema_version ({_show(version)})"
    if version != SCHEMA_VERSION:
        return (
            f"unknown schema_version {_show(version)} (this pytest-simperf reads "
            f"{SCHEMA_VERSION}; a newer version may have written it)"
        )
    tests = data.get("tests")
    if not isinstance(tests, dict):
        return "'tests' must be an object"
    machines = data.get("machines", {})
    if not isinstance(machines, dict) or not all(isinstance(m, dict) for m in machines.values()):
        return "'machines' must be an object of objects"
    for key, entry in tests.items():
        problem = _entry_problem(entry)
        if problem:
            return f"test {key!r}: {problem}"
        for phase_key, phase in entry["phases"].items():
            problem = _phase_problem(phase)
            if problem:
                return f"test {key!r} phase {phase_key!r}: {problem}"
    return None


def validate(data: Any, path: Path) -> dict[str, Any]:
    """Check a parsed baseline file, every value the verdict reads, once, at load.

    A bad value raises ``BaselineError`` naming the file and the entry, so no later step (the
    time verdict, the counters, the calibration) meets a NaN, a string or a negative count.
    """
    problem = _file_problem(data)
    if problem:
        raise _fail(path, problem)
    return dict(data)


def load(path: Path) -> dict[str, Any] | None:
    """Parse and validate a baseline file; None when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):  # no folder yet, or a file in its place
        return None
    except (OSError, ValueError) as exc:  # ValueError: not UTF-8
        raise _fail(path, f"cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            path,
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "it may be truncated or have a merge conflict",
        ) from None
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number, 10,000 nested lists
        raise _fail(path, f"cannot be parsed ({type(exc).__name__}: {str(exc)[:80]})") from None
    return validate(data, path)


def empty_file(module: str) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "module": module, "machines": {}, "tests": {}}


def _relative_spread(values: list[float]) -> float | None:
    if len(values) < MEASURED_DRIFT_SESSIONS:
        return None
    center = statistics.median(values)
    if center <= 0:
        return None
    mad = statistics.median(abs(v - center) for v in values)
    return 1.4826 * mad / center


def _pool(previous: list[float], new: list[float]) -> list[float]:
    return [*previous, *new][-MAX_POOLED_SAMPLES:]


def phase_entry(
    phase: Mapping[str, Any], previous: Mapping[str, Any] | None, *, add_session: bool
) -> dict[str, Any]:
    """The baseline entry for one phase, from its report dict.

    A plain update starts the entry afresh from this session. ``add_session`` instead pools this
    session's rounds with the entry's (the latest ``MAX_POOLED_SAMPLES``) and appends its median
    to ``session_medians``: one session cannot show how much a measurement moves *between*
    sessions, and several can, so the verdict can widen its noise margin by exactly that much.
    """
    samples = [float(x) for x in phase["samples_s"]]
    cpu = [float(x) for x in phase.get("cpu_samples_s") or []]
    medians = [float(phase["median_s"])]
    cpu_medians = [] if phase.get("cpu_s") is None else [float(phase["cpu_s"])]
    if add_session and previous is not None:
        samples = _pool([float(x) for x in previous.get("samples_s", [])], samples)
        old_cpu = [float(x) for x in previous.get("cpu_samples_s", [])]
        cpu = _pool(old_cpu, cpu) if old_cpu and cpu else cpu
        medians = [*(float(x) for x in previous.get("session_medians", [])), *medians]
        cpu_medians = [*(float(x) for x in previous.get("session_cpu_medians", [])), *cpu_medians]
    medians, cpu_medians = medians[-SESSION_HISTORY:], cpu_medians[-SESSION_HISTORY:]
    entry = {
        "name": phase["name"],
        "year": phase["year"],
        "source": phase.get("source", "phase"),
        "samples_s": samples,
        "median_s": statistics.median(samples),
        "cpu_s": statistics.median(cpu) if cpu else phase.get("cpu_s"),
        "cpu_samples_s": cpu or None,
        # Run-queue wait: lets the verdict call a region CPU-bound even when recorded under load.
        "runq_wait_s": phase.get("runq_wait_s"),
        "peak_rss_mb": phase.get("peak_rss_mb"),
        "peak_alloc_mb": phase.get("peak_alloc_mb"),
        "duckdb_peak_buffer_mb": phase.get("duckdb_peak_buffer_mb"),
        "rows": phase.get("rows"),
        "rows_scanned": phase.get("rows_scanned"),
        "intermediate_rows": phase.get("intermediate_rows"),
        "session_medians": medians,
        "session_spread": _relative_spread(medians),
        "session_cpu_medians": cpu_medians or None,
        "session_cpu_spread": _relative_spread(cpu_medians),
        # Exact CPU work (valgrind), with what it depends on: compared on any host. A pooled
        # session that did not count keeps the count it pools into (it is the same code).
        "instructions": phase.get("instructions"),
        "instructions_env": phase.get("instructions_env") if phase.get("instructions") else None,
    }
    if add_session and previous is not None and entry["instructions"] is None:
        entry["instructions"] = previous.get("instructions")
        entry["instructions_env"] = previous.get("instructions_env")
    result = {key: value for key, value in entry.items() if value is not None}
    if add_session:  # pooled again at the write, onto the entry as it is then (see _repooled)
        result[OWN_PHASE] = dict(phase)
    return result


@dataclasses.dataclass
class UpdateSummary:
    """What an update did, file by file and test by test (syrupy-style lifecycle report)."""

    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)
    stale: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    files_written: list[str] = dataclasses.field(default_factory=list)
    # Temporary files of killed writes removed from the baseline folders.
    cleaned: list[str] = dataclasses.field(default_factory=list)

    def to_json(self) -> dict[str, list[str]]:
        return dataclasses.asdict(self)


class BaselineStore:
    """Loads baseline files lazily and queues updates until ``flush``."""

    def __init__(self, baseline_dir: Path) -> None:
        self.baseline_dir = baseline_dir
        self._files: dict[str, dict[str, Any] | None] = {}
        self._errors: dict[str, BaselineError] = {}
        self._pending: dict[str, dict[str, dict[str, Any]]] = {}
        self._pending_machines: dict[str, dict[str, Any]] = {}
        self._swept: set[Path] = set()
        self.cleaned: list[str] = []

    def path_for(self, module: str) -> Path:
        """The module's baseline file; ``BaselineError`` when it can have none (see
        ``baseline_path``)."""
        return baseline_path(self.baseline_dir, module)

    def file(self, module: str) -> dict[str, Any] | None:
        """The parsed file for a module (None if absent); raises ``BaselineError`` if unusable."""
        if module in self._errors:
            raise self._errors[module]
        if module not in self._files:
            try:
                path = self.path_for(module)
                self._sweep(path.parent)
                self._files[module] = load(path)
            except BaselineError as exc:
                self._errors[module] = exc
                raise
        return self._files[module]

    def _sweep(self, folder: Path) -> None:
        """Remove killed writes' temporary files from ``folder``, once per session, and say so.

        Under the folder lock, so no write of ours is in progress there; when another process
        holds it, the folder is left for the write (``flush`` sweeps under its lock) or a later
        run.
        """
        if folder in self._swept or not folder.is_dir():
            return
        try:
            with folder_lock(folder, wait=False) as held:
                if held:
                    self._swept_locked(folder)
        except OSError:
            return

    def _swept_locked(self, folder: Path) -> None:
        """``_sweep`` for a caller that holds the folder's lock already."""
        removed = sweep_temp_files(folder)
        self._swept.add(folder)
        if removed:
            names = ", ".join(str(p) for p in removed)
            self.cleaned.extend(str(p) for p in removed)
            # Under -W error the report must not break the run; ``cleaned`` still lists them.
            with contextlib.suppress(SimperfWarning):
                warnings.warn(
                    SimperfWarning(
                        f"removed {len(removed)} temporary file(s) left by an interrupted "
                        f"baseline write: {names}"
                    ),
                    stacklevel=2,
                )

    def entry(self, nodeid: str) -> dict[str, Any] | None:
        module, key = module_key(nodeid)
        data = self.file(module)
        if data is None:
            return None
        entry = data["tests"].get(key)
        return entry if isinstance(entry, dict) else None

    def machine(self, machine_id: str, module: str) -> dict[str, Any] | None:
        data = self.file(module)
        if data is None:
            return None
        found = data.get("machines", {}).get(machine_id)
        return found if isinstance(found, dict) else None

    def queue(self, nodeid: str, entry: dict[str, Any], machine: Mapping[str, Any]) -> None:
        """Stage a new entry for ``nodeid``; nothing is written before ``flush``."""
        module, key = module_key(nodeid)
        self._pending.setdefault(module, {})[key] = entry
        self._pending_machines.setdefault(module, {})[str(machine["id"])] = dict(machine)

    def stale(self, modules: Iterable[str], known: set[str]) -> list[str]:
        """Entries in these modules' files whose test is neither collected nor deselected."""
        found = []
        for module in sorted(set(modules)):
            try:
                data = self.file(module)
            except BaselineError:
                continue
            if data is None:
                continue
            for key in sorted(data["tests"]):
                nodeid = f"{module}::{key}"
                if nodeid not in known:
                    found.append(nodeid)
        return found

    def flush(self, *, stale: Iterable[str] = ()) -> UpdateSummary:
        """Write every file with queued entries (and drop its stale entries), once each.

        Each file is read again, merged and written under its folder's lock, so an update
        another session made since this one first read the file is kept (its entries, and the
        sessions it pooled). Nothing is written that ``load`` would refuse: a queued value that
        is not a finite measurement fails that file's write with an error, and the old file
        stays. A file that was unusable when read is reported and left alone.
        """
        summary = UpdateSummary()
        stale_by_module: dict[str, set[str]] = {}
        for nodeid in stale:
            module, key = module_key(nodeid)
            stale_by_module.setdefault(module, set()).add(key)
        for module in sorted(self._pending):
            if module in self._errors:
                summary.errors.append(str(self._errors[module]))
                continue
            try:
                path = self.path_for(module)
            except BaselineError as exc:
                summary.errors.append(str(exc))
                continue
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with folder_lock(path.parent):
                    self._swept_locked(path.parent)
                    outcome = self._merge(module, load(path), stale_by_module.get(module, set()))
                    text = dumps(outcome.data)
                    problem = _file_problem(json.loads(text))
                    if problem:
                        summary.errors.append(
                            f"baseline file {path}: not written, this session's entries are "
                            f"invalid ({problem}); the file was left as it was"
                        )
                        continue
                    write_atomic(path, text)
            except BaselineError as exc:
                summary.errors.append(str(exc))
                continue
            except OSError as exc:
                summary.errors.append(f"baseline file {path}: cannot be written ({exc})")
                continue
            summary.created.extend(outcome.created)
            summary.updated.extend(outcome.updated)
            summary.removed.extend(outcome.removed)
            summary.unchanged.extend(outcome.unchanged)
            summary.files_written.append(str(path))
            self._files[module] = validate(json.loads(text), path)
        summary.cleaned = list(self.cleaned)
        self._pending.clear()
        return summary

    def _merge(self, module: str, current: dict[str, Any] | None, stale_keys: set[str]) -> _Merged:
        """This session's queued entries over the file as it is now (``current``)."""
        pending = self._pending[module]
        data = empty_file(module) if current is None else json.loads(json.dumps(current))
        data["module"] = module
        data["schema_version"] = SCHEMA_VERSION
        outcome = _Merged(data)
        for key, entry in sorted(pending.items()):
            nodeid = f"{module}::{key}"
            (outcome.updated if key in data["tests"] else outcome.created).append(nodeid)
            data["tests"][key] = _repooled(entry, data["tests"].get(key))
        for key in sorted(stale_keys):
            if key in data["tests"] and key not in pending:
                del data["tests"][key]
                outcome.removed.append(f"{module}::{key}")
        for key in sorted(data["tests"]):
            nodeid = f"{module}::{key}"
            if key not in pending and nodeid not in outcome.removed:
                outcome.unchanged.append(nodeid)
        data.setdefault("machines", {}).update(self._pending_machines.get(module, {}))
        used = {entry.get("machine") for entry in data["tests"].values()}
        data["machines"] = {k: v for k, v in data["machines"].items() if k in used}
        return outcome


@dataclasses.dataclass
class _Merged:
    """A file's data after ``BaselineStore._merge``, and what happened to each entry."""

    data: dict[str, Any]
    created: list[str] = dataclasses.field(default_factory=list)
    updated: list[str] = dataclasses.field(default_factory=list)
    removed: list[str] = dataclasses.field(default_factory=list)
    unchanged: list[str] = dataclasses.field(default_factory=list)


def _repooled(entry: dict[str, Any], current: Any) -> dict[str, Any]:
    """``entry`` with each pooled phase pooled again onto ``current``, the entry on disk now.

    ``phase_entry(add_session=True)`` pooled this session onto the entry as it was first read;
    another session may have pooled its own since. Each such phase carries this session's own
    measurement (``OWN_PHASE``), so the pooling is simply done again, onto the fresh entry: with
    nothing changed on disk that gives the same phase, byte for byte.
    """
    phases = entry.get("phases")
    if not isinstance(phases, dict) or not any(
        isinstance(p, dict) and OWN_PHASE in p for p in phases.values()
    ):
        return entry
    previous = current.get("phases") if isinstance(current, dict) else None
    merged = dict(entry)
    merged["phases"] = {}
    for key, phase in phases.items():
        if isinstance(phase, dict) and OWN_PHASE in phase:
            before = previous.get(key) if isinstance(previous, dict) else None
            phase = phase_entry(phase[OWN_PHASE], before, add_session=True)
            phase.pop(OWN_PHASE, None)
        merged["phases"][key] = phase
    return merged
