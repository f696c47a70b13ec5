"""The session object: per-test contexts, judging, baseline updates, reports, xdist merging.

One ``SimperfSession`` per pytest process, found through ``config.stash`` (``get_session``).
It does not import pytest; the plugin feeds it node ids, markers and outcomes. Under
pytest-xdist each worker judges its own tests and sends a JSON-safe payload to the controller,
which alone writes baselines, reports and history — once.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pytest_simperf import baseline as baseline_mod
from pytest_simperf.calibration import (
    CalibrationResult,
    MachineComparison,
    compare_machines,
    machine_fingerprint,
    run_calibration,
)
from pytest_simperf.child import ChildResult, ChildSpec, region_label, run_child
from pytest_simperf.errors import BaselineError
from pytest_simperf.fixtures import TestContext
from pytest_simperf.markers import SlaMarker, TestOptions, effective_sla
from pytest_simperf.measure import (
    MemoryTracker,
    default_memory_reader,
    process_cpu_count,
    runqueue_wait_clock,
)
from pytest_simperf.multiyear import annotate_years, summarize_test
from pytest_simperf.options import Settings, thresholds_percent
from pytest_simperf.report.reasons import worst_first
from pytest_simperf.report.terminal import NOT_JUDGED, fmt_seconds, judged_cells
from pytest_simperf.results import PhaseRecord, TestCollector
from pytest_simperf.stats import MEASURED_DRIFT_SESSIONS, median, severity_rank
from pytest_simperf.valgrind import RegionCounter, instruction_env, valgrind_problem
from pytest_simperf.verdict import SLA_ORDER, fails, judge_phase, worst

#: Longest a counting child (valgrind) may run for one batch of tests before it is stopped.
INSTRUCTIONS_TIMEOUT_S = 3600.0
#: Longest a fresh-process confirmation of one test may run.
CONFIRM_TIMEOUT_S = 1800.0

REPORT_SCHEMA_VERSION = 1


def get_session(config: Any) -> SimperfSession:
    """The session object of a pytest config, created on first use when ``--simperf`` is off."""
    from pytest_simperf.plugin import simperf_session

    return simperf_session(config)


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def git_state(root: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the repository at ``root``, or (None, None) outside git."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


@dataclasses.dataclass
class TestResult:
    """The judged outcome of one test: its report dict and why it fails, if it does."""

    __test__ = False

    report: dict[str, Any]
    failures: list[str]
    section: str


class SimperfSession:
    """State of pytest-simperf for one pytest process."""

    def __init__(
        self,
        settings: Settings,
        rootpath: Path,
        *,
        worker_id: str | None = None,
        calibrate: Callable[[], CalibrationResult] | None = None,
        fingerprint: Callable[[], dict[str, Any]] = machine_fingerprint,
        memory: MemoryTracker | None = None,
    ) -> None:
        self.settings = settings
        self.rootpath = rootpath
        self.worker_id = worker_id
        self.store = baseline_mod.BaselineStore(settings.baseline_dir)
        self.started_at = _now()
        self._t0 = time.monotonic()
        # Calibrated on CPU time, the clock the gate compares (see verdict.time_metric).
        self._calibrate = calibrate or (lambda: run_calibration(clock=time.process_time))
        self._fingerprint = fingerprint
        self._machine: dict[str, Any] | None = None
        self._calibration: CalibrationResult | None = None
        self._calibrated = False
        self._memory = memory
        self._wait_clock = runqueue_wait_clock()
        self._collectors: dict[str, TestCollector] = {}
        self._contexts: dict[str, TestContext] = {}
        self.tests: dict[str, dict[str, Any]] = {}
        self._judged: dict[str, TestResult] = {}
        self.queued: dict[str, dict[str, Any]] = {}
        self.known_nodeids: set[str] = set()
        self.modules: set[str] = set()
        self.perf_nodeids: set[str] = set()
        self.xdist_workers = 0
        self.worker_errors: list[str] = []
        self.cores = process_cpu_count()
        # How to start this pytest again (instruction counts, fresh-process confirmation).
        self.child_spec: ChildSpec | None = None
        # Perf tests counted together in one valgrind child: node id -> its batch.
        self.count_batches: dict[str, list[str]] = {}
        self._child_runs: dict[str, ChildResult] = {}
        self.instructions_problem: str | None = None
        self.instructions_seconds = 0.0
        self.instruction_runs = 0
        self.confirm_runs = 0
        # In a counting child: the region counter; in any child: what it reports.
        self.counter: RegionCounter | None = None
        # Says what a long child run is doing (the plugin writes it to the terminal).
        self.progress: Callable[[str], None] = lambda message: None
        self.child_tests: dict[str, dict[str, Any]] = {}
        self._instruction_env: dict[str, str] | None = None

    # -- machine --------------------------------------------------------------------------

    @property
    def machine(self) -> dict[str, Any]:
        if self._machine is None:
            self._machine = self._fingerprint()
            self._machine["duckdb_threads"] = self.settings.duckdb_threads
        return self._machine

    @property
    def calibration(self) -> CalibrationResult | None:
        """This process's calibration, run once on first need (about 0.1 s)."""
        if not self._calibrated:
            self._calibrated = True
            if self.settings.calibrate:
                self._calibration = self._calibrate()
        return self._calibration

    @property
    def memory(self) -> MemoryTracker:
        if self._memory is None:
            self._memory = MemoryTracker(default_memory_reader())
        return self._memory

    # -- collection ---------------------------------------------------------------------------

    def note_collected(self, nodeids: Iterable[str], *, perf: Iterable[str] = ()) -> None:
        """Remember which tests exist (selected or deselected): needed to call entries stale."""
        for nodeid in nodeids:
            self.known_nodeids.add(nodeid)
            self.modules.add(baseline_mod.module_key(nodeid)[0])
        self.perf_nodeids.update(perf)

    # -- one test -----------------------------------------------------------------------------

    def _comparability(self, entry: Mapping[str, Any] | None, module: str) -> MachineComparison:
        if entry is None:
            return MachineComparison("none", 1.0, 0.0, "no baseline")
        threads = entry.get("duckdb_threads", self.settings.duckdb_threads)
        if threads != self.settings.duckdb_threads:
            return MachineComparison(
                "threads_differ",
                1.0,
                0.0,
                f"baseline recorded with DuckDB threads={threads}, this run uses "
                f"{self.settings.duckdb_threads}: timings, memory and counters are not "
                "comparable; use the same --simperf-duckdb-threads or re-record",
                memory=False,
            )
        machine = self.store.machine(str(entry.get("machine")), module)
        cores = entry.get("cores")
        return compare_machines(
            machine,
            self.machine,
            baseline_cores=int(cores) if isinstance(cores, int) else None,
            current_cores=self.cores,
        )

    @property
    def instruction_env(self) -> dict[str, str]:
        if self._instruction_env is None:
            self._instruction_env = instruction_env(
                self.machine.get("duckdb"), self.settings.duckdb_threads
            )
        return self._instruction_env

    def _count_instructions(self, nodeid: str, records: list[PhaseRecord]) -> None:
        """Attach each record's instruction count from a valgrind child (run once per batch)."""
        if not self.settings.instructions or self.settings.child_dir is not None:
            return
        if self.child_spec is None:
            self.instructions_problem = "no way to start a child pytest here"
        elif self.instructions_problem is None:
            self.instructions_problem = valgrind_problem()
        note = self.instructions_problem
        counts: dict[str, list[int]] = {}
        if note is None and self.child_spec is not None:
            batch = self.count_batches.get(nodeid) or [nodeid]
            key = batch[0]
            result = self._child_runs.get(key)
            if result is None:
                self.progress(
                    f"pytest-simperf: counting the instructions of {len(batch)} test(s) of "
                    f"{key.partition('::')[0]} under valgrind (one child process)"
                )
                result = run_child(
                    self.child_spec,
                    "instructions",
                    batch,
                    timeout_s=INSTRUCTIONS_TIMEOUT_S,
                    valgrind="valgrind",
                )
                self.instructions_seconds += result.seconds
                self.instruction_runs += 1
                # Kept for the session: with a random test order, modules interleave.
                self._child_runs[key] = result
            counts, note = result.instructions(nodeid)
        for record in records:
            values = counts.get(record.key)
            if values:
                record.instructions = int(median(values))
            elif record.source == "record":
                record.meta["instructions_note"] = (
                    "recorded with simperf.record() (dbt, pytest-benchmark): not counted"
                )
            else:
                record.meta["instructions_note"] = note or "the counting run did not reach it"
            if values and note:
                record.meta["instructions_note"] = note

    def _confirm_in_fresh_process(self, nodeid: str, records: list[PhaseRecord]) -> str | None:
        """Run the test again in a new interpreter; its rounds become the confirmation samples.

        Returns why it could not be done, or None.
        """
        if self.child_spec is None:
            return "no way to start a child pytest here"
        self.progress(f"pytest-simperf: confirming a slowdown of {nodeid} in a fresh process")
        result = run_child(self.child_spec, "confirm", [nodeid], timeout_s=CONFIRM_TIMEOUT_S)
        self.confirm_runs += 1
        if result.error is not None:
            return result.error
        test = result.tests.get(nodeid) or {}
        if test.get("outcome") != "passed":
            return f"the confirmation run {test.get('outcome', 'did not run')}: {test.get('error')}"
        fresh = test.get("records") or {}
        for record in records:
            data = fresh.get(record.key)
            if data and data.get("samples_s"):
                record.confirm_samples_s = [float(x) for x in data["samples_s"]]
                cpu = [float(x) for x in data.get("cpu_s") or []]
                record.confirm_cpu_s = cpu if len(cpu) == len(record.confirm_samples_s) else None
                record.meta["confirmed_in"] = "fresh process"
        return None

    def context_for(self, nodeid: str, options: TestOptions, **overrides: Any) -> TestContext:
        """The fixture's view of a test; created on the first measurement of the test."""
        if nodeid in self._contexts:
            return self._contexts[nodeid]
        if self.settings.child_dir is None:
            _ = self.calibration  # before the first measurement, not in the middle of the run
        collector = TestCollector(nodeid)
        module = baseline_mod.module_key(nodeid)[0]
        entry: dict[str, Any] | None
        try:
            skip = self.settings.update_baseline or self.settings.child_dir is not None
            entry = None if skip else self.store.entry(nodeid)
        except BaselineError:
            entry = None  # reported by finish_test, which fails the test
        context = TestContext(
            collector=collector,
            options=options,
            baseline=entry,
            comparability=self._comparability(entry, module),
            confirm=self.settings.confirm and not self.settings.update_baseline,
            duckdb_threads=self.settings.duckdb_threads,
            memory=self.memory,
            wait_clock=self._wait_clock,
            counter=self.counter,
            **overrides,
        )
        self._collectors[nodeid] = collector
        self._contexts[nodeid] = context
        return context

    def add_record(self, nodeid: str, options: TestOptions, record: PhaseRecord) -> None:
        """Record a region measured outside the fixture (the whole call of a marked test)."""
        self.context_for(nodeid, options).collector.add(record)

    def finish_test(
        self, nodeid: str, options: TestOptions, slas: list[SlaMarker]
    ) -> TestResult | None:
        """Judge a test's records; None when the test measured nothing."""
        context = self._contexts.pop(nodeid, None)
        self._collectors.pop(nodeid, None)
        if context is None:
            return None
        records = list(context.collector.phases.values())
        if self.settings.child_dir is not None:
            self._child_record(nodeid, records)
            return None
        if options.instructions:
            self._count_instructions(nodeid, records)
        else:
            for record in records:
                record.meta["instructions_note"] = "off for this test: simperf(instructions=False)"
        module = baseline_mod.module_key(nodeid)[0]
        baseline_file = self.store.path_for(module)
        failures: list[str] = []
        baseline_error: str | None = None
        try:
            self.store.file(module)
        except BaselineError as exc:
            baseline_error = str(exc)
            failures.append(baseline_error)
        entry = context.baseline
        threads_match = context.comparability.mode != "threads_differ"
        env = self.instruction_env if self.settings.instructions else None

        def judge_all() -> list[Any]:
            return [
                judge_phase(
                    record,
                    None if entry is None else entry.get("phases", {}).get(record.key),
                    options=options,
                    sla=effective_sla(record.name, slas, self.settings.component_slas),
                    comparability=context.comparability,
                    threads_match=threads_match,
                    instruction_env=env,
                )
                for record in records
            ]

        verdicts = judge_all()
        time_failing = [
            v
            for v in verdicts
            if v.time is not None
            and not v.time.confirmed
            and fails(v.time.severity, options.fail_on)
        ]
        if time_failing and context.confirm:
            problem = self._confirm_in_fresh_process(nodeid, records)
            if problem is not None:
                for verdict in time_failing:
                    verdict.record.meta["confirm_problem"] = problem
            verdicts = judge_all()
        phases = [v.to_json() for v in verdicts]
        growth = annotate_years(phases, growth_pct=self.settings.growth_pct)
        relpath = _relative(baseline_file, self.rootpath)
        accept = f"pytest --simperf-update-baseline '{nodeid}'"
        # Worst first (the report's table stays in phase order).
        ranked = sorted(zip(verdicts, phases, strict=True), key=lambda pair: worst_first(pair[1]))
        for verdict, phase in ranked:
            key = verdict.record.key
            for reason in verdict.sla.reasons:
                failures.append(f"SLA_BREACH in {key}: {reason}")
            if not self.settings.update_baseline and fails(verdict.severity, options.fail_on):
                failures.append(
                    f"{verdict.severity} regression in {key}: {phase['why']} "
                    f"[baseline {relpath}; fail-on {options.fail_on}]. "
                    f"If this change is intended, accept it with: {accept}"
                )
        if entry is None and not self.settings.update_baseline and baseline_error is None:
            status = "new"
        elif self.settings.update_baseline:
            status = "recorded"
        else:
            status = "compared"
        report = {
            "nodeid": nodeid,
            "outcome": "passed",
            "severity": worst([p["severity"] for p in phases]) if phases else "OK",
            "sla_status": _worst_sla(p["sla_status"] for p in phases),
            "baseline_file": relpath,
            "baseline_status": status,
            "comparison": context.comparability.mode,
            "comparison_reason": context.comparability.reason,
            "fail_on": options.fail_on,
            "thresholds": thresholds_percent(options.thresholds),
            "failed_reasons": list(failures),
            "summary": summarize_test(phases),
            "growth": growth,
            "phases": phases,
        }
        if all(p["severity"] == "NEW" for p in phases) and phases:
            report["severity"] = "NEW"
        self.tests[nodeid] = report
        judged = TestResult(report=report, failures=failures, section=_section(report))
        self._judged[nodeid] = judged
        return judged

    # -- child process ------------------------------------------------------------------------

    def _child_record(self, nodeid: str, records: list[PhaseRecord]) -> None:
        """In a child: keep what the parent needs, the rounds (confirm) or region ids (count)."""
        test = self.child_tests.setdefault(nodeid, {"outcome": "passed", "error": None})
        test["records"] = {
            r.key: {"samples_s": list(r.samples_s), "cpu_s": list(r.cpu_s)} for r in records
        }
        if self.counter is not None:
            prefix = region_label(nodeid, "")
            test["regions"] = {
                str(region_id): label[len(prefix) :]
                for region_id, label in self.counter.regions.items()
                if label.startswith(prefix)
            }

    def child_outcome(self, nodeid: str, outcome: str, error: str | None) -> None:
        """In a child: a test's outcome, for the parent to tell a count from a failed run."""
        test = self.child_tests.setdefault(nodeid, {"outcome": "passed", "error": None})
        if outcome != "passed" and test["outcome"] == "passed":
            test["outcome"], test["error"] = outcome, error

    def set_outcome(self, nodeid: str, outcome: str) -> None:
        """Final pytest outcome of a perf test (after our own failures were applied).

        A perf test that failed or errored before it was judged (its own assertion, a fixture,
        a setup error) has no report: it gets one with no phases and ``baseline_status``
        ``NOT_JUDGED``, so the summary counts it as failed rather than claiming 0 failed,
        and says what happened rather than that nothing was measured.
        """
        if nodeid not in self.tests and nodeid in self.perf_nodeids:
            if outcome not in ("failed", "error"):
                return
            self.tests[nodeid] = {
                "nodeid": nodeid,
                "outcome": outcome,
                "severity": None,
                "sla_status": None,
                "baseline_file": None,
                "baseline_status": NOT_JUDGED,
                "comparison": "none",
                "comparison_reason": None,
                "failed_reasons": [],
                "summary": None,
                "growth": [],
                "phases": [],
            }
            return
        if nodeid in self.tests:
            current = self.tests[nodeid]["outcome"]
            if current == "passed" or outcome in ("failed", "error"):
                self.tests[nodeid]["outcome"] = outcome

    def queue_baseline(self, nodeid: str) -> None:
        """Stage the baseline entry of a test whose own code passed (update mode)."""
        report = self.tests.get(nodeid)
        if report is None or not self.settings.update_baseline or not report["phases"]:
            return
        try:
            previous = self.store.entry(nodeid)
        except BaselineError:
            return  # reported; the unreadable file is left alone
        phases = {}
        for phase in report["phases"]:
            key = phase["name"] if phase["year"] is None else f"{phase['name']}@{phase['year']}"
            before = None if previous is None else previous.get("phases", {}).get(key)
            phases[key] = baseline_mod.phase_entry(
                phase, before, add_session=self.settings.add_session
            )
        calibration = self.calibration
        self.queued[nodeid] = {
            "machine": self.machine["id"],
            "duckdb_threads": self.settings.duckdb_threads,
            "cores": self.cores,
            "calibration": None if calibration is None else calibration.to_dict(),
            "recorded_at": _now(),
            "phases": phases,
        }

    def attach_extra(
        self,
        nodeid: str,
        name: str,
        *,
        report_data: Any,
        baseline_data: Any = None,
        failures: list[str] | None = None,
        severity: str | None = None,
    ) -> None:
        """Let a feature plugin (scaling, pytest-benchmark) add its own verdict to a judged test.

        ``report_data`` lands in the test's report under ``name``; ``baseline_data`` (update mode)
        in its baseline entry under ``name``; ``failures`` fail the test like ours do, and
        ``severity`` can raise the test's class. Call it after the core judged the test (from a
        ``pytest_runtest_call`` wrapper that runs outside the core's), before its report is made.
        """
        report = self.tests[nodeid]
        report[name] = report_data
        if severity is not None:
            report["severity"] = worst([report["severity"], severity])
        for failure in failures or []:
            report["failed_reasons"].append(failure)
            judged = self._judged.get(nodeid)
            if judged is not None and judged.failures is not report["failed_reasons"]:
                judged.failures.append(failure)
        if baseline_data is not None and nodeid in self.queued:
            self.queued[nodeid][name] = baseline_data

    # -- xdist --------------------------------------------------------------------------------

    def worker_payload(self) -> dict[str, Any]:
        """Everything the controller needs from a worker; JSON-safe."""
        return {
            "tests": self.tests,
            "queued": self.queued,
            "known": sorted(self.known_nodeids),
            "machine": self.machine if self.tests else None,
            "calibration": None if self._calibration is None else self._calibration.to_dict(),
            "children": {
                "instruction_seconds": self.instructions_seconds,
                "instruction_runs": self.instruction_runs,
                "instructions_problem": self.instructions_problem,
                "confirm_runs": self.confirm_runs,
            },
        }

    def test_payload(self, nodeid: str) -> dict[str, Any]:
        """One judged test, sent with its report so a later worker crash cannot lose it."""
        return {
            "tests": {nodeid: self.tests[nodeid]} if nodeid in self.tests else {},
            "queued": {nodeid: self.queued[nodeid]} if nodeid in self.queued else {},
        }

    def merge_worker(self, payload: Mapping[str, Any]) -> None:
        """Fold one worker's payload into the controller's state (never twice for a test)."""
        for nodeid, report in payload.get("tests", {}).items():
            self.tests.setdefault(nodeid, report)
        for nodeid, entry in payload.get("queued", {}).items():
            self.queued.setdefault(nodeid, entry)
        self.note_collected(payload.get("known", []))
        if payload.get("machine") and self._machine is None:
            self._machine = dict(payload["machine"])
        children = payload.get("children") or {}
        self.instructions_seconds += float(children.get("instruction_seconds") or 0.0)
        self.instruction_runs += int(children.get("instruction_runs") or 0)
        self.confirm_runs += int(children.get("confirm_runs") or 0)
        self.instructions_problem = self.instructions_problem or children.get(
            "instructions_problem"
        )
        if payload.get("calibration") and not self._calibrated:
            self._calibration = CalibrationResult.from_dict(payload["calibration"])
            self._calibrated = True

    # -- end of session -----------------------------------------------------------------------

    def finish(self, exit_status: int) -> dict[str, Any]:
        """Write baselines (update mode) and build the run report."""
        stale = self.store.stale(
            {baseline_mod.module_key(n)[0] for n in self.tests} | self.modules,
            self.known_nodeids,
        )
        stale = [n for n in stale if baseline_mod.module_key(n)[0] in self.modules]
        summary = baseline_mod.UpdateSummary(stale=list(stale))
        if self.settings.update_baseline and self.queued:
            for nodeid, entry in self.queued.items():
                self.store.queue(nodeid, entry, self.machine)
            written = self.store.flush(stale=stale)
            written.stale = list(stale)
            summary = written
        elif self.settings.update_baseline:
            summary.stale = list(stale)
        for report in self.tests.values():
            for reason in report["failed_reasons"]:
                if reason.startswith("baseline file") and reason not in summary.errors:
                    summary.errors.append(reason)
        baselines = summary.to_json()
        baselines["new"] = sorted(n for n, r in self.tests.items() if r["baseline_status"] == "new")
        baselines["few_sessions"] = sorted(
            nodeid
            for nodeid, entry in self.queued.items()
            if any(
                len(p.get("session_medians") or []) < MEASURED_DRIFT_SESSIONS
                for p in entry["phases"].values()
            )
        )
        commit, dirty = git_state(self.rootpath)
        calibration = self._calibration
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "run": {
                "started_at": self.started_at,
                "finished_at": _now(),
                "duration_s": time.monotonic() - self._t0,
                "git_commit": commit,
                "git_dirty": dirty,
                "machine": self.machine if self.tests else self._machine,
                "calibration_s": None if calibration is None else calibration.score_s,
                "calibration": None if calibration is None else calibration.to_dict(),
                "duckdb_threads": self.settings.duckdb_threads,
                "instructions": {
                    "enabled": self.settings.instructions,
                    "problem": self.instructions_problem,
                    "seconds": self.instructions_seconds,
                    "child_runs": self.instruction_runs,
                    "env": self.instruction_env if self.settings.instructions else None,
                },
                "confirm_runs": self.confirm_runs,
                "xdist_workers": self.xdist_workers,
                "worker_errors": list(self.worker_errors),
                "options": self.settings.options_json(),
                "exit_status": exit_status,
            },
            "tests": [self.tests[n] for n in sorted(self.tests)],
            "baselines": baselines,
            "sla_definitions": {
                name: sla.to_json() for name, sla in sorted(self.settings.component_slas.items())
            },
        }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _worst_sla(statuses: Iterable[str | None]) -> str | None:
    present = [s for s in statuses if s is not None]
    return max(present, key=SLA_ORDER.index) if present else None


def _section(report: Mapping[str, Any]) -> str:
    """The per-test report section shown by pytest (``-rA`` or on failure)."""
    lines = [
        f"comparison: {report['comparison_reason']}"
        if report["comparison"] not in ("none", "same_machine")
        else f"baseline: {report['baseline_file']} ({report['baseline_status']})"
    ]
    for phase in report["phases"]:
        key = phase["name"] if phase["year"] is None else f"{phase['name']}@{phase['year']}"
        change = "" if phase["change_pct"] is None else f" {phase['change_pct']:+.1f}%"
        sla = f" {phase['sla_status']}" if phase["sla_status"] else ""
        metric, now, then = judged_cells(phase)
        lines.append(
            f"{key}: {metric} {now} vs {then}{change} {phase['severity']}{sla} "
            f"(wall {fmt_seconds(phase['median_s'])}, n={phase['rounds']}) — {phase['why']}"
        )
    for flag in report["growth"]:
        lines.append(f"growth: {flag['detail']}")
    return "\n".join(lines)


def severity_fails(severity: str, fail_on: str) -> bool:
    """Re-exported for the plugin: does this class fail under ``fail_on``?"""
    return fails(severity, fail_on) and severity_rank(severity) > 0
