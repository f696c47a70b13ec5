"""pytest-benchmark saved runs → simperf baseline entries, so a team starts from what it has.

A saved run (``--benchmark-autosave``/``--benchmark-save`` under ``.benchmarks/``, or
``--benchmark-json``) names each benchmark by its pytest node id (``fullname``). Each one is
checked against the test files under the rootdir — the module must exist and define the test —
and imported as the baseline of that node id: phase named by ``convert.phase_name``, samples
built by ``convert.reduce_samples`` exactly as the live plugin builds them. A name that does not
check out (file gone, test renamed, ``name`` disagreeing with ``fullname``, no timings) is listed
with the reason and skipped: a wrong baseline is worse than none, so nothing is guessed.

The recording machine's hardware fingerprint is rebuilt from pytest-benchmark's
``machine_info`` with the same fields as ``calibration.machine_fingerprint`` (CPU model, logical
cores, architecture), so an import on the machine that recorded the run compares seconds
directly, and an import from elsewhere gates on SLAs only until re-recorded. No pytest here.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_simperf import baseline as baseline_mod
from pytest_simperf.benchcompat.convert import phase_name, reduce_samples
from pytest_simperf.errors import BaselineError, SimperfError


class BenchmarkImportError(SimperfError):
    """A file that is not a usable pytest-benchmark saved run; the message names it."""


@dataclasses.dataclass(frozen=True)
class Imported:
    """One benchmark mapped to a node id, with the baseline entry it becomes."""

    nodeid: str
    phase: str
    median_s: float
    rounds: int
    samples: int
    entry: dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Unmapped:
    """A benchmark that was not imported, and why."""

    name: str
    reason: str


@dataclasses.dataclass(frozen=True)
class ImportPlan:
    """What an import would write; ``apply_plan`` writes it."""

    source: str
    machine: dict[str, Any]
    imported: tuple[Imported, ...]
    unmapped: tuple[Unmapped, ...]


@dataclasses.dataclass
class ImportResult:
    """What ``apply_plan`` did, per node id."""

    created: list[str] = dataclasses.field(default_factory=list)
    replaced: list[str] = dataclasses.field(default_factory=list)
    kept: list[str] = dataclasses.field(default_factory=list)
    errors: list[str] = dataclasses.field(default_factory=list)
    files_written: list[str] = dataclasses.field(default_factory=list)


def load_saved_run(path: Path) -> dict[str, Any]:
    """Read a pytest-benchmark JSON file; ``BenchmarkImportError`` names what is wrong."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchmarkImportError(f"{path}: cannot be read ({exc})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BenchmarkImportError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise BenchmarkImportError(
            f"{path}: not a pytest-benchmark saved run (expected an object with a "
            "'benchmarks' list, as written by --benchmark-autosave or --benchmark-json)"
        )
    return data


def machine_from_info(machine_info: object) -> dict[str, Any]:
    """A simperf machine fingerprint rebuilt from pytest-benchmark's ``machine_info``.

    The id hashes the same hardware fields as ``calibration.machine_fingerprint``; without them
    it is derived from the whole record and so never matches a real machine, which makes the
    core compare counters only rather than trust seconds from an unknown machine.
    """
    info: Mapping[str, Any] = machine_info if isinstance(machine_info, Mapping) else {}
    raw_cpu = info.get("cpu")
    cpu_info: Mapping[str, Any] = raw_cpu if isinstance(raw_cpu, Mapping) else {}
    cpu = str(cpu_info.get("brand_raw") or cpu_info.get("brand") or "").strip()
    cores = cpu_info.get("count")
    arch = str(info.get("machine") or "").strip()
    if cpu and isinstance(cores, int) and not isinstance(cores, bool) and cores > 0 and arch:
        ident = hashlib.sha256(f"{cpu}|{cores}|{arch}".encode()).hexdigest()[:12]
    else:
        digest = hashlib.sha256(json.dumps(info, sort_keys=True, default=str).encode())
        ident = "pytest-benchmark-" + digest.hexdigest()[:12]
        cpu = cpu or "unknown"
    system = "-".join(str(info[k]) for k in ("system", "release", "machine") if info.get(k))
    # pytest-benchmark records the host name ("node") but not the OS's machine id: a run saved
    # here (same host name, CPU model and cores) is taken as this host, so its seconds are
    # judged; any other run's seconds are reported only (calibration.compare_machines).
    host = _this_host_if_same(info.get("node"), cpu, cores)
    if host is not None:
        ident = host
    return {
        "id": ident,
        "host": host,
        "cpu": cpu,
        "cores": cores if isinstance(cores, int) and not isinstance(cores, bool) else None,
        "arch": arch or None,
        "python": info.get("python_version"),
        "duckdb": None,
        "platform": system or None,
        "source": "pytest-benchmark machine_info",
    }


