"""Realistic run reports (ARCHITECTURE.md shape) and histories built from them.

A report here is what the plugin would write after a five-year workforce simulation: two tests,
three dbt-like components, five simulation years, five timing samples per phase, memory that grows
year over year, SLAs per component. Runs get multiplicative noise; a history can carry a step
change (a component getting slower from one run on) so trend and dashboard tests have something
real to find.
"""

from __future__ import annotations

import math
import random
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_simperf import history

TESTS = (
    "tests/perf/test_pipeline.py::test_yearly_events",
    "tests/perf/test_pipeline.py::test_workforce_snapshots",
)
COMPONENTS = {"int_hires": 0.06, "fct_yearly_events": 0.21, "scd_workforce_state": 0.35}
SLAS = {"int_hires": 0.5, "fct_yearly_events": 0.6, "scd_workforce_state": 1.2}
YEARS = (2025, 2026, 2027, 2028, 2029)
THRESHOLDS = (15.0, 30.0, 50.0)

Factor = Callable[[str, str, "int | None"], float]


def _classify(change: float | None) -> str:
    if change is None:
        return "NEW"
    minor, major, critical = THRESHOLDS
    if change > critical:
        return "CRITICAL"
    if change > major:
        return "MAJOR"
    if change > minor:
        return "MINOR"
    if change < -minor:
        return "IMPROVED"
    return "OK"


def _sla(median: float, limit: float | None) -> tuple[str | None, str | None]:
    if limit is None:
        return None, None
    used = median / limit
    status = "SLA_BREACH" if used > 1 else "SLA_WARNING" if used > 0.8 else "WITHIN_SLA"
    category = (
        "EXCELLENT"
        if used <= 0.5
        else "GOOD"
        if used <= 0.8
        else "POOR"
        if used <= 1
        else "CRITICAL"
    )
    return status, category


def build_report(
    *,
    started_at: datetime,
    seed: int = 0,
    noise: float = 0.03,
    factor: Factor | None = None,
    memory_factor: Factor | None = None,
    tests: tuple[str, ...] = TESTS,
    components: Mapping[str, float] = COMPONENTS,
    years: tuple[int | None, ...] = YEARS,
    slas: Mapping[str, float] = SLAS,
    with_baseline: bool = True,
    commit: str | None = "3f9c2e1a7b",
    dirty: bool = False,
    fail_on: str = "MINOR",
    baselines: Mapping[str, list[Any]] | None = None,
    metric: str | None = "wall",
    cpu_factor: Factor | None = None,
) -> dict[str, Any]:
    """One run report; ``factor(nodeid, component, year)`` scales the true time of a phase.

    ``metric`` is the figure the verdict judged (``wall`` or ``cpu``; None: a report from before
    the verdict named it). CPU time is 93% of wall, times ``cpu_factor`` when given: a load
    spike moves wall time and leaves CPU time alone.
    """
    rng = random.Random(seed)
    test_entries = []
    for t_index, nodeid in enumerate(tests):
        phases = []
        worst = "OK"
        for name, base in components.items():
            cumulative = 0.0
            previous = None
            for y_index, year in enumerate(years):
                true_base = base * (1 + 0.12 * y_index) * (1 + 0.3 * t_index)
                scale = factor(nodeid, name, year) if factor else 1.0
                centre = true_base * scale * math.exp(rng.gauss(0, noise))
                samples = sorted(centre * math.exp(rng.gauss(0, noise / 2)) for _ in range(5))
                median = samples[2]
                baseline = true_base if with_baseline else None
                cpu = median * 0.93 * (cpu_factor(nodeid, name, year) if cpu_factor else 1.0)
                base_cpu = baseline * 0.93 if baseline else None
                if metric == "cpu":
                    value, base_value = cpu, base_cpu
                else:
                    value, base_value = median, baseline
                change = (value / base_value - 1) * 100 if base_value else None
                severity = _classify(change)
                mem_scale = memory_factor(nodeid, name, year) if memory_factor else 1.0
                peak = (180 + 25 * y_index) * mem_scale * math.exp(rng.gauss(0, 0.01))
                base_peak = 180 + 25 * y_index if with_baseline else None
                mem_change = (peak / base_peak - 1) * 100 if base_peak else None
                status, category = _sla(median, slas.get(name))
                cumulative += median
                rows = 10_000 + 700 * y_index
                phases.append(
                    {
                        "name": name,
                        "year": year,
                        "rounds": 5,
                        "samples_s": samples,
                        "median_s": median,
                        "cpu_s": cpu,
                        "baseline_cpu_s": base_cpu,
                        "time_metric": None
                        if metric is None
                        else "cpu"
                        if metric == "cpu"
                        else "wall",
                        **(
                            {}
                            if metric is None
                            else {"metric": metric, "value": value, "baseline_value": base_value}
                        ),
                        "baseline_median_s": baseline,
                        "change_pct": change,
                        "severity": severity,
                        "p_value": 0.001 if severity in ("MINOR", "MAJOR", "CRITICAL") else 0.4,
                        "noise_pct": noise * 100,
                        "comparison": "same_machine" if with_baseline else None,
                        "peak_rss_mb": peak,
                        "baseline_peak_rss_mb": base_peak,
                        # what the region itself added: what the memory SLA limits
                        "peak_alloc_mb": peak - 150,
                        "baseline_peak_alloc_mb": None if base_peak is None else base_peak - 150,
                        "memory_change_pct": mem_change,
                        "memory_severity": _classify(mem_change),
                        "duckdb_peak_buffer_mb": peak / 10,
                        "rows": rows,
                        "rows_per_s": rows / median,
                        "rows_scanned": rows * 3,
                        "baseline_rows_scanned": rows * 3,
                        "intermediate_rows": rows * 2,
                        "baseline_intermediate_rows": rows * 2,
                        "plan_changed": False,
                        "sla_seconds": slas.get(name),
                        "sla_memory_mb": 1000.0,
                        "sla_status": status,
                        "sla_category": category,
                        "yoy_change_pct": (median / previous - 1) * 100 if previous else None,
                        "cumulative_s": cumulative,
                        "why": f"median {median:.3f} s vs baseline {baseline} s",
                    }
                )
                previous = median
                if history.SEVERITY_ORDER.index(severity) > history.SEVERITY_ORDER.index(worst):
                    worst = severity
        failed = any(
            p["sla_status"] == "SLA_BREACH" or p["severity"] in ("MINOR", "MAJOR", "CRITICAL")
            for p in phases
        )
        test_entries.append(
            {
                "nodeid": nodeid,
                "outcome": "failed" if failed else "passed",
                "severity": worst,
                "sla_status": None,
                "baseline_file": "baselines/tests/perf/test_pipeline.json",
                "failed_reasons": [],
                "summary": {"total_s": sum(p["median_s"] for p in phases)},
                "growth": [],
                "phases": phases,
            }
        )
    finished = started_at + timedelta(seconds=42)
    return {
        "schema_version": 1,
        "run": {
            "started_at": started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": finished.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": 42.0,
            "git_commit": commit,
            "git_dirty": dirty,
            "machine": {
                "id": "3f2a9c01",
                "cpu": "Test CPU",
                "cores": 2,
                "python": "3.11.7",
                "duckdb": "2.0.0",
                "platform": "Linux",
            },
            "calibration_s": 0.0123,
            "duckdb_threads": 1,
            "xdist_workers": 0,
            "options": {
                "fail_on": fail_on,
                "thresholds": list(THRESHOLDS),
                "update_baseline": False,
                "quick": False,
            },
            "exit_status": 1 if any(t["outcome"] == "failed" for t in test_entries) else 0,
        },
        "tests": test_entries,
        "baselines": dict(
            baselines or {"created": [], "updated": [], "unchanged": [], "stale": [], "errors": []}
        ),
        "sla_definitions": {
            name: {"seconds": limit, "warning_seconds": None, "memory_mb": None}
            for name, limit in slas.items()
        },
    }


