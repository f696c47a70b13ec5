"""Running perf tests again in a fresh interpreter: to count instructions, and to confirm time.

Two things need a new process rather than a rerun in the current one:

- **Instruction counts** run the tests under valgrind (``valgrind.callgrind_prefix``), which
  cannot be attached to a running interpreter.
- **Confirming a time regression.** A process can be slow as a whole (measured here: 2 of 30
  fresh processes ran the same Python loop ×1.5–2.3 slower than the rest, in every round), and a
  rerun inside that process shares its luck. A regression is claimed only when a fresh process
  agrees.

The child is ``python -m pytest`` with the parent's options, rootdir and ini file, plus
``--simperf-child DIR``: it reads ``DIR/request.json`` (mode and node ids), runs just those
tests without judging them, and writes ``DIR/result.json``. Pure module: no pytest import.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_simperf.valgrind import callgrind_prefix, child_environment, read_dumps

REQUEST_FILE = "request.json"
RESULT_FILE = "result.json"
MODES = ("instructions", "confirm")


@dataclasses.dataclass(frozen=True)
class ChildSpec:
    """How to start ``pytest`` again the way this session was started.

    ``args`` are the invocation's own options (``child_args``), so a plugin option, ``-p`` or
    ``-o`` the tests depend on reaches the child; ``cwd`` is the invocation directory, against
    which relative paths in them were given.
    """

    python: str
    cwd: Path
    rootdir: Path
    inifile: Path | None
    args: tuple[str, ...] = ()
    xdist: bool = False

    def command(self, nodeids: Sequence[str], folder: Path) -> list[str]:
        modules = sorted({str(self.rootdir / nodeid.partition("::")[0]) for nodeid in nodeids})
        command = [self.python, "-m", "pytest", *modules, *self.args]
        # Its own temporary and cache folders: pytest clears --basetemp at start, and the
        # user's cache (--lf, --sw) must not learn from a child's run.
        command += ["--basetemp", str(folder / "basetemp"), "--rootdir", str(self.rootdir)]
        if not any(arg in ("no:cacheprovider", "-pno:cacheprovider") for arg in self.args):
            command += ["-o", f"cache_dir={folder / 'cache'}"]
        if self.inifile is not None:
            command += ["-c", str(self.inifile)]
        if self.xdist:
            command += ["-n", "0"]
        command += ["-q", "--simperf-child", str(folder)]
        return command


# Options a child must not inherit: they write the user's files, stop for a debugger, or start
# workers (the child runs its few tests in one process); (takes a value?, names).
_DROP: tuple[tuple[bool, tuple[str, ...]], ...] = (
    (True, ("--basetemp", "--junitxml", "--junit-xml", "--report-log", "--html", "--resultlog")),
    (True, ("--json-report-file", "--pdbcls", "--rootdir", "-c", "--config-file", "--inifile")),
    (False, ("--pdb", "--trace", "--json-report", "--lf", "--last-failed", "--sw", "--stepwise")),
    (False, ("--simperf-update-baseline", "--simperf-add-baseline-session")),
)


def region_label(nodeid: str, key: str) -> str:
    """The label a counting child gives a region: its test and phase key, which never hold NUL.

    ``region_label(nodeid, "")`` is the prefix of every label of that test.
    """
    return f"{nodeid}\x00{key}"


def child_args(args: Sequence[str], positional: Iterable[str]) -> tuple[str, ...]:
    """The invocation's options for a child: test paths and unsafe options left out."""
    paths = set(positional)
    with_value = {name for takes, names in _DROP if takes for name in names}
    flags = {name for takes, names in _DROP if not takes for name in names}
    out: list[str] = []
    items = list(args)
    skip = False
    for arg in items:
        if skip:
            skip = False
            continue
        name = arg.split("=", 1)[0]
        if arg in paths:
            continue
        if name in with_value:
            skip = "=" not in arg
            continue
        if name in flags:
            continue
        out.append(arg)
    return tuple(out)


@dataclasses.dataclass
class ChildResult:
    """What one child run produced, per node id; ``error`` when the whole run failed."""

    tests: dict[str, dict[str, Any]]
    env: dict[str, Any]
    error: str | None = None
    seconds: float = 0.0

    def instructions(self, nodeid: str) -> tuple[dict[str, list[int]], str | None]:
        """Counts per phase key (one per entry of the region) and a note when incomplete."""
        if self.error is not None:
            return {}, self.error
        test = self.tests.get(nodeid)
        if test is None:
            return {}, "the counting run did not run this test"
        counts: dict[str, list[int]] = {}
        for key, values in (test.get("instructions") or {}).items():
            counts[str(key)] = [int(v) for v in values]
        note = None
        if test.get("outcome") != "passed":
            note = f"the counting run of this test {test.get('outcome')}: {test.get('error')}"
        return counts, note


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def run_child(
    spec: ChildSpec,
    mode: str,
    nodeids: Sequence[str],
    *,
    timeout_s: float,
    valgrind: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> ChildResult:
    """Run ``nodeids`` in a fresh process (under callgrind when ``valgrind`` names the binary).

    Never raises for a failing child: the result carries an ``error`` naming what went wrong.
    """
    if mode not in MODES:
        raise ValueError(f"unknown child mode {mode!r}")
    import time

    with tempfile.TemporaryDirectory(prefix="simperf-child-") as tmp:
        folder = Path(tmp)
        (folder / REQUEST_FILE).write_text(
            json.dumps({"mode": mode, "nodeids": list(nodeids)}), encoding="utf-8"
        )
        command = spec.command(nodeids, folder)
        if valgrind is not None:
            command = [*callgrind_prefix(folder, valgrind), *command]
        env = child_environment(
            dict(os.environ if environ is None else environ), counting=valgrind is not None
        )
        t0 = time.monotonic()
        try:
            proc = subprocess.run(
                command,
                cwd=spec.cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ChildResult(
                {}, {}, f"the {mode} run took longer than {timeout_s:.0f} s and was stopped"
            )
        except OSError as exc:
            return ChildResult({}, {}, f"the {mode} run could not start: {exc}")
        seconds = time.monotonic() - t0
        result_path = folder / RESULT_FILE
        if not result_path.exists():
            output = _tail(proc.stdout + "\n" + proc.stderr)
            return ChildResult(
                {}, {}, f"the {mode} run exited {proc.returncode} without results:\n{output}"
            )
        data = json.loads(result_path.read_text(encoding="utf-8"))
        tests: dict[str, dict[str, Any]] = data.get("tests", {})
        if valgrind is not None:
            totals = read_dumps(folder)
            for test in tests.values():
                per_key: dict[str, list[int]] = {}
                for region_id, key in (test.get("regions") or {}).items():
                    count = totals.get(int(region_id))
                    if count is not None:
                        per_key.setdefault(str(key), []).append(count)
                test["instructions"] = per_key
        return ChildResult(tests, dict(data.get("env") or {}), None, seconds)


def write_result(folder: Path, tests: Mapping[str, Any], env: Mapping[str, Any]) -> None:
    """The child's side: its results, written once at the end of its session."""
    text = json.dumps({"tests": dict(tests), "env": dict(env)}, sort_keys=True)
    tmp = folder / (RESULT_FILE + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, folder / RESULT_FILE)


def read_request(folder: Path) -> tuple[str, list[str]]:
    data = json.loads((folder / REQUEST_FILE).read_text(encoding="utf-8"))
    mode = str(data["mode"])
    if mode not in MODES:
        raise ValueError(f"unknown child mode {mode!r}")
    return mode, [str(n) for n in data["nodeids"]]
