"""Which dbt project ``simperf_dbt`` builds: marker, else ini, else ``rootdir/dbt_project``,
else the example project shipped inside the package."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pytest_simperf.dbt.plugin import EXAMPLE_PROJECT, resolve_project_dir
from pytest_simperf.errors import UsageError


def config(rootdir: Path, ini: str = "") -> pytest.Config:
    """A stand-in for pytest's config: the two things resolution reads."""
    fake = SimpleNamespace(rootpath=rootdir, getini=lambda name: ini)
    return fake  # type: ignore[return-value]


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "dbt_project.yml").write_text("name: p\nprofile: p\n", encoding="utf-8")
    return folder


def test_the_example_project_ships_inside_the_package():
    assert EXAMPLE_PROJECT.parent == Path(__file__).resolve().parents[2] / "pytest_simperf" / "dbt"
    assert (EXAMPLE_PROJECT / "dbt_project.yml").is_file()
    assert sorted(p.name for p in (EXAMPLE_PROJECT / "seeds").glob("*.csv"))


def test_without_configuration_or_rootdir_project_the_example_project_is_built(tmp_path):
    assert resolve_project_dir(config(tmp_path), None) == EXAMPLE_PROJECT


def test_a_dbt_project_folder_in_rootdir_wins_over_the_example(tmp_path):
    mine = make_project(tmp_path / "dbt_project")
    assert resolve_project_dir(config(tmp_path), None) == mine


def test_a_rootdir_dbt_project_folder_without_dbt_project_yml_is_not_a_project(tmp_path):
    (tmp_path / "dbt_project").mkdir()
    assert resolve_project_dir(config(tmp_path), None) == EXAMPLE_PROJECT


def test_the_ini_wins_over_rootdir_and_is_relative_to_it(tmp_path):
    make_project(tmp_path / "dbt_project")
    other = make_project(tmp_path / "transform")
    assert resolve_project_dir(config(tmp_path, ini="transform"), None) == other


def test_the_marker_wins_over_the_ini(tmp_path):
    make_project(tmp_path / "transform")
    marked = make_project(tmp_path / "marked")
    assert resolve_project_dir(config(tmp_path, ini="transform"), str(marked)) == marked


def test_an_ini_naming_no_project_is_an_error_naming_the_ini(tmp_path):
    with pytest.raises(UsageError, match=r"no dbt project at .*nowhere \(from ini"):
        resolve_project_dir(config(tmp_path, ini="nowhere"), None)
