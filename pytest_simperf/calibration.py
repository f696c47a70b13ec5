"""Machine calibration and fingerprint: how fast is this machine right now, and is it the same one?

Seconds measured on two machines (or on one machine at two moments, when neighbours are busy or
the CPU clocks differently) are not comparable as they stand. A short fixed workload, run at
session start and stored with every baseline, gives a score whose ratio between two sessions
estimates how much faster or slower the machine is, independently of the code under test. A single
number can only describe machines that differ by a *speed factor*: when the DuckDB part and the
pure-Python part of the workload disagree on that factor, or the calibration itself is noisy, the
ratio is not trusted and the caller falls back to DuckDB's deterministic work counters.

Pure module: no pytest import, duckdb imported inside the functions that need it.
"""

from __future__ import annotations

import hashlib
import math
import platform
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_simperf.stats import median, relative_spread

__all__ = [
    "CALIBRATION_MAX_SCALE",
    "CALIBRATION_MAX_SPREAD",
    "CALIBRATION_PART_AGREEMENT",
    "CALIBRATION_REPRODUCIBILITY",
    "SAME_MACHINE_DEADBAND",
    "CalibrationResult",
    "MachineComparison",
    "calibration_scale",
    "compare_machines",
    "machine_fingerprint",
    "run_calibration",
]

#: DuckDB workload: a hash and a grouped aggregate, single-threaded (~10 ms of CPU on this kind of
#: machine). Shorter queries (~5 ms) varied ±20% between fresh processes; this size ±5%.
_DUCKDB_SQL = "SELECT i % 1000 AS k, sum(hash(i) % 1000003) AS s FROM range(?) t(i) GROUP BY k"
_DUCKDB_ROWS = 800_000
#: Pure-Python workload (~4 ms): integer arithmetic in the interpreter loop.
_PYTHON_ITERATIONS = 100_000

#: Calibration samples whose robust relative spread exceeds this are too noisy to rescale seconds.
CALIBRATION_MAX_SPREAD = 0.05
#: Machines more than this factor apart are too different for one speed factor to describe.
CALIBRATION_MAX_SCALE = 4.0
#: The DuckDB and Python parts must agree on the speed factor within this fraction.
CALIBRATION_PART_AGREEMENT = 0.25
#: Between fresh processes on one unchanged machine the score still moves by about this much
#: (benchmarks/noise_probe.py); the floor of the calibration ratio's relative error.
CALIBRATION_REPRODUCIBILITY = 0.03
#: On the same hardware, seconds are rescaled only when the calibration says the machine's speed
#: changed by more than this (a throttled laptop, a busier host): below it, rescaling adds more
#: calibration noise than it removes. Measured: a ×0.899 calibration on one unchanged machine
#: turned a steady query into a false +16.7% (benchmarks/README.md), so 10% was too tight.
SAME_MACHINE_DEADBAND = 0.25


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


def calibration_scale(baseline_score: float, current_score: float) -> float:
    """Factor to multiply baseline seconds by before comparing: >1 when this machine is slower."""
    if baseline_score <= 0 or current_score <= 0:
        raise ValueError(
            f"calibration scores must be positive, got {baseline_score!r} and {current_score!r}"
        )
    return current_score / baseline_score


@dataclass(frozen=True)
class MachineComparison:
    """How timings recorded on the baseline's machine may be compared with this session's.

    ``mode`` is ``"same_machine"`` (compare seconds, rescaled by ``scale`` for speed drift),
    ``"calibrated"`` (another machine; seconds rescaled by ``scale``) or ``"counters_only"``
    (seconds are not comparable; only deterministic counters gate). ``scale_uncertainty`` is the
    relative error of ``scale`` to add to the noise allowance; ``reason`` is one sentence for the
    report.
    """

    mode: str
    scale: float
    scale_uncertainty: float
    reason: str


