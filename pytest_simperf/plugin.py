"""pytest hooks for pytest-simperf. Thin on purpose: logic lives in modules without pytest.

Importing this module is cheap (no duckdb, no dbt): ``pytest --help`` in a project that never
runs a performance test should not pay for them.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Generator
from typing import Any

import pytest

from pytest_simperf.errors import SimperfError, UsageError
from pytest_simperf.markers import (
    SIMPERF_SIGNATURE,
    SLA_SIGNATURE,
    SlaMarker,
    TestOptions,
    default_test_options,
    parse_simperf,
    parse_sla,
)
from pytest_simperf.options import add_options, resolve_settings

# Feature plugins: each owns its hooks, options and fixtures.
pytest_plugins: list[str] = [
    "pytest_simperf.dbt.plugin",
    "pytest_simperf.benchcompat.plugin",
    "pytest_simperf.workforce.plugin",
    "pytest_simperf.scaling_plugin",
]

SKIP_REASON = (
    "performance test: skipped without --simperf (run `pytest --simperf` to measure it and "
    "compare with baselines)"
)
PERF_FIXTURES = frozenset({"simperf"})


@dataclasses.dataclass(frozen=True)
class ItemSpec:
    """What the markers of one test say, parsed once at collection."""

    is_perf: bool
    uses_fixture: bool
    options: TestOptions
    slas: tuple[SlaMarker, ...]


SESSION_KEY: pytest.StashKey[Any] = pytest.StashKey()
SPEC_KEY = pytest.StashKey[ItemSpec]()
RESULT_KEY = pytest.StashKey[Any]()
REPORT_KEY = pytest.StashKey[dict[str, Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", SLA_SIGNATURE)
    config.addinivalue_line("markers", SIMPERF_SIGNATURE)
    try:
        settings = resolve_settings(config)
    except UsageError as exc:
        raise pytest.UsageError(f"pytest-simperf: {exc}") from None
    from pytest_simperf.session import SimperfSession

    worker = getattr(config, "workerinput", None)
    session = SimperfSession(
        settings, config.rootpath, worker_id=None if worker is None else worker["workerid"]
    )
    config.stash[SESSION_KEY] = session
    config.pluginmanager.register(OutcomeHooks(session), "simperf-outcomes")
    if config.pluginmanager.hasplugin("xdist") and worker is None:
        config.pluginmanager.register(XdistHooks(session), "simperf-xdist")


class OutcomeHooks:
    """Records each perf test's final outcome, after our own failures were applied."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when == "call":
            self.session.set_outcome(report.nodeid, report.outcome)
        elif report.failed:
            self.session.set_outcome(report.nodeid, "error")


class XdistHooks:
    """Registered on the xdist controller only: merge each worker's results as they arrive."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.alive: set[str] = set()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        # Each judged test travels with its report, so a worker that crashes later loses nothing
        # it already judged. Before OutcomeHooks, which needs the test to be known.
        payload = getattr(report, "simperf_payload", None)
        if payload:
            self.session.merge_worker(json.loads(payload))

    @pytest.hookimpl
    def pytest_testnodeready(self, node: Any) -> None:
        # Workers at once, not workers ever started: a crashed worker is replaced.
        self.alive.add(node.gateway.id)
        self.session.xdist_workers = max(self.session.xdist_workers, len(self.alive))

    @pytest.hookimpl
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        payload = getattr(node, "workeroutput", {}).get("simperf")
        self.alive.discard(node.gateway.id)
        if payload:
            self.session.merge_worker(json.loads(payload))
        elif error:
            self.session.worker_errors.append(f"worker {node.gateway.id} crashed: {error}")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Parse markers (errors name the test), note every test, skip perf tests without --simperf."""
    from pytest_simperf.session import get_session

    session = get_session(config)
    settings = session.settings
    errors: list[str] = []
    perf: list[str] = []
    for item in items:
        try:
            spec = _item_spec(item, settings)
        except UsageError as exc:
            errors.append(str(exc))
            continue
        item.stash[SPEC_KEY] = spec
        if spec.is_perf:
            perf.append(item.nodeid)
            if not settings.enabled:
                item.add_marker(pytest.mark.skip(reason=SKIP_REASON))
    if errors:
        raise pytest.UsageError("pytest-simperf: invalid marker\n  " + "\n  ".join(errors))
    session.note_collected((item.nodeid for item in items), perf=perf)


