"""A rebuild of an already-built year is its own phase, held to its model's SLA.

Pooled with the first build's samples, a regression that hits only rebuilds (an incremental
strategy that rewrites history) would read as noise; recorded as ``<model>:rebuild`` it is
judged against the rebuilds of the baseline. No dbt runs here.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_simperf.dbt.plugin import SimperfDbt, phase_name
from pytest_simperf.dbt.runner import DbtInvocation, DbtProject, DbtRequest, NodeResult
from pytest_simperf.markers import effective_sla, parse_sla
from pytest_simperf.options import ComponentSla

SHIPPED = Path(__file__).resolve().parents[2] / "pytest_simperf" / "dbt" / "example_project"
WHERE = "test_rebuild_phases.py::t"


def test_phase_name_marks_rebuilds():
    assert phase_name("fct_yearly_events", rebuild=False) == "fct_yearly_events"
    assert phase_name("fct_yearly_events", rebuild=True) == "fct_yearly_events:rebuild"


def test_component_sla_of_a_model_applies_to_its_rebuild():
    components = {"fct_yearly_events": ComponentSla(seconds=300, memory_mb=2000)}
    sla = effective_sla("fct_yearly_events:rebuild", [], components)
    assert sla is not None
    assert (sla.seconds, sla.warning_seconds, sla.memory_mb) == (300, 240, 2000)
    assert sla.source == "component SLA 'fct_yearly_events'"
    assert effective_sla("int_workforce_state:rebuild", [], components) is None


def test_rebuilds_own_component_sla_wins_over_its_models():
    components = {
        "fct_yearly_events": ComponentSla(seconds=300),
        "fct_yearly_events:rebuild": ComponentSla(seconds=30),
    }
    assert effective_sla("fct_yearly_events:rebuild", [], components).seconds == 30
    assert effective_sla("fct_yearly_events", [], components).seconds == 300


def test_marker_precedence_for_a_rebuild():
    """Its own phase marker, then its model's, then the test's, then configuration."""
    on_test = parse_sla((), {"seconds": 60}, WHERE)
    on_model = parse_sla((), {"seconds": 5, "phase": "fct_yearly_events"}, WHERE)
    on_rebuild = parse_sla((), {"seconds": 9, "phase": "fct_yearly_events:rebuild"}, WHERE)
    config = {"fct_yearly_events": ComponentSla(seconds=300)}
    name = "fct_yearly_events:rebuild"
    assert effective_sla(name, [on_test, on_model, on_rebuild], config).seconds == 9
    chosen = effective_sla(name, [on_test, on_model], config)
    assert (chosen.seconds, chosen.source) == (5, "sla(phase='fct_yearly_events') marker")
    assert effective_sla(name, [on_test], config).seconds == 60
    assert effective_sla(name, [], config).seconds == 300
    # A marker for the rebuild is not one for the first build.
    assert effective_sla("fct_yearly_events", [on_rebuild], {}) is None


class FakeSimperf:
    """Records what ``SimperfDbt`` would hand to ``simperf``."""

    def __init__(self) -> None:
        self.records: list[tuple[str, int | None, list[float]]] = []
        self.phases: list[tuple[str, int | None]] = []

    def record(self, name, *, year, samples_s, **_kwargs) -> None:
        self.records.append((name, year, list(samples_s)))

    @contextmanager
    def phase(self, name, *, year):
        self.phases.append((name, year))
        yield


def model(name: str, time: float) -> NodeResult:
    return NodeResult(name, f"model.p.{name}", "model", "success", time, None, "OK")


def invocation(*, rebuild: bool) -> DbtInvocation:
    return DbtInvocation(
        command="build",
        args=("build",),
        vars={"simulation_year": 2027},
        year=2027,
        full_refresh=False,
        success=True,
        wall_s=2.0,
        results=(model("fct_yearly_events", 0.5), model("fct_workforce_snapshot", 0.25)),
        rebuild=rebuild,
    )


@pytest.fixture
def recorded(tmp_path) -> tuple[SimperfDbt, FakeSimperf]:
    simperf = FakeSimperf()
    project = DbtProject(SHIPPED, tmp_path / "db.duckdb", tmp_path / "work")
    return SimperfDbt(project, workforce=None, simperf=simperf, count_rows=False), simperf


def test_rebuild_invocation_records_rebuild_phases(recorded):
    fixture, simperf = recorded
    fixture._record(invocation(rebuild=False))
    fixture._record(invocation(rebuild=True))
    assert simperf.records == [
        ("fct_yearly_events", 2027, [0.5]),
        ("fct_workforce_snapshot", 2027, [0.25]),
        ("dbt_overhead", 2027, [1.25]),
        ("fct_yearly_events:rebuild", 2027, [0.5]),
        ("fct_workforce_snapshot:rebuild", 2027, [0.25]),
        ("dbt_overhead:rebuild", 2027, [1.25]),
    ]


def test_rebuild_run_is_timed_as_its_own_total_but_parses_as_any_other(recorded):
    fixture, simperf = recorded
    with fixture._around_run(DbtRequest("build", 2027, rebuild=True)):
        pass
    with fixture._around_run(DbtRequest("build", 2027)):
        pass
    with fixture._around_parse(DbtRequest("build", 2027, rebuild=True)):
        pass
    assert simperf.phases == [
        ("dbt_total:rebuild", 2027),
        ("dbt_total", 2027),
        ("dbt_parse", 2027),
    ]


def test_rebuild_year_marks_its_invocations(tmp_path, monkeypatch):
    project = DbtProject(SHIPPED, tmp_path / "db.duckdb", tmp_path / "work")
    seen: list[dict] = []

    def invoke(command, **kwargs):
        seen.append(kwargs)
        return SimpleNamespace(models=())  # what the progress events read

    monkeypatch.setattr(project, "invoke", invoke)
    project.rebuild_year(2027, rounds=2)
    assert [kwargs["rebuild"] for kwargs in seen] == [True, True]
    assert [kwargs["year"] for kwargs in seen] == [2027, 2027]
