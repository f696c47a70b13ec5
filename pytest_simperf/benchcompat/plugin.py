"""pytest-benchmark adoption: ``benchmark``-fixture tests gated by simperf, without a rewrite.

The core lists this module in ``pytest_plugins``. It registers ``BenchmarkHooks`` only when
pytest-benchmark itself is loaded (installed, and not blocked with ``-p no:benchmark``), and it
never imports ``pytest_benchmark``: after the test body it reads the fixture object's own
attributes (``stats``, ``disabled``, ``group``, ``extra_info``). Without pytest-benchmark nothing
here runs and nothing else changes.

Which tests: a ``benchmark`` test with ``sla`` (or a ``simperf`` marker) is a perf test by the
core's rule (without ``--simperf`` it runs as an ordinary pytest-benchmark test, or is skipped
with ``--simperf-skip``). Under ``--simperf`` every ``benchmark`` test is measured; without it a
plain ``benchmark`` test stays pytest-benchmark's alone.

When: pytest-benchmark runs its rounds inside the test body, and the core judges a test as soon
as the body returns, before fixture teardown. So the rounds are read by a
``pytest_runtest_call`` wrapper running *inside* the core's (``trylast``): between the body and
the verdict. A second wrapper *outside* it (``tryfirst``) adds the ``benchmark`` note to the
judged report. Nothing is re-run: the samples are the rounds pytest-benchmark already timed.

``convert`` (and the session) are imported inside the hooks, under ``--simperf`` only: with
pytest-benchmark installed these hooks are registered at every pytest start.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Generator, Mapping
from typing import Any

import pytest

from pytest_simperf.errors import SimperfWarning
from pytest_simperf.plugin import SPEC_KEY, simperf_enabled, simperf_session

#: Names pytest-benchmark is registered under: its entry point, or ``-p pytest_benchmark.plugin``.
BENCHMARK_PLUGINS = ("benchmark", "pytest_benchmark.plugin")
FIXTURE = "benchmark"
#: Key of the per-test note in the run report (``tests[].benchmark``).
REPORT_NAME = "benchmark"
HOOKS_NAME = "simperf-benchcompat"
DISABLED_MESSAGE = (
    "pytest-simperf: pytest-benchmark is disabled (--benchmark-disable, or automatically under "
    "xdist), so it ran the benchmarked function once without timing it; this test got no simperf "
    "verdict (no SLA check, no baseline comparison, no baseline written). Run it with benchmarks "
    "enabled (no --benchmark-disable, no -n) to gate it."
)

_MEASURED = pytest.StashKey[bool]()
_NOTE = pytest.StashKey[dict[str, Any]]()


class BenchmarkDisabledWarning(SimperfWarning):
    """A ``benchmark`` test ran with pytest-benchmark disabled: simperf had nothing to judge."""


def pytest_configure(config: pytest.Config) -> None:
    if any(config.pluginmanager.hasplugin(name) for name in BENCHMARK_PLUGINS):
        config.pluginmanager.register(BenchmarkHooks(), HOOKS_NAME)


class BenchmarkHooks:
    """Hooks that exist only while pytest-benchmark is loaded."""

    @pytest.hookimpl
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Under ``--simperf``, make every ``benchmark`` test a perf test timed by its rounds.

        Runs after the core's ``tryfirst`` hook, which stored each test's parsed markers under
        ``SPEC_KEY`` (under ``--simperf``). ``uses_fixture`` tells the
        core not to time the whole call: pytest-benchmark's calibration is not the work.
        """
        if not simperf_enabled(config):
            return
        session = simperf_session(config)
        measured: list[str] = []
        for item in items:
            spec = item.stash.get(SPEC_KEY, None)
            if spec is None or FIXTURE not in getattr(item, "fixturenames", ()):
                continue
            item.stash[SPEC_KEY] = dataclasses.replace(spec, is_perf=True, uses_fixture=True)
            item.stash[_MEASURED] = True
            measured.append(item.nodeid)
        session.note_collected((), perf=measured)

    @pytest.hookimpl(wrapper=True, trylast=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """Record the rounds pytest-benchmark timed, before the core's wrapper judges them."""
        if not item.stash.get(_MEASURED, False):
            return (yield)
        from pytest_simperf.benchcompat.convert import phase_name, reduce_samples

        session = simperf_session(item.config)
        with session.memory.region() as region:
            result = yield
        fixture = getattr(item, "funcargs", {}).get(FIXTURE)
        if fixture is None:
            return result
        if getattr(fixture, "disabled", False):
            item.warn(BenchmarkDisabledWarning(DISABLED_MESSAGE))
            return result
        stats = getattr(fixture, "stats", None)
        rounds_s = list(getattr(getattr(stats, "stats", None), "data", None) or [])
        if not rounds_s:
            return result  # the fixture was not used; pytest-benchmark warns about that itself
        try:
            samples = reduce_samples(rounds_s)
        except ValueError as exc:
            raise pytest.fail.Exception(
                f"pytest-simperf: pytest-benchmark's rounds cannot be used: {exc}", pytrace=False
            ) from None
        from pytest_simperf.results import PhaseRecord

        name = phase_name(getattr(fixture, "group", None))
        iterations = int(getattr(stats, "iterations", 1) or 1)
        session.add_record(
            item.nodeid,
            item.stash[SPEC_KEY].options,
            PhaseRecord(
                name=name,
                year=None,
                samples_s=samples,
                source="record",
                start_rss_mb=region.start_mb,
                peak_rss_mb=region.peak_mb,
                rows=_rows(getattr(fixture, "extra_info", None)),
                meta={"via": "pytest-benchmark"},
            ),
        )
        item.stash[_NOTE] = {
            "phase": name,
            "group": getattr(fixture, "group", None),
            "rounds": len(rounds_s),
            "iterations": iterations,
            "samples": len(samples),
            "batched": len(samples) < len(rounds_s),
        }
        return result

    @pytest.hookimpl(wrapper=True, tryfirst=True, specname="pytest_runtest_call")
    def pytest_runtest_call_annotate(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """After the core judged the test, say in its report where the samples came from.

        (pytest only looks at methods named ``pytest_*``; ``specname`` names the hook.)
        """
        result = yield
        note = item.stash.get(_NOTE, None)
        if note is not None:
            session = simperf_session(item.config)
            if item.nodeid in session.tests:
                session.attach_extra(item.nodeid, REPORT_NAME, report_data=note)
        return result


def _rows(extra_info: object) -> int | None:
    """``benchmark.extra_info["rows"]``, when a test reports how many rows one call handles:
    it gives the phase rows/second, and lets ``sla(rows_per_second=...)`` apply."""
    if not isinstance(extra_info, Mapping):
        return None
    rows = extra_info.get("rows")
    # A count the history's BIGINT column holds; past it the run would lose its history row.
    if isinstance(rows, int) and not isinstance(rows, bool) and 0 <= rows <= 2**63 - 1:
        return rows
    return None