def _item_spec(item: pytest.Item, settings: Any) -> ItemSpec:
    where = item.nodeid
    slas = tuple(parse_sla(m.args, m.kwargs, where) for m in item.iter_markers("sla"))
    simperf_marks = list(item.iter_markers("simperf"))
    options = (
        parse_simperf(simperf_marks[0].args, simperf_marks[0].kwargs, where, settings)
        if simperf_marks
        else default_test_options(settings)
    )
    fixturenames = set(getattr(item, "fixturenames", ()))
    uses_fixture = bool(fixturenames & PERF_FIXTURES)
    return ItemSpec(
        is_perf=bool(slas or simperf_marks or uses_fixture),
        uses_fixture=uses_fixture,
        options=options,
        slas=slas,
    )


@pytest.fixture
def simperf(request: pytest.FixtureRequest) -> Any:
    """Measure regions of a performance test: ``measure(fn)``, ``phase(name, year=)``,
    ``track(con)``, ``record(name, samples_s=)``. Tests using it are skipped without --simperf."""
    from pytest_simperf.fixtures import Simperf
    from pytest_simperf.session import get_session

    spec = request.node.stash.get(SPEC_KEY, None)
    session = get_session(request.config)
    options = spec.options if spec is not None else default_test_options(session.settings)
    return Simperf(session.context_for(request.node.nodeid, options))


@pytest.fixture
def duckdb_con(request: pytest.FixtureRequest) -> Generator[Any, None, None]:
    """An in-memory DuckDB connection, threads pinned for stable timings, tracked by simperf."""
    import duckdb

    from pytest_simperf.fixtures import prepare_connection

    raw = duckdb.connect(":memory:")
    try:
        yield prepare_connection(request, raw)
    finally:
        raw.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    spec = item.stash.get(SPEC_KEY, None)
    from pytest_simperf.session import get_session

    session = get_session(item.config)
    if spec is None or not spec.is_perf or not session.settings.enabled:
        return (yield)
    from pytest_simperf.results import PhaseRecord

    try:
        if spec.uses_fixture:
            result = yield
        else:
            clock = time_clock()
            with session.memory.region() as region:
                t0 = clock()
                result = yield
                elapsed = clock() - t0
            session.add_record(
                item.nodeid,
                spec.options,
                PhaseRecord(
                    name="call",
                    year=None,
                    samples_s=[elapsed],
                    source="call",
                    start_rss_mb=region.start_mb,
                    peak_rss_mb=region.peak_mb,
                ),
            )
    except BaseException:
        session.finish_test(item.nodeid, spec.options, list(spec.slas))
        session.tests.pop(item.nodeid, None)
        raise
    try:
        judged = session.finish_test(item.nodeid, spec.options, list(spec.slas))
    except SimperfError as exc:
        raise pytest.fail.Exception(f"pytest-simperf: {exc}", pytrace=False) from None
    if judged is not None:
        item.stash[RESULT_KEY] = judged
        report = judged.report
        item.user_properties.extend(
            [
                ("simperf_severity", report["severity"]),
                ("simperf_sla_status", report["sla_status"] or ""),
                ("simperf_baseline", report["baseline_status"]),
                ("simperf_phases", json.dumps(_junit_phases(report), sort_keys=True)),
            ]
        )
        session.queue_baseline(item.nodeid)
    return result


def time_clock() -> Any:
    import time

    return time.perf_counter


def _junit_phases(report: dict[str, Any]) -> list[dict[str, Any]]:
    keep = ("name", "year", "median_s", "baseline_median_s", "change_pct", "severity", "sla_status")
    return [{k: p[k] for k in keep} for p in report["phases"]]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call":
        return report
    judged = item.stash.get(RESULT_KEY, None)
    if judged is None:
        return report
    report.sections.append(("simperf", judged.section))
    if report.passed and judged.failures:
        report.outcome = "failed"
        report.longrepr = "pytest-simperf:\n" + "\n".join(f"  {f}" for f in judged.failures)
    if getattr(item.config, "workerinput", None) is not None:
        from pytest_simperf.session import get_session

        # xdist serialises report attributes: the controller merges this in XdistHooks.
        report.simperf_payload = json.dumps(  # type: ignore[attr-defined]
            get_session(item.config).test_payload(item.nodeid)
        )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from pytest_simperf.session import get_session

    config = session.config
    simperf = get_session(config)
    if not simperf.settings.enabled:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["simperf"] = json.dumps(simperf.worker_payload())
        return
    report = simperf.finish(int(exitstatus))
    config.stash[REPORT_KEY] = report
    from pytest_simperf.report.outputs import write_outputs

    report["output_errors"] = write_outputs(report, simperf.settings)


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    report = config.stash.get(REPORT_KEY, None)
    if report is None:
        return
    from pytest_simperf.report.terminal import render_summary

    terminalreporter.write_sep("=", "pytest-simperf")
    for line in render_summary(report).splitlines():
        terminalreporter.write_line(line)