def _this_host_if_same(node: object, cpu: str, cores: object) -> str | None:
    import os
    import socket

    from pytest_simperf.calibration import _cpu_model, host_key

    if not node or str(node) != socket.gethostname():
        return None
    if cpu != _cpu_model() or cores != (os.cpu_count() or 1):
        return None
    return host_key()


def plan_import(run: Mapping[str, Any], *, rootdir: Path, source: str) -> ImportPlan:
    """Map every benchmark of a saved run to a checked node id and a baseline entry."""
    machine = machine_from_info(run.get("machine_info"))
    commit = run.get("commit_info")
    provenance = {
        "file": source,
        "pytest_benchmark": run.get("version"),
        "datetime": run.get("datetime"),
        "commit": commit.get("id") if isinstance(commit, Mapping) else None,
    }
    imported: list[Imported] = []
    unmapped: list[Unmapped] = []
    seen: dict[str, int] = {}
    benches = list(run["benchmarks"])
    for bench in benches:
        fullname = bench.get("fullname") if isinstance(bench, Mapping) else None
        if isinstance(fullname, str):
            seen[fullname] = seen.get(fullname, 0) + 1
    checker = _TestChecker(rootdir)
    for index, bench in enumerate(benches):
        if not isinstance(bench, Mapping):
            unmapped.append(Unmapped(f"benchmarks[{index}]", "not an object"))
            continue
        label = str(bench.get("fullname") or bench.get("name") or f"benchmarks[{index}]")
        reason = _name_problem(bench, seen) or checker.problem(label)
        if reason is None:
            converted = _convert(bench, label, machine["id"], run.get("datetime"), provenance)
            if isinstance(converted, str):
                reason = converted
            else:
                imported.append(converted)
                continue
        unmapped.append(Unmapped(label, reason))
    imported.sort(key=lambda i: i.nodeid)
    return ImportPlan(source, machine, tuple(imported), tuple(unmapped))


def _name_problem(bench: Mapping[str, Any], seen: Mapping[str, int]) -> str | None:
    fullname, name = bench.get("fullname"), bench.get("name")
    if not isinstance(fullname, str) or not fullname:
        return "no 'fullname' (node id) in the saved run; cannot tell which test it was"
    module, sep, rest = fullname.partition("::")
    if not sep or not module.endswith(".py") or not rest:
        return f"fullname {fullname!r} is not a pytest node id (path.py::test)"
    parts = PurePosixPath(module).parts
    if PurePosixPath(module).is_absolute() or Path(module).is_absolute() or ".." in parts:
        # The saved run is data: its baseline file would land outside baselines/.
        return f"fullname {fullname!r} names a file outside the rootdir; refused"
    if isinstance(name, str) and name and rest.split("::")[-1] != name:
        return f"name {name!r} does not match its fullname {fullname!r}"
    if seen.get(fullname, 0) > 1:
        return f"{fullname!r} appears {seen[fullname]} times in the saved run"
    return None


def _convert(
    bench: Mapping[str, Any],
    nodeid: str,
    machine_id: str,
    recorded_at: object,
    provenance: Mapping[str, Any],
) -> Imported | str:
    """The baseline entry of one benchmark, or why its timings cannot be used."""
    stats = bench.get("stats")
    if not isinstance(stats, Mapping):
        return "no 'stats' in the saved run"
    data = stats.get("data")
    try:
        if isinstance(data, list) and data:
            samples = reduce_samples(data)
            median_s = float(statistics.median(samples))
        else:
            median = stats.get("median")
            if isinstance(median, bool) or not isinstance(median, int | float):
                return "no timings: neither 'stats.data' nor 'stats.median'"
            samples = reduce_samples([median])
            median_s = samples[0]
    except (TypeError, ValueError, OverflowError) as exc:
        return f"unusable timings ({exc})"
    rounds = stats.get("rounds")
    rounds = rounds if isinstance(rounds, int) and not isinstance(rounds, bool) else len(samples)
    name = phase_name(bench.get("group"))
    phase: dict[str, Any] = {
        "name": name,
        "year": None,
        "source": "record",
        "samples_s": samples,
        "median_s": median_s,
    }
    extra = bench.get("extra_info")
    rows = extra.get("rows") if isinstance(extra, Mapping) else None
    if baseline_mod.is_count(rows):
        phase["rows"] = rows
    entry = {
        "machine": machine_id,
        "calibration": None,
        "recorded_at": recorded_at if isinstance(recorded_at, str) else None,
        "imported_from": {
            **provenance,
            "rounds": rounds,
            "iterations": stats.get("iterations"),
            "samples": "rounds" if isinstance(data, list) and data else "median only",
        },
        "phases": {name: baseline_mod.phase_entry(phase, None, add_session=False)},
    }
    return Imported(nodeid, name, median_s, rounds, len(samples), entry)


