"""Machine calibration and fingerprint: how fast is this machine right now, and which host is it?

The calibration is a short fixed workload (DuckDB + Python) run once per session. Its score is
*reported* with every run and baseline, so a reader can see that a machine was slow; it is no
longer used to rescale seconds for a verdict. Measured on this kind of machine: its ratio between
two hosts was off by ×2.4 from how the real code moved, and it moved ×1.7 between sessions on one
host while the workloads did not (docs/verdicts.md). Seconds are judged only against a baseline
from the same host (``compare_machines``); elsewhere instruction counts and DuckDB's counters gate.

Pure module: no pytest import, duckdb imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_simperf.stats import median, relative_spread

__all__ = [
    "CalibrationResult",
    "MachineComparison",
    "compare_machines",
    "host_key",
    "machine_fingerprint",
    "run_calibration",
]

#: DuckDB workload: a hash and a grouped aggregate, single-threaded (~10 ms of CPU on this kind of
#: machine). Shorter queries (~5 ms) varied ±20% between fresh processes; this size ±5%.
_DUCKDB_SQL = "SELECT i % 1000 AS k, sum(hash(i) % 1000003) AS s FROM range(?) t(i) GROUP BY k"
_DUCKDB_ROWS = 800_000
#: Pure-Python workload (~4 ms): integer arithmetic in the interpreter loop.
_PYTHON_ITERATIONS = 100_000


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`run_calibration`; all times in seconds, medians over rounds."""

    score_s: float
    samples_s: tuple[float, ...]
    duckdb_s: float
    python_s: float

    @property
    def spread(self) -> float:
        """Robust relative spread of the per-round scores (fraction); large means a busy machine."""
        return relative_spread(self.samples_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form, for baselines and run reports."""
        return {
            "score_s": self.score_s,
            "samples_s": list(self.samples_s),
            "duckdb_s": self.duckdb_s,
            "python_s": self.python_s,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CalibrationResult:
        """Inverse of :meth:`to_dict`; missing samples are allowed (older baselines)."""
        samples = tuple(float(x) for x in data.get("samples_s") or ())
        score = float(data["score_s"])
        return cls(
            score_s=score,
            samples_s=samples or (score,),
            duckdb_s=float(data.get("duckdb_s") or 0.0),
            python_s=float(data.get("python_s") or 0.0),
        )


def _python_workload(iterations: int) -> int:
    """Interpreter-bound loop; the result is returned so nothing can be optimised away."""
    acc = 0
    for i in range(iterations):
        acc = (acc + i * i) % 1_000_003
    return acc


def run_calibration(
    *, clock: Callable[[], float] = time.perf_counter, rounds: int = 7
) -> CalibrationResult:
    """Run the fixed DuckDB + Python workload ``rounds`` times (after one warm-up) and score it.

    DuckDB runs with ``threads=1`` so the score measures one core's speed, not how many cores a
    neighbour left free. The score is the median over rounds of (DuckDB time + Python time), so
    one interrupted round does not move it. Total cost is about 70–120 ms.
    """
    if rounds < 1:
        raise ValueError(f"calibration needs at least one round, got {rounds}")
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET threads=1")
        con.execute(_DUCKDB_SQL, [_DUCKDB_ROWS]).fetchall()  # warm-up: plan caches, allocator
        _python_workload(_PYTHON_ITERATIONS)
        duck: list[float] = []
        py: list[float] = []
        for _ in range(rounds):
            t0 = clock()
            con.execute(_DUCKDB_SQL, [_DUCKDB_ROWS]).fetchall()
            t1 = clock()
            _python_workload(_PYTHON_ITERATIONS)
            t2 = clock()
            duck.append(t1 - t0)
            py.append(t2 - t1)
    finally:
        con.close()
    scores = tuple(d + p for d, p in zip(duck, py, strict=True))
    return CalibrationResult(
        score_s=median(scores), samples_s=scores, duckdb_s=median(duck), python_s=median(py)
    )


@dataclass(frozen=True)
class MachineComparison:
    """Which gates may compare this session's figures with the baseline's, and why.

    ``mode`` is ``"same_machine"`` (the baseline was recorded on this host: seconds are compared
    as they are, memory too when the cores match), ``"other_machine"`` (recorded elsewhere:
    seconds and process memory are reported, not judged; instruction counts and DuckDB's counters
    gate), ``"threads_differ"`` or ``"none"`` (no baseline). ``scale`` stays 1.0: seconds are never
    rescaled by the calibration, whose ratio is not a speed factor (measured: off by ×2.4 across
    machines, moving ×1.7 between sessions on one). ``reason`` is one sentence for the report.
    """

    mode: str
    scale: float
    scale_uncertainty: float
    reason: str
    memory: bool = True

    @property
    def time_gated(self) -> bool:
        return self.mode == "same_machine"


def compare_machines(
    baseline_machine: Mapping[str, Any] | None,
    current_machine: Mapping[str, Any],
    *,
    baseline_cores: int | None = None,
    current_cores: int | None = None,
) -> MachineComparison:
    """Decide whether seconds and memory from the baseline's session may be judged here.

    Only the same host: a CPU model string does not identify one (two VMs with the same "AMD
    EPYC" string differed ×1.25; a 16-core Xeon and a 2-core VM gave a calibration ratio of ×2.38
    while the code ran at ×1.0). The host is the ``host`` of ``machine_fingerprint``. Memory also
    needs the same usable cores (DuckDB's memory grows with threads, and ``auto`` threads follow
    the cores).
    """
    same = (
        baseline_machine is not None
        and baseline_machine.get("host") is not None
        and baseline_machine.get("host") == current_machine.get("host")
    )
    if not same:
        where = (
            "a host this version cannot identify"
            if baseline_machine is None or baseline_machine.get("host") is None
            else f"another host ({baseline_machine.get('cpu', '?')}, "
            f"{baseline_machine.get('cores', '?')} cores)"
        )
        return MachineComparison(
            "other_machine",
            1.0,
            0.0,
            f"baselines recorded on {where}: seconds and process memory are reported, not "
            "judged (measured here: two hosts of one kind ×1.25 apart, a 16-core and a busy "
            "2-core host up to ×4); instruction counts and DuckDB's counters gate",
            memory=False,
        )
    cores_match = baseline_cores is None or current_cores is None or baseline_cores == current_cores
    reason = "same host: seconds compared as measured"
    if not cores_match:
        reason += f"; memory not judged ({baseline_cores} usable cores then, {current_cores} now)"
    return MachineComparison("same_machine", 1.0, 0.0, reason, memory=cores_match)


def _cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """CPU model name from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    try:
        text = cpuinfo.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "cpu model", "Processor") and value.strip():
            return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""


