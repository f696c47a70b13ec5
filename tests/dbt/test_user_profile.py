"""Your own profiles.yml and target: kept as written, except the database path and threads
pytest-simperf needs, and every override said in one line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_simperf.dbt.plugin import profile_note, resolve_profiles_dir, resolve_target
from pytest_simperf.dbt.runner import DbtProject, threads_set_by_project, user_profile_document
from pytest_simperf.errors import UsageError

PROFILES = """
tiny:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: /data/dev.duckdb
      threads: 4
      extensions: [json]
    perf:
      type: duckdb
      path: "{{ env_var('TINY_DB', '/data/perf.duckdb') }}"
      threads: 8
      settings:
        threads: 16
        memory_limit: 1GB
    warehouse:
      type: postgres
      host: db
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


def test_only_path_and_threads_are_overridden_and_each_is_said(tmp_path):
    profiles = write(tmp_path / "profiles", "profiles.yml", PROFILES)
    db = tmp_path / "t.duckdb"
    document, overrides = user_profile_document(profiles, "tiny", "perf", db, duckdb_threads=1)
    assert document == {
        "tiny": {
            "target": "perf",
            "outputs": {
                "perf": {
                    "type": "duckdb",
                    "path": str(db),
                    "threads": 1,
                    "settings": {"threads": 1, "memory_limit": "1GB"},
                }
            },
        }
    }
    assert overrides == [
        "path: {{ env_var('TINY_DB', '/data/perf.duckdb') }} → " + str(db),
        "threads: 8 → 1",
        "settings.threads: 16 → 1",
    ]
    # The profile's default target; DuckDB's own threads left alone.
    document, overrides = user_profile_document(profiles, "tiny", None, db, duckdb_threads=None)
    assert list(document["tiny"]["outputs"]) == ["dev"]
    assert document["tiny"]["outputs"]["dev"]["extensions"] == ["json"]  # kept as written
    assert "settings" not in document["tiny"]["outputs"]["dev"]
    assert overrides == [f"path: /data/dev.duckdb → {db}", "threads: 4 → 1"]


@pytest.mark.parametrize(
    ("profile", "target", "message"),
    [
        ("other", None, r"has no profile 'other' with outputs"),
        ("tiny", "prod", r"has no target 'prod'; it has dev, perf, warehouse"),
        ("tiny", "warehouse", r"is of type 'postgres'; pytest-simperf runs dbt-duckdb targets"),
    ],
)
def test_a_profile_that_cannot_be_used_is_one_clear_error(tmp_path, profile, target, message):
    profiles = write(tmp_path / "profiles", "profiles.yml", PROFILES)
    with pytest.raises(UsageError, match=message):
        user_profile_document(profiles, profile, target, tmp_path / "x.duckdb", duckdb_threads=1)


def test_an_unreadable_profiles_file_names_the_file(tmp_path):
    profiles = write(tmp_path / "profiles", "profiles.yml", "tiny: [unclosed\n")
    with pytest.raises(UsageError, match=r"cannot read the profiles file .*profiles\.yml"):
        user_profile_document(profiles, "tiny", None, tmp_path / "x.duckdb", duckdb_threads=1)


def tiny_project(root: Path, hook: str = "") -> Path:
    write(
        root,
        "dbt_project.yml",
        f"""
        name: tiny
        version: "1.0"
        config-version: 2
        profile: tiny
        {hook}
        """,
    )
    return write(
        root / "models",
        "m.sql",
        "{{ config(materialized='table') }}\n"
        "select current_setting('memory_limit') as memory_limit, "
        "current_setting('threads') as threads\n",
    ).parent


