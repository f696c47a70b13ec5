"""Progress of a long dbt run: a line per step and year on a terminal, one per year in a CI
log; events timed with an injected clock, dbt replaced by a stand-in."""

from __future__ import annotations

import itertools

from pytest_simperf.dbt.progress import ProgressPrinter
from pytest_simperf.dbt.runner import DbtInvocation, DbtProject, NodeResult, YearProgress
from pytest_simperf.dbt.sequence import YearSequence


def fake_invocation(command, year, models, **kwargs) -> DbtInvocation:
    results = tuple(
        NodeResult(name, f"model.p.{name}", "model", "success", 0.1, None, None) for name in models
    )
    return DbtInvocation(command, (command,), {}, year, False, True, 1.0, results, **kwargs)


def project_with_fake_dbt(tmp_path, shipped_project, models_per_step):
    """A project whose dbt invocations return ``models_per_step[key]`` models, on a clock that
    advances one second per reading."""
    project = DbtProject(shipped_project, tmp_path / "db.duckdb", tmp_path / "w")

    def invoke(command, *, year=None, step=None, rebuild=False, **_):
        return fake_invocation(command, year, models_per_step[step or command], step=step)

    project.invoke = invoke  # type: ignore[method-assign]
    ticks = itertools.count()
    project.clock = lambda: float(next(ticks))
    events: list[YearProgress] = []
    project.progress.append(events.append)
    return project, events


def test_each_step_and_each_year_is_reported_in_order(tmp_path, shipped_project):
    project, events = project_with_fake_dbt(
        tmp_path, shipped_project, {"seed": ["s1", "s2"], "marts": ["m1", "m2", "m3"]}
    )
    sequence = YearSequence([{"command": "seed"}, lambda_free_step, {"select": "marts"}])
    project.run_years([2025, 2026], rounds=2, sequence=sequence)
    first_year = [e for e in events if e.year == 2025 and e.round == 1]
    assert [(e.kind, e.step, e.models, e.seconds) for e in first_year] == [
        ("step", "seed", 2, 1.0),
        ("step", "lambda_free_step", 0, 1.0),
        ("step", "build --select marts", 3, 1.0),
        ("year", None, 5, 7.0),  # one tick per reading: 3 steps of two, and the year's own
    ]
    years = [(e.year, e.round, e.index, e.years, e.rounds) for e in events if e.kind == "year"]
    assert years == [(2025, 1, 1, 2, 2), (2026, 1, 2, 2, 2), (2025, 2, 1, 2, 2), (2026, 2, 2, 2, 2)]
    project.rebuild_year(2026, sequence=sequence)
    assert (events[-1].kind, events[-1].rebuild, events[-1].index, events[-1].years) == (
        "year",
        True,
        1,
        1,
    )


def lambda_free_step(project, year):
    """A Python step that does nothing (the events count it with no models)."""


def event(kind, step=None, *, models=5, seconds=1.234, rebuild=False, steps=3, rounds=5):
    return YearProgress(kind, 2026, 2, rounds, 2, 5, rebuild, step, models, seconds, steps)


def test_a_terminal_gets_a_line_per_step_and_per_year():
    lines: list[str] = []
    printer = ProgressPrinter(lines.append, tty=True)
    printer(event("step", "staging", models=1, seconds=0.2))
    printer(event("step", "log_year_start", models=0, seconds=0.05))
    printer(event("year", models=14, seconds=75.0))
    assert lines == [
        "simperf_dbt: 2026 (2/5), round 2/5 · staging: 1 model, 0.20 s",
        "simperf_dbt: 2026 (2/5), round 2/5 · log_year_start: 0.05 s",
        "simperf_dbt: 2026 (2/5), round 2/5 built: 3 steps, 14 models in 1.2 min",
    ]


def test_a_ci_log_gets_one_line_per_year():
    lines: list[str] = []
    printer = ProgressPrinter(lines.append, tty=False)
    printer(event("step", "staging"))
    printer(event("year", rebuild=True, steps=1, rounds=1))
    assert lines == ["simperf_dbt: rebuild of 2026 built: 5 models in 1.23 s"]


def test_a_one_step_year_on_a_terminal_is_one_line():
    lines: list[str] = []
    printer = ProgressPrinter(lines.append, tty=True)
    printer(event("step", "build", steps=1))
    printer(event("year", steps=1))
    assert lines == ["simperf_dbt: 2026 (2/5), round 2/5 built: 5 models in 1.23 s"]