def compare_machines(
    baseline_machine: Mapping[str, Any] | None,
    baseline_calibration: CalibrationResult | None,
    current_machine: Mapping[str, Any],
    current_calibration: CalibrationResult | None,
) -> MachineComparison:
    """Decide whether (and how) seconds from the baseline's session may be compared with ours.

    Same hardware id: seconds are compared as they are, unless a trustworthy calibration says the
    machine's speed moved by more than ``SAME_MACHINE_DEADBAND`` (then they are rescaled); a
    smaller calibration ratio is mostly the calibration's own noise. Other hardware: seconds are
    rescaled by the calibration ratio only if it is trustworthy — both calibrations steady
    (spread ≤ 5%), the machines within a factor of 4, and the DuckDB and Python parts agreeing on
    the factor within 25% — otherwise only deterministic counters gate. Never silent: every
    outcome carries a reason.
    """
    same = baseline_machine is not None and baseline_machine.get("id") == current_machine.get("id")
    problem = _calibration_problem(baseline_calibration, current_calibration)
    if same:
        if problem is not None or baseline_calibration is None or current_calibration is None:
            return MachineComparison(
                "same_machine", 1.0, 0.0, f"same machine; seconds compared unscaled ({problem})"
            )
        scale = calibration_scale(baseline_calibration.score_s, current_calibration.score_s)
        if abs(math.log(scale)) <= math.log1p(SAME_MACHINE_DEADBAND):
            return MachineComparison(
                "same_machine",
                1.0,
                0.0,
                f"same machine; calibration ×{scale:.3f} is within ±"
                f"{SAME_MACHINE_DEADBAND:.0%}: seconds compared unscaled",
            )
        return MachineComparison(
            "same_machine",
            scale,
            _scale_uncertainty(baseline_calibration, current_calibration),
            f"same machine running at another speed; seconds rescaled by calibration ×{scale:.3f}",
        )
    where = "unknown machine" if baseline_machine is None else "another machine"
    if problem is not None or baseline_calibration is None or current_calibration is None:
        return MachineComparison(
            "counters_only",
            1.0,
            0.0,
            f"baseline recorded on {where} and {problem}: only deterministic counters gate",
        )
    scale = calibration_scale(baseline_calibration.score_s, current_calibration.score_s)
    return MachineComparison(
        "calibrated",
        scale,
        _scale_uncertainty(baseline_calibration, current_calibration),
        f"baseline recorded on {where}; seconds rescaled by calibration ×{scale:.3f}",
    )


def _calibration_problem(
    baseline: CalibrationResult | None, current: CalibrationResult | None
) -> str | None:
    """Why the calibration ratio cannot be trusted, or None when it can."""
    if baseline is None or current is None:
        return "no calibration on " + ("the baseline" if baseline is None else "this run")
    for label, cal in (("baseline", baseline), ("current", current)):
        if cal.score_s <= 0:
            return f"{label} calibration score is not positive"
        if cal.spread > CALIBRATION_MAX_SPREAD:
            return (
                f"{label} calibration too noisy ({cal.spread:.0%} spread >"
                f" {CALIBRATION_MAX_SPREAD:.0%})"
            )
    scale = current.score_s / baseline.score_s
    if not 1 / CALIBRATION_MAX_SCALE <= scale <= CALIBRATION_MAX_SCALE:
        return f"machines differ by ×{scale:.2f}, beyond ×{CALIBRATION_MAX_SCALE:g}"
    if min(baseline.duckdb_s, baseline.python_s, current.duckdb_s, current.python_s) > 0:
        duck = current.duckdb_s / baseline.duckdb_s
        py = current.python_s / baseline.python_s
        if abs(duck / py - 1) > CALIBRATION_PART_AGREEMENT:
            return (
                f"DuckDB (×{duck:.2f}) and Python (×{py:.2f}) calibration parts disagree on the"
                " speed factor"
            )
    return None


def _scale_uncertainty(baseline: CalibrationResult, current: CalibrationResult) -> float:
    """Relative error of the ratio of two calibration medians.

    The rounds' spread gives the median's error within each run (about 1.25·σ/√n); runs in fresh
    processes differ by more than that, so ``CALIBRATION_REPRODUCIBILITY`` is the floor.
    """
    nb = max(len(baseline.samples_s), 1)
    nc = max(len(current.samples_s), 1)
    within = 1.25 * math.sqrt(baseline.spread**2 / nb + current.spread**2 / nc)
    return max(within, CALIBRATION_REPRODUCIBILITY)


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


def machine_fingerprint() -> dict[str, Any]:
    """Describe this machine for baselines: cpu, cores, python, duckdb, platform and a stable id.

    The ``id`` hashes the hardware fields only (CPU model, logical cores, architecture), so a
    Python or DuckDB upgrade keeps the same id — the versions are recorded for the report to
    explain a change, not to decide comparability.
    """
    import os

    try:
        import duckdb

        duckdb_version: str | None = str(duckdb.__version__)
    except ImportError:  # pragma: no cover - duckdb is a dependency
        duckdb_version = None
    cpu = _cpu_model()
    cores = os.cpu_count() or 1
    arch = platform.machine()
    ident = hashlib.sha256(f"{cpu}|{cores}|{arch}".encode()).hexdigest()[:12]
    return {
        "id": ident,
        "cpu": cpu,
        "cores": cores,
        "arch": arch,
        "python": platform.python_version(),
        "duckdb": duckdb_version,
        "platform": platform.platform(),
    }
