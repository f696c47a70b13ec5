"""Year sequences: dbt steps and Python steps run in order, every year and round, and checked
up front with one error naming the bad step."""

from __future__ import annotations

import textwrap
from contextlib import contextmanager
from pathlib import Path

import pytest

from pytest_simperf.dbt.runner import DbtProject
from pytest_simperf.dbt.sequence import DbtStep, PythonStep, YearSequence
from pytest_simperf.errors import UsageError


def write_checks(project, year):
    """A Python step for the tests below (named, with the right signature)."""


# -- checking steps, without dbt -------------------------------------------------------------


def test_a_sequence_takes_dbt_steps_mappings_and_callables():
    sequence = YearSequence(
        [
            {"command": "seed"},
            DbtStep(select="staging", full_refresh="always"),
            write_checks,
            PythonStep(lambda project, year: None, name="export"),
            {"select": ["tag:events", "marts"]},
        ]
    )
    labels = [step.label for step in sequence]
    assert labels == [
        "seed",
        "build --select staging",
        "write_checks",
        "export",
        "build --select tag:events marts",
    ]
    assert isinstance(sequence.steps[2], PythonStep)
    assert sequence.steps[4].select == ("tag:events", "marts")
    assert len(sequence) == 5


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"command": "compile"}, r"step 2 \(dbt compile\): command must be one of build"),
        ({"slect": "x"}, r"step 2 \(\{'slect': 'x'\}\): unknown field\(s\) slect"),
        ({"select": ""}, r"step 2 .*select must be a non-empty string"),
        ({"selector": "s", "select": "x"}, r"step 2 .*selector replaces select and exclude"),
        ({"full_refresh": "yes"}, r"step 2 .*full_refresh must be one of first, always, never"),
        ({"command": "test", "full_refresh": "always"}, r"step 2 .*dbt test takes no"),
        ({"vars": [1]}, r"step 2 .*vars must be a mapping"),
        (lambda project, year: None, r"step 2 \(Python step '<lambda>'\): .*give it a name"),
        (PythonStep(write_checks, name="dbt_total"), r"step 2 .*records itself"),
        (PythonStep(write_checks, name="a@b"), r"step 2 .*without '@'"),
        (lambda: None, r"step 2 .*give it a name"),
        (PythonStep(lambda: None, name="nullary"), r"step 2 .*called as fn\(project, year\)"),
        (42, r"step 2: 42 is neither a dbt step"),
    ],
)
def test_a_bad_step_is_one_usage_error_naming_it(step, message):
    with pytest.raises(UsageError, match=message):
        YearSequence([{"command": "seed"}, step])


def test_two_python_steps_of_one_name_would_share_a_phase():
    with pytest.raises(UsageError, match=r"step 3 \(Python step 'write_checks'\).*step 1's"):
        YearSequence([write_checks, {"command": "run"}, write_checks])


def test_each_dbt_step_of_a_longer_sequence_has_a_key_of_its_own():
    sequence = YearSequence(
        [
            {"command": "seed"},
            {"selector": "yearly_events"},
            {"select": ["staging", "tag:x"]},
            {"select": "@fct", "name": "around_fct"},
        ]
    )
    assert [step.key for step in sequence] == [
        "seed",
        "yearly_events",
        "staging|tag:x",
        "around_fct",
    ]
    with pytest.raises(UsageError, match=r"step 2 \(dbt build\): step 1 is also called 'build'"):
        YearSequence([{"command": "build"}, {"command": "build", "full_refresh": "always"}])
    with pytest.raises(UsageError, match=r"step 2 \(dbt build --select @fct\): .*has an '@'"):
        YearSequence([{"command": "seed"}, {"select": "@fct"}])
    assert YearSequence([{"select": "@fct"}]).steps[0].key == "@fct"  # one step: plain dbt_total


def test_an_empty_or_non_list_sequence_is_refused():
    with pytest.raises(UsageError, match="at least one step"):
        YearSequence([])
    with pytest.raises(UsageError, match="a list of steps"):
        YearSequence("build")


@pytest.mark.parametrize(
    ("mode", "command", "first", "later", "rebuild"),
    [
        (None, "build", True, False, False),
        ("first", "run", True, False, False),
        ("always", "seed", True, True, True),
        ("never", "build", False, False, False),
        (None, "test", False, False, False),
    ],
)
def test_when_a_step_refreshes(mode, command, first, later, rebuild):
    step = DbtStep(command=command, full_refresh=mode)
    assert step.refreshes(first_year=True, rebuild=False) is first
    assert step.refreshes(first_year=False, rebuild=False) is later
    assert step.refreshes(first_year=False, rebuild=True) is rebuild


