"""pytest hooks for the ``scaling`` marker: one instance per size, one growth verdict per test.

``@pytest.mark.scaling(employees=[...])`` parametrises the test (``test_x[scale=1000]``, …).
Each instance is measured and judged by the core like any other perf test; the workforce fixture
gets the instance's size through a ``workforce(employees=N)`` marker placed closest to the item,
so it needs to know nothing about scaling. When the last instance of a group (the largest size)
finishes and every selected instance ran in this process, the group is fitted and the verdict is
attached to that instance through ``SimperfSession.attach_extra`` — from a ``pytest_runtest_call``
wrapper outside the core's, so the core has judged the instance already and a regression fails
it like any other.

When the instances did not all run here first (pytest-xdist spread them over workers, or a plugin
reordered the tests) the last instance carries a ``deferred`` note instead, and the group is
fitted once, after the test loop, from the merged reports on the controller (or the single
process). The verdict then lands in the run report, the summary and the exit status; pytest's
own line for that instance, final before the group was complete, stays as it was.

The gate (``scaling_gate`` → ``scaling``, ``verdict``) is imported only when a ``scaling`` test is
collected: this module is loaded at every pytest start, so the marker's signature lives here,
where the marker is registered.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from pytest_simperf.errors import SimperfError, UsageError
from pytest_simperf.plugin import simperf_enabled, simperf_session

if TYPE_CHECKING:
    from pytest_simperf.scaling_gate import GroupVerdict, ScalingSpec
    from pytest_simperf.session import SimperfSession

#: The ``scaling`` marker's help text (``pytest --markers``); its parser is ``scaling_gate``.
SCALING_SIGNATURE = (
    "scaling(employees, metric='auto', max_class=None, exponent_margin=0.25): run the test "
    "once per size (counts or scale names, at least 3; the simperf_workforce fixture gets that "
    "size), fit how its cost grows and gate on the growth class and exponent stored in the "
    "baseline. metric: 'auto' (DuckDB's exact counters when recorded, else time), 'time', "
    "'rows_scanned', 'intermediate_rows', or a list. max_class fails the test outright when it "
    "grows faster (e.g. 'linear'). Marks the test as a performance test."
)
SIZE_FIXTURE = "simperf_scaling_size"
WORKFORCE_FIXTURE = "simperf_workforce"
REPORT_KEY = "scaling"


@dataclasses.dataclass(frozen=True)
class Instance:
    """One generated instance of a scaling test."""

    nodeid: str
    group: str
    size: int
    spec: ScalingSpec


class ScalingState:
    """Which instances exist, which ran in this process, and which groups were judged."""

    def __init__(self) -> None:
        self.groups: dict[str, list[Instance]] = {}
        self.done: set[str] = set()
        self.failed_after_run: list[str] = []

    def anchor(self, group: str) -> Instance:
        return max(self.groups[group], key=lambda inst: inst.size)


STATE_KEY = pytest.StashKey[ScalingState]()
INSTANCE_KEY = pytest.StashKey[Instance]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", SCALING_SIGNATURE)
    config.stash[STATE_KEY] = ScalingState()


def _spec(marker: pytest.Mark, where: str) -> ScalingSpec:
    from pytest_simperf.scaling_gate import parse_scaling

    try:
        return parse_scaling(marker.args, marker.kwargs, where)
    except UsageError as exc:
        message = str(exc)
    pytest.fail(f"pytest-simperf: invalid marker: {message}", pytrace=False)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """One instance per size, parametrising the fixture that carries the size."""
    marker = metafunc.definition.get_closest_marker("scaling")
    if marker is None:
        return
    where = metafunc.definition.nodeid
    spec = _spec(marker, where)
    if SIZE_FIXTURE in metafunc.fixturenames:
        argname = SIZE_FIXTURE
    elif WORKFORCE_FIXTURE in metafunc.fixturenames:
        argname = WORKFORCE_FIXTURE
    else:
        pytest.fail(
            f"pytest-simperf: invalid marker: {where}: a scaling test must use the "
            f"{WORKFORCE_FIXTURE} fixture (built at each size) or {SIZE_FIXTURE} (the size)",
            pytrace=False,
        )
    definition = metafunc.definition
    is_perf = (
        definition.get_closest_marker("sla") is not None
        or definition.get_closest_marker("simperf") is not None
        or "simperf" in metafunc.fixturenames
    )
    # Without a marker or the fixture the core would not treat the instances as perf tests.
    marks = [] if is_perf else [pytest.mark.simperf()]
    metafunc.parametrize(
        argname,
        [pytest.param(size, id=f"scale={size}", marks=marks) for size in spec.sizes],
        indirect=True,
    )


def _size_of(item: pytest.Item) -> int | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    for argname in (SIZE_FIXTURE, WORKFORCE_FIXTURE):
        if argname in callspec.params:
            value = callspec.params[argname]
            return value if isinstance(value, int) else None
    return None


def group_of(nodeid: str, size: int) -> str:
    """The id shared by a test's instances: ``test_x[scale=1000]`` → ``test_x[scale=*]``."""
    return re.sub(rf"(?<=[\[-])scale={size}(?=[\]-])", "scale=*", nodeid, count=1)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Note the instance; hand its size to the workforce fixture as the closest marker."""
    marker = item.get_closest_marker("scaling")
    size = _size_of(item)
    if marker is None or size is None:
        return
    spec = _spec(marker, item.nodeid)
    item.stash[INSTANCE_KEY] = Instance(item.nodeid, group_of(item.nodeid, size), size, spec)
    if WORKFORCE_FIXTURE in getattr(item, "fixturenames", ()):
        # The workforce plugin merges workforce markers closest-first per keyword: this one
        # sets the size and keeps years, seed, … from the test's own marker.
        item.add_marker(pytest.mark.workforce(employees=size), append=False)


@pytest.hookimpl(trylast=True)
def pytest_collection_finish(session: pytest.Session) -> None:
    """Group the selected instances (after deselection)."""
    state = session.config.stash[STATE_KEY]
    state.groups.clear()
    for item in session.items:
        instance = item.stash.get(INSTANCE_KEY, None)
        if instance is not None:
            state.groups.setdefault(instance.group, []).append(instance)


@pytest.fixture
def simperf_scaling_size(request: pytest.FixtureRequest) -> int:
    """The size (employees) of this instance of a ``scaling`` test."""
    instance: Instance | None = request.node.stash.get(INSTANCE_KEY, None)
    if instance is None:
        raise pytest.UsageError(
            f"pytest-simperf: {request.node.nodeid}: simperf_scaling_size is only available in "
            "tests marked @pytest.mark.scaling(employees=[...])"
        )
    return instance.size


def _judge(
    simperf: SimperfSession,
    spec: ScalingSpec,
    group: str,
    instances: list[tuple[int, str]],
    anchor: str,
) -> GroupVerdict:
    """Fit a group from the session's reports and judge it against the anchor's baseline."""
    from pytest_simperf.baseline import module_key
    from pytest_simperf.report.terminal import NOT_JUDGED
    from pytest_simperf.scaling_gate import judge_group

    settings = simperf.settings
    stored = None
    if not settings.update_baseline:
        try:
            entry = simperf.store.entry(anchor)
        except SimperfError:
            entry = None  # the core fails the test and names the file
        stored = None if entry is None else entry.get(REPORT_KEY)
    report = simperf.tests[anchor]
    # An instance that failed before a verdict is listed with no measurement: it has none.
    judged = {n: r for n, r in simperf.tests.items() if r.get("baseline_status") != NOT_JUDGED}
    base_nodeid = group.split("[", 1)[0]
    return judge_group(
        spec,
        group,
        [(size, judged.get(nodeid)) for size, nodeid in instances],
        baseline=stored,
        baseline_file=report.get("baseline_file") or str(module_key(anchor)[0]),
        update=settings.update_baseline,
        fail_on=report["fail_on"],
        accept=f"pytest --simperf-update-baseline '{base_nodeid}'",
    )


def _attach(simperf: SimperfSession, nodeid: str, verdict: GroupVerdict) -> None:
    simperf.attach_extra(
        nodeid,
        REPORT_KEY,
        report_data=verdict.report_data,
        baseline_data=verdict.baseline_data,
        failures=verdict.failures,
        severity=verdict.severity,
    )


def _junit_properties(data: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The group's verdict as JUnit properties: severity and, per metric, class and exponent."""
    fits = {
        metric: {k: entry["fit"][k] for k in ("class", "exponent")}
        for metric, entry in data.get("metrics", {}).items()
    }
    return [
        ("simperf_scaling_severity", str(data.get("severity") or "")),
        ("simperf_scaling", json.dumps(fits, sort_keys=True)),
    ]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    """Outside the core's wrapper: after the last instance was judged, judge the group."""
    instance = item.stash.get(INSTANCE_KEY, None)
    if instance is None:
        return (yield)
    state = item.config.stash[STATE_KEY]
    try:
        result = yield
    finally:
        state.done.add(item.nodeid)
    anchor = state.anchor(instance.group)
    if not simperf_enabled(item.config) or item.nodeid != anchor.nodeid:
        return result
    simperf = simperf_session(item.config)
    if item.nodeid not in simperf.tests:
        return result  # measured nothing: the core has no report to attach to
    members = sorted(state.groups[instance.group], key=lambda inst: inst.size)
    pairs = [(inst.size, inst.nodeid) for inst in members]
    if all(inst.nodeid in state.done for inst in members):
        verdict = _judge(simperf, instance.spec, instance.group, pairs, item.nodeid)
        _attach(simperf, item.nodeid, verdict)
        item.user_properties.extend(_junit_properties(verdict.report_data))
    else:
        deferred = {
            "group": instance.group,
            "spec": instance.spec.to_json(),
            "sizes": [size for size, _ in pairs],
            "instances": [[size, nodeid] for size, nodeid in pairs],
            "status": "deferred",
            "why": "fitted after the test loop: not every instance had run in this process",
        }
        simperf.attach_extra(item.nodeid, REPORT_KEY, report_data=deferred)
    return result


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.when != "call" or item.stash.get(INSTANCE_KEY, None) is None:
        return report
    if not simperf_enabled(item.config):
        return report
    data = simperf_session(item.config).tests.get(item.nodeid, {}).get(REPORT_KEY)
    if isinstance(data, Mapping):
        from pytest_simperf.scaling_gate import section

        report.sections.append(("simperf scaling", section(data)))
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session: pytest.Session) -> Generator[None, object, object]:
    """After every test (and, on an xdist controller, every worker): judge deferred groups."""
    result = yield
    config = session.config
    if getattr(config, "workerinput", None) is not None or not simperf_enabled(config):
        return result
    from pytest_simperf.scaling_gate import ScalingSpec

    simperf = simperf_session(config)
    state = config.stash[STATE_KEY]
    for nodeid, report in sorted(simperf.tests.items()):
        data = report.get(REPORT_KEY)
        if not isinstance(data, Mapping) or data.get("status") != "deferred":
            continue
        spec = ScalingSpec.from_json(data["spec"])
        pairs = [(int(size), str(member)) for size, member in data["instances"]]
        verdict = _judge(simperf, spec, str(data["group"]), pairs, nodeid)
        _attach(simperf, nodeid, verdict)
        if verdict.failures:
            simperf.set_outcome(nodeid, "failed")
            state.failed_after_run.append(nodeid)
            session.testsfailed += 1
    return result


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """One line per scaling group, after the core's table."""
    from pytest_simperf.plugin import REPORT_KEY as RUN_REPORT_KEY

    run = config.stash.get(RUN_REPORT_KEY, None)
    if run is None:
        return
    lines = []
    for test in run["tests"]:
        data = test.get(REPORT_KEY)
        if not isinstance(data, Mapping):
            continue
        recording = run["run"]["options"].get("update_baseline")
        severity = data.get("severity") or ("recorded" if recording else "-")
        lines.append(f"scaling {data['group']}: {severity}")
        body = data.get("lines") if data.get("status") == "fitted" else [data.get("why", "")]
        lines.extend(f"  {line}" for line in body or [])
        for reason in test["failed_reasons"]:
            if "scaling" in reason and test["nodeid"] in config.stash[STATE_KEY].failed_after_run:
                lines.append(f"  FAILED after the run: {reason}")
    if lines:
        terminalreporter.write_sep("-", "pytest-simperf scaling")
        for line in lines:
            terminalreporter.write_line(line)