def host_key() -> str:
    """A stable identity of this host: what makes seconds measured here comparable.

    The OS installation's machine id (systemd's ``/etc/machine-id``, regenerated when a VM image is
    cloned properly), the host name, and the hardware (CPU model, logical cores, memory). A CI
    runner that is a fresh VM every run is a new host every run, which is the truth about its
    seconds.
    """
    import os
    import socket

    machine_id = _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")
    meminfo = _read("/proc/meminfo").splitlines()
    memory = next((line for line in meminfo if line.startswith("MemTotal")), "")
    parts = [machine_id, socket.gethostname(), _cpu_model(), str(os.cpu_count()), memory]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]


def machine_fingerprint() -> dict[str, Any]:
    """Describe this machine for baselines: host, cpu, cores, python, duckdb, platform.

    The ``id`` is the host's identity (``host_key``): baselines name the host their seconds were
    measured on. Versions are recorded for the report to explain a change; the instruction gate
    compares its own environment (``valgrind.instruction_env``).
    """
    import os

    try:
        import duckdb

        duckdb_version: str | None = str(duckdb.__version__)
    except ImportError:  # pragma: no cover - duckdb is a dependency
        duckdb_version = None
    host = host_key()
    return {
        "id": host,
        "host": host,
        "cpu": _cpu_model(),
        "cores": os.cpu_count() or 1,
        "arch": platform.machine(),
        "python": platform.python_version(),
        "duckdb": duckdb_version,
        "platform": platform.platform(),
    }
