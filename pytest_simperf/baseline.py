"""Baseline files: one deterministic JSON file per test module, validated, written atomically.

Files are committed and reviewed, so the text is stable: sorted keys, two-space indent, floats
rounded to six significant digits, a trailing newline. A file that cannot be trusted (malformed,
truncated, an unknown ``schema_version``) raises ``BaselineError`` naming it, and is never
rewritten. Changes are queued in memory and each file is written once, at the end of the session,
through a temporary file in the same folder and ``os.replace`` — so an interrupted update leaves
every file either old or new.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import statistics
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_simperf.errors import BaselineError
from pytest_simperf.stats import MEASURED_DRIFT_SESSIONS

SCHEMA_VERSION = 1
SIGNIFICANT_DIGITS = 6
# How many recording sessions' medians are kept to estimate the noise between sessions.
SESSION_HISTORY = 5
# Rounds kept when sessions are pooled (--simperf-add-baseline-session).
MAX_POOLED_SAMPLES = 35


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
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


def module_key(nodeid: str) -> tuple[str, str]:
    """Split a node id: ``a/b.py::C::t[x]`` → (``a/b.py``, ``C::t[x]``)."""
    module, sep, rest = nodeid.partition("::")
    if not sep:
        return module, module
    return module, rest


def baseline_path(baseline_dir: Path, module: str) -> Path:
    """``tests/perf/test_x.py`` → ``<baseline_dir>/tests/perf/test_x.json``."""
    relative = Path(module)
    return baseline_dir / relative.with_suffix(".json")


def _fail(path: Path, message: str) -> BaselineError:
    return BaselineError(
        f"baseline file {path}: {message}. The file was left untouched; fix or delete it, then "
        "run with --simperf-update-baseline to record it again"
    )


def validate(data: Any, path: Path) -> dict[str, Any]:
    """Check the structure of a parsed baseline file; raise ``BaselineError`` naming the problem."""
    if not isinstance(data, dict):
        raise _fail(path, "expected a JSON object at the top level")
    version = data.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _fail(path, f"missing or invalid schema_version ({version!r})")
    if version != SCHEMA_VERSION:
        raise _fail(
            path,
            f"unknown schema_version {version} (this pytest-simperf reads {SCHEMA_VERSION}; "
            "a newer version may have written it)",
        )
    tests = data.get("tests")
    if not isinstance(tests, dict):
        raise _fail(path, "'tests' must be an object")
    machines = data.get("machines", {})
    if not isinstance(machines, dict):
        raise _fail(path, "'machines' must be an object")
    for key, entry in tests.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("phases"), dict):
            raise _fail(path, f"test {key!r}: expected an object with 'phases'")
        for phase_key, phase in entry["phases"].items():
            if not isinstance(phase, dict):
                raise _fail(path, f"test {key!r} phase {phase_key!r}: expected an object")
            median = phase.get("median_s")
            if not isinstance(median, int | float) or isinstance(median, bool) or median < 0:
                raise _fail(path, f"test {key!r} phase {phase_key!r}: invalid median_s {median!r}")
            for field in ("samples_s", "cpu_samples_s"):
                samples = phase.get(field, [])
                if not isinstance(samples, list) or not all(
                    isinstance(x, int | float) and not isinstance(x, bool) for x in samples
                ):
                    raise _fail(path, f"test {key!r} phase {phase_key!r}: {field} must be numbers")
    return data


def load(path: Path) -> dict[str, Any] | None:
    """Parse and validate a baseline file; None when it does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _fail(
            path,
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); "
            "it may be truncated or have a merge conflict",
        ) from None
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
    }
    return {key: value for key, value in entry.items() if value is not None}


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

    def path_for(self, module: str) -> Path:
        return baseline_path(self.baseline_dir, module)

    def file(self, module: str) -> dict[str, Any] | None:
        """The parsed file for a module (None if absent); raises ``BaselineError`` if unusable."""
        if module in self._errors:
            raise self._errors[module]
        if module not in self._files:
            try:
                self._files[module] = load(self.path_for(module))
            except BaselineError as exc:
                self._errors[module] = exc
                raise
        return self._files[module]

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
        """Write every file with queued entries (and drop its stale entries), once each."""
        summary = UpdateSummary()
        stale_by_module: dict[str, set[str]] = {}
        for nodeid in stale:
            module, key = module_key(nodeid)
            stale_by_module.setdefault(module, set()).add(key)
        for module in sorted(self._pending):
            path = self.path_for(module)
            try:
                current = self.file(module)
            except BaselineError as exc:
                summary.errors.append(str(exc))
                continue
            data = empty_file(module) if current is None else json.loads(json.dumps(current))
            data["module"] = module
            data["schema_version"] = SCHEMA_VERSION
            for key, entry in sorted(self._pending[module].items()):
                nodeid = f"{module}::{key}"
                (summary.updated if key in data["tests"] else summary.created).append(nodeid)
                data["tests"][key] = entry
            for key in sorted(stale_by_module.get(module, set())):
                if key in data["tests"] and key not in self._pending[module]:
                    del data["tests"][key]
                    summary.removed.append(f"{module}::{key}")
            for key in sorted(data["tests"]):
                nodeid = f"{module}::{key}"
                if key not in self._pending[module] and nodeid not in summary.removed:
                    summary.unchanged.append(nodeid)
            data.setdefault("machines", {}).update(self._pending_machines.get(module, {}))
            used = {entry.get("machine") for entry in data["tests"].values()}
            data["machines"] = {k: v for k, v in data["machines"].items() if k in used}
            try:
                write_atomic(path, dumps(data))
            except OSError as exc:
                summary.errors.append(f"baseline file {path}: cannot be written ({exc})")
                continue
            summary.files_written.append(str(path))
            self._files[module] = load(path)
        self._pending.clear()
        return summary