def test_sequence_and_one_command_arguments_do_not_mix(tmp_path, shipped_project):
    project = DbtProject(shipped_project, tmp_path / "db.duckdb", tmp_path / "w")
    with pytest.raises(UsageError, match=r"run_years\(\): sequence= already .*select"):
        project.run_years([2025], sequence=[{"command": "seed"}], select="stg_census")
    with pytest.raises(UsageError, match=r"rebuild_year\(\): sequence= .*command"):
        project.rebuild_year(2025, sequence=[{"command": "seed"}], command="run")


# -- running a sequence, on a tiny project -----------------------------------------------------

MODELS = {
    # The year's number of a run, and a table the Python step must have written before `b`.
    "a.sql": "{{ config(materialized='table') }}\nselect {{ var('simulation_year') }} as y\n",
    "b.sql": """
        {{ config(materialized='incremental', unique_key='y') }}
        select y, seen_a from main.py_marks where y = {{ var('simulation_year') }}
    """,
}


def tiny_project(tmp_path: Path) -> DbtProject:
    root = tmp_path / "project"
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        'name: tiny\nversion: "1.0"\nconfig-version: 2\nprofile: tiny\n'
        "vars:\n  simulation_year: 2025\n  start_year: 2025\n"
    )
    for name, sql in MODELS.items():
        (root / "models" / name).write_text(textwrap.dedent(sql).lstrip())
    return DbtProject(root, tmp_path / "db.duckdb", tmp_path / "work", console_log=False)


def mark_year(project: DbtProject, year: int) -> None:
    """Between `a` and `b`: record the year `a` holds now, proving the step ran after `a`."""
    import duckdb

    con = duckdb.connect(str(project.database_path))
    try:
        con.execute("create table if not exists py_marks (y integer, seen_a integer)")
        con.execute("delete from py_marks where y = ?", [year])
        con.execute("insert into py_marks select ?, y from a", [year])
    finally:
        con.close()


def test_each_year_runs_every_step_in_order_and_rebuilds_run_them_again(tmp_path):
    project = tiny_project(tmp_path)
    steps: list[tuple[str, int, bool]] = []

    @contextmanager
    def around_step(request):
        steps.append((request.step, request.year, request.rebuild))
        yield

    project.around_step = around_step
    sequence = YearSequence([{"select": "a", "name": "year_a"}, mark_year, {"select": "b"}])
    built = project.run_years([2025, 2026, 2027], rounds=2, sequence=sequence)
    # Each year: b holds the row the Python step wrote after a was built for that year.
    assert project.query("select y, seen_a from b order by y") == [
        (2025, 2025),
        (2026, 2026),
        (2027, 2027),
    ]
    assert [(inv.step, inv.year, inv.full_refresh) for inv in built[:6]] == [
        ("year_a", 2025, True),
        ("b", 2025, True),
        ("year_a", 2026, False),
        ("b", 2026, False),
        ("year_a", 2027, False),
        ("b", 2027, False),
    ]
    assert len(built) == 12  # two rounds
    assert steps == [("mark_year", y, False) for y in (2025, 2026, 2027)] * 2

    rebuilt = project.rebuild_year(2026, rounds=2, sequence=sequence)
    assert [(inv.step, inv.rebuild, inv.full_refresh) for inv in rebuilt] == [
        ("year_a", True, False),
        ("b", True, False),
    ] * 2
    assert steps[-2:] == [("mark_year", 2026, True)] * 2
    assert project.query("select y, seen_a from b order by y") == [
        (2025, 2025),
        (2026, 2026),
        (2027, 2027),
    ]


def test_a_failing_python_step_keeps_its_exception_and_names_step_and_year(tmp_path):
    project = tiny_project(tmp_path)

    def check_rows(project, year):
        if year == 2026:
            raise ValueError("too few rows")

    sequence = YearSequence([{"select": "a"}, check_rows])
    with pytest.raises(ValueError, match="too few rows") as caught:
        project.run_years([2025, 2026, 2027], sequence=sequence)
    assert "in Python step 'check_rows' of the year sequence, simulation year 2026" in (
        caught.value.__notes__
    )
    assert [inv.year for inv in project.invocations] == [2025, 2026]


def test_run_years_with_select_is_a_one_step_sequence(tmp_path):
    project = tiny_project(tmp_path)
    built = project.run_years([2025, 2026], select="a", command="run")
    assert [(inv.command, inv.step, inv.full_refresh) for inv in built] == [
        ("run", None, True),
        ("run", None, False),
    ]
    assert "--select" in built[0].args and "a" in built[0].args
    assert project.query("select y from a") == [(2026,)]
