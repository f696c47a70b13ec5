"""A parsed manifest is reused only when it is provably the parse dbt would make.

dbt compiles into the manifest it is given, and a parse depends on the vars: a performance
tool that reused one manifest for every year built stale data (an ephemeral model kept the
first year's compilation) or failed (a ``ref()`` inside a parse-time ``if`` on the year). These
tests build tiny projects whose every year has a known answer.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from pytest_simperf.dbt import runner
from pytest_simperf.dbt.runner import DbtProject, parse_key, project_digest

YEAR_VARS = """
vars:
  simulation_year: 2025
  start_year: 2025
"""


def write_project(root: Path, models: dict[str, str]) -> Path:
    """A dbt project named ``tiny`` with ``models`` (file name -> SQL) under ``models/``."""
    (root / "models").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        'name: tiny\nversion: "1.0"\nconfig-version: 2\nprofile: tiny\n' + YEAR_VARS
    )
    for name, sql in models.items():
        (root / "models" / name).write_text(textwrap.dedent(sql).lstrip())
    return root


def make(tmp_path: Path, models: dict[str, str], **kwargs) -> DbtProject:
    project_dir = write_project(tmp_path / "project", models)
    kwargs.setdefault("console_log", False)
    return DbtProject(project_dir, tmp_path / "db.duckdb", tmp_path / "work", **kwargs)


# An ephemeral model reading the year var, and two tables reading it.
EPHEMERAL = {
    "year_param.sql": """
        {{ config(materialized='ephemeral') }}
        select {{ var('simulation_year') }} as y
    """,
    "a.sql": "{{ config(materialized='table') }}\nselect y from {{ ref('year_param') }}\n",
    "b.sql": "{{ config(materialized='table') }}\nselect y from {{ ref('year_param') }}\n",
}

# A ref chosen by a parse-time `if` on the year: the census in the first year, the previous
# year (an ephemeral model) after that.
PARSE_TIME_IF = {
    "census_rows.sql": """
        {{ config(materialized='table') }}
        select 'census' as source, 0 as from_year
    """,
    "previous_year.sql": """
        {{ config(materialized='ephemeral') }}
        select 'previous' as source, {{ var('simulation_year') - 1 }} as from_year
    """,
    "state.sql": """
        {{ config(materialized='table') }}
        {% if var('simulation_year') == var('start_year') %}
        select *, {{ var('simulation_year') }} as y from {{ ref('census_rows') }}
        {% else %}
        select *, {{ var('simulation_year') }} as y from {{ ref('previous_year') }}
        {% endif %}
    """,
}


@pytest.mark.parametrize("reuse", [True, False], ids=["reuse", "dbt-parses"])
def test_ephemeral_reading_a_var_is_compiled_for_each_year(tmp_path, reuse):
    """``a`` built for 2025, then ``b`` for 2026: ``b`` must hold 2026, not the 2025 that a
    once-compiled ephemeral model carries; then ``a`` again for 2027 (once a failing
    ``__dbt__cte__year_param does not exist``)."""
    project = make(tmp_path, EPHEMERAL, reuse_manifest=reuse)
    project.run(select="a", year=2025)
    project.run(select="b", year=2026)
    assert project.query("select y from a") == [(2025,)]
    assert project.query("select y from b") == [(2026,)]
    project.run(select="a", year=2027)
    assert project.query("select y from a") == [(2027,)]
    assert project.parse_count == (3 if reuse else 0)  # three years, three sets of vars


@pytest.mark.parametrize("hint", [False, True], ids=["plain", "depends-on-hint"])
@pytest.mark.parametrize("reuse", [True, False], ids=["reuse", "dbt-parses"])
def test_ref_inside_a_parse_time_if_on_the_year_follows_the_year(tmp_path, reuse, hint):
    """Without the hint dbt's error message suggests, a manifest parsed for the first year
    lacks the later years' ref; with it, the ephemeral model's first compilation stuck."""
    models = dict(PARSE_TIME_IF)
    if hint:
        models["state.sql"] = "-- depends_on: {{ ref('previous_year') }}\n" + textwrap.dedent(
            models["state.sql"]
        )
    project = make(tmp_path, models, reuse_manifest=reuse, start_year=2025)
    built = {}
    for year in (2025, 2026, 2027):
        project.build(year=year)
        built[year] = project.query("select source, from_year, y from state")
    assert built == {
        2025: [("census", 0, 2025)],
        2026: [("previous", 2025, 2026)],
        2027: [("previous", 2026, 2027)],
    }


def test_same_inputs_reuse_a_fresh_copy_of_the_parse(tmp_path):
    """The same vars twice: parsed once, and the second run compiles into its own copy (a
    manifest a run has compiled would leave the ephemeral CTE out of ``a``'s SQL)."""
    project = make(tmp_path, EPHEMERAL)
    first = project.run(year=2025)
    second = project.run(year=2025)
    assert project.parse_count == 1
    assert first.parse_s is not None and first.parse_s > 0
    assert not first.manifest_reused
    assert second.parse_s is None
    assert second.manifest_reused
    assert all(r.status == "success" for r in second.results)
    assert project.query("select y from a union all select y from b") == [(2025,), (2025,)]


def test_changed_project_file_is_parsed_again(tmp_path):
    project = make(tmp_path, EPHEMERAL)
    project.run(select="a", year=2025)
    model = project.project_dir / "models" / "a.sql"
    model.write_text(
        "{{ config(materialized='table') }}\nselect y + 1 as y from {{ ref('year_param') }}\n"
    )
    again = project.run(select="a", year=2025)
    assert project.parse_count == 2
    assert not again.manifest_reused
    assert project.query("select y from a") == [(2026,)]


def test_changed_environment_is_parsed_again(tmp_path, monkeypatch):
    """``env_var()`` at parse time decides what a model reads: a new value needs a new parse."""
    models = {
        "m.sql": """
            {{ config(materialized='table') }}
            {% if env_var('TINY_LABEL', 'none') == 'none' %}
            select 'unlabelled' as label
            {% else %}
            select '{{ env_var("TINY_LABEL") }}' as label
            {% endif %}
        """
    }
    project = make(tmp_path, models)
    monkeypatch.delenv("TINY_LABEL", raising=False)
    project.run(year=2025)
    monkeypatch.setenv("TINY_LABEL", "blue")
    project.run(year=2025)
    assert project.parse_count == 2
    assert project.query("select label from m") == [("blue",)]


def test_cache_keeps_only_the_most_recent_parses(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "MANIFEST_CACHE_SIZE", 1)
    project = make(tmp_path, EPHEMERAL)
    for year in (2025, 2026, 2025, 2025):
        project.run(select="a", year=year)
    assert project.parse_count == 3  # 2025 was dropped when 2026 came in; kept for the last
    assert project.query("select y from a") == [(2025,)]


def test_without_reuse_dbt_parses_inside_each_run(tmp_path):
    project = make(tmp_path, EPHEMERAL, reuse_manifest=False)
    inv = project.run(year=2025)
    assert project.parse_count == 0
    assert inv.parse_s is None
    assert not inv.manifest_reused


def test_failing_parse_names_the_project_and_the_error(tmp_path):
    models = {"m.sql": "{% if var('simulation_year') > 2000 %}\nselect 1 as x\n"}  # no endif
    project = make(tmp_path, models)
    with pytest.raises(runner.DbtRunError, match=r"dbt parse failed for .*project") as caught:
        project.run(year=2025)
    assert "m.sql" in str(caught.value)
    assert "endif" in str(caught.value)
    assert str(project.log_file) in str(caught.value)


# -- the fingerprint, without dbt ------------------------------------------------------------


def test_project_digest_follows_content_and_modification_time(tmp_path):
    project = write_project(tmp_path / "p", {"m.sql": "select 1 as x\n"})
    model = project / "models" / "m.sql"
    first = project_digest(project)
    assert project_digest(project) == first
    model.write_text("select 2 as x\n")  # same size, new content
    os.utime(model, ns=(model.stat().st_atime_ns, model.stat().st_mtime_ns))
    second = project_digest(project)
    assert second != first
    stat = model.stat()
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert project_digest(project) != second  # touched, same content
    (project / "macros").mkdir()
    (project / "macros" / "m.sql").write_text("{% macro m() %}1{% endmacro %}\n")
    assert project_digest(project) not in (first, second)


def test_project_digest_ignores_what_dbt_writes_and_hidden_files(tmp_path):
    project = write_project(tmp_path / "p", {"m.sql": "select 1 as x\n"})
    before = project_digest(project)
    for folder in ("target", "logs", ".git", "models/__pycache__"):
        (project / folder).mkdir(parents=True)
        (project / folder / "x.json").write_text("{}")
    (project / "models" / ".m.sql.swp").write_text("editor state")
    assert project_digest(project) == before
    (project / "models" / "target").mkdir()  # a model folder named target is not dbt's
    (project / "models" / "target" / "t.sql").write_text("select 1 as t\n")
    assert project_digest(project) != before


def test_parse_key_changes_with_every_input():
    base = (["parse", "--vars", json.dumps({"simulation_year": 2025})], b"profile", {"A": "1"})
    key = parse_key(*base, "files")
    assert parse_key(*base, "files") == key
    assert (
        parse_key(["parse", "--vars", '{"simulation_year": 2026}'], b"profile", {"A": "1"}, "files")
        != key
    )
    assert parse_key(base[0], b"other profile", {"A": "1"}, "files") != key
    assert parse_key(base[0], b"profile", {"A": "2"}, "files") != key
    assert parse_key(*base, "other files") != key