def test_dbt_builds_with_the_users_settings_into_the_tests_database(tmp_path):
    profiles = write(tmp_path / "profiles", "profiles.yml", PROFILES)
    project = DbtProject(
        tiny_project(tmp_path / "project"),
        tmp_path / "t.duckdb",
        tmp_path / "work",
        profiles_dir=profiles,
        target="perf",
        console_log=False,
        duckdb_threads=1,
    )
    written = json.loads((project.profiles_dir / "profiles.yml").read_text())
    assert written["tiny"]["outputs"]["perf"]["path"] == str(tmp_path / "t.duckdb")
    project.run()
    ((memory_limit, threads),) = project.query("select * from m")
    assert memory_limit.replace(" ", "").startswith(("1.0GB", "953.6MiB", "1GB", "1.0GiB"))
    assert threads == 1
    assert project.profile_overrides[-1] == "settings.threads: 16 → 1"


def test_the_note_names_the_overrides_and_threads_the_project_sets(tmp_path):
    hook = 'on-run-start: ["PRAGMA threads=8"]'
    profiles = write(tmp_path / "profiles", "profiles.yml", PROFILES)
    project = DbtProject(
        tiny_project(tmp_path / "project", hook),
        tmp_path / "t.duckdb",
        tmp_path / "work",
        profiles_dir=profiles,
        console_log=False,
    )
    assert threads_set_by_project(project.project_dir) == ["dbt_project.yml"]
    note = profile_note(project)
    assert note == (
        f"simperf_dbt: your profile (target default, {profiles.resolve()}) with path: "
        f"/data/dev.duckdb → {tmp_path / 't.duckdb'}, threads: 4 → 1, settings.threads: "
        "(unset) → 1; DuckDB threads set in dbt_project.yml are overridden: measured tests "
        "set threads=1 (--simperf-duckdb-threads) on every connection and cursor dbt opens"
    )
    plain = DbtProject(
        tiny_project(tmp_path / "plain"), tmp_path / "p.duckdb", tmp_path / "w2", console_log=False
    )
    assert profile_note(plain) is None


def config(rootdir: Path, **ini: str) -> pytest.Config:
    return SimpleNamespace(rootpath=rootdir, getini=lambda name: ini.get(name, ""))  # type: ignore[return-value]


def test_profiles_dir_and_target_come_from_marker_else_ini(tmp_path):
    write(tmp_path / "dbt_profiles", "profiles.yml", PROFILES)
    cfg = config(tmp_path, simperf_dbt_profiles_dir="dbt_profiles", simperf_dbt_target="perf")
    assert resolve_profiles_dir(cfg, None) == tmp_path / "dbt_profiles"
    assert resolve_target(cfg, None) == "perf"
    assert resolve_target(cfg, "dev") == "dev"
    assert resolve_profiles_dir(config(tmp_path), None) is None
    assert resolve_target(config(tmp_path), None) is None
    with pytest.raises(UsageError, match=r"no profiles.yml in .*nowhere \(from marker"):
        resolve_profiles_dir(cfg, "nowhere")
    with pytest.raises(UsageError, match=r"target must name a target, got 3 \(marker"):
        resolve_target(cfg, 3)


def test_the_fixture_says_what_it_overrode_on_the_terminal(pytester, run, shipped_project):
    write(
        pytester.path / "profiles",
        "profiles.yml",
        """
        simperf_workforce:
          target: local
          outputs:
            local: {type: duckdb, path: /data/wf.duckdb, threads: 4}
        """,
    )
    pytester.makepyprojecttoml(
        f"""
        [tool.pytest.ini_options]
        simperf_dbt_project = "{shipped_project.as_posix()}"
        simperf_dbt_profiles_dir = "profiles"
        """
    )
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.workforce(employees=100, years=1, seed=1)
        def test_profile(simperf_dbt):
            assert simperf_dbt.project.target is None
            assert simperf_dbt.project.profile_overrides[1] == "threads: 4 → 1"

        @pytest.mark.workforce(employees=100, years=1, seed=1)
        @pytest.mark.simperf_dbt(target="prod")
        def test_missing_target(simperf_dbt):
            pass
        """
    )
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "simperf_dbt: your profile (target default, */profiles) with path: /data/wf.duckdb "
            "→ */simperf_dbt.duckdb, threads: 4 → 1, settings.threads: (unset) → 1",
            "*profile 'simperf_workforce' in */profiles.yml has no target 'prod'; it has local*",
        ]
    )