@dataclass
class BuiltHistory:
    """A history file and what went into it (runs oldest first)."""

    path: Path
    run_ids: list[str] = field(default_factory=list)
    started: list[datetime] = field(default_factory=list)
    step_run: int | None = None
    #: (nodeid, component, year) of the series that steps
    step_series: tuple[str, str, int] = ("", "", 0)


STEP_TEST = TESTS[0]
STEP_COMPONENT = "fct_yearly_events"
STEP_YEAR = 2029


def build_history(
    path: Path, *, runs: int = 24, step_at: int | None = 14, step: float = 1.6, seed: int = 11
) -> BuiltHistory:
    """``runs`` runs a day apart ending an hour ago; from ``step_at`` on one phase is slower."""
    now = history._utcnow().replace(microsecond=0)
    built = BuiltHistory(
        path=path, step_run=step_at, step_series=(STEP_TEST, STEP_COMPONENT, STEP_YEAR)
    )
    for i in range(runs):
        started = now - timedelta(days=runs - 1 - i, hours=1)

        def factor(nodeid: str, component: str, year: int | None, i: int = i) -> float:
            stepped = step_at is not None and i >= step_at
            if stepped and (nodeid, component, year) == (STEP_TEST, STEP_COMPONENT, STEP_YEAR):
                return step
            return 1.0

        report = build_report(started_at=started, seed=seed * 1000 + i, factor=factor)
        built.run_ids.append(history.record_run(path, report))
        built.started.append(started)
    return built


@pytest.fixture
def make_report() -> Callable[..., dict[str, Any]]:
    return build_report


@pytest.fixture(scope="session")
def shared_history(tmp_path_factory: pytest.TempPathFactory) -> BuiltHistory:
    """A 24-run history with a step; read-only for the tests that use it."""
    return build_history(tmp_path_factory.mktemp("shared") / "history.duckdb")


# --------------------------------------------------------------------------------------------
# Headless Chromium for the dashboard test
# --------------------------------------------------------------------------------------------

CHROMIUM_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def _find_chromium() -> str | None:
    for name in CHROMIUM_CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _install_chromium() -> str:
    """apt-get install chromium when we are root on Debian; the reason when we cannot."""
    import os

    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "chromium is not installed and installing it needs root"
    if shutil.which("apt-get") is None:
        return "chromium is not installed and there is no apt-get to install it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"`{' '.join(command)}` failed: {' / '.join(tail)}"
    return ""


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of a headless-capable Chromium, installed once per session if missing."""
    found = _find_chromium()
    if found:
        return found
    reason = _install_chromium()
    found = _find_chromium()
    if found:
        return found
    pytest.skip(f"headless Chromium unavailable: {reason or 'installed but not on PATH'}")