class _TestChecker:
    """Does ``path.py::Class::test[param]`` name a test defined in that file under rootdir?

    Read with ``ast``, never imported: importing user test modules could run anything. A name
    bound by ``def``, ``async def``, assignment or import counts; a class whose bases are not
    all in the file may inherit the test, so it is given the benefit of the doubt.
    """

    def __init__(self, rootdir: Path) -> None:
        self.rootdir = rootdir
        self._trees: dict[str, ast.Module | str] = {}

    def _tree(self, module: str) -> ast.Module | str:
        if module not in self._trees:
            path = self.rootdir / module
            if not path.is_file():
                self._trees[module] = f"{module} not found under {self.rootdir}"
            else:
                try:
                    self._trees[module] = ast.parse(path.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, SyntaxError) as exc:
                    self._trees[module] = f"{module} cannot be parsed ({exc})"
        return self._trees[module]

    def problem(self, nodeid: str) -> str | None:
        module, _, rest = nodeid.partition("::")
        tree = self._tree(module)
        if isinstance(tree, str):
            return tree
        parts = rest.split("::")
        parts[-1] = parts[-1].split("[", 1)[0]
        classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
        scope: Sequence[ast.stmt] = tree.body
        for depth, name in enumerate(parts):
            if depth == len(parts) - 1:
                if _binds(scope, name):
                    return None
                owner = parts[depth - 1] if depth else None
                if owner is not None and _inherits(classes.get(owner), name, classes):
                    return None
                where = f"class {owner} of {module}" if owner else module
                return f"no test {name!r} in {where} (renamed or removed?)"
            found = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == name), None)
            if found is None:
                return f"no class {name!r} in {module} (renamed or removed?)"
            scope = found.body
        return None


def _binds(scope: Sequence[ast.stmt], name: str) -> bool:
    for node in scope:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
        elif isinstance(node, ast.Import | ast.ImportFrom) and any(
            (a.asname or a.name.split(".")[0]) == name for a in node.names
        ):
            return True
    return False


def _inherits(
    cls: ast.ClassDef | None, name: str, classes: Mapping[str, ast.ClassDef], depth: int = 0
) -> bool:
    """True when a base class in the file defines ``name``, or a base is not in the file."""
    if cls is None or depth > 20:
        return False
    for base in cls.bases:
        base_name = base.id if isinstance(base, ast.Name) else None
        if base_name == "object":
            continue
        local = classes.get(base_name) if base_name is not None else None
        if local is None:
            return True  # defined elsewhere: cannot be checked without importing it
        if _binds(local.body, name) or _inherits(local, name, classes, depth + 1):
            return True
    return False


def apply_plan(
    plan: ImportPlan,
    store: baseline_mod.BaselineStore,
    *,
    replace: bool = False,
    write: bool = True,
) -> ImportResult:
    """Write the plan's entries through the baseline store (atomic, deterministic files).

    A test that already has a simperf baseline keeps it unless ``replace``: a recorded simperf
    baseline carries more (calibration, counters, memory) than an import can. With
    ``write=False`` (a dry run) the result says what would happen and nothing is written.
    """
    result = ImportResult()
    for item in plan.imported:
        try:
            existing = store.entry(item.nodeid)
        except BaselineError as exc:
            message = str(exc)
            if message not in result.errors:
                result.errors.append(message)
            continue
        if existing is not None and not replace:
            result.kept.append(item.nodeid)
            continue
        (result.replaced if existing is not None else result.created).append(item.nodeid)
        if write:
            store.queue(item.nodeid, item.entry, plan.machine)
    if not write:
        return result
    summary = store.flush()
    result.errors.extend(e for e in summary.errors if e not in result.errors)
    result.files_written = list(summary.files_written)
    written = set(summary.files_written)

    def landed(nodeid: str) -> bool:
        return str(store.path_for(baseline_mod.module_key(nodeid)[0])) in written

    result.created = [n for n in result.created if landed(n)]
    result.replaced = [n for n in result.replaced if landed(n)]
    return result
