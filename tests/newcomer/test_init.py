"""``simperf init``: what it writes, what it refuses to touch, and that its starter passes."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from pytest_simperf import cli
from pytest_simperf.errors import UsageError
from pytest_simperf.init_cli import EXAMPLE_DBT_PROJECT, scaffold

INSTALL = '      - run: pip install pytest "pytest-simperf @ git+https://example.org/p@abc"'


def run_init(root: Path, **kwargs: object) -> list[str]:
    lines: list[str] = []
    scaffold(root, out=lines.append, install_step=INSTALL, **kwargs)  # type: ignore[arg-type]
    return lines


def test_empty_project_gets_the_starter(tmp_path: Path) -> None:
    output = "\n".join(run_init(tmp_path))
    test = (tmp_path / "tests/perf/test_pipeline.py").read_text()
    compile(test, "test_pipeline.py", "exec")
    assert "@pytest.mark.sla(" in test and 'simperf.phase("yearly_events", year=year)' in test
    config = tomllib.loads((tmp_path / "pyproject.toml").read_text())
    assert config["tool"]["simperf"]["sla"]["headcount_by_department"]["seconds"] == 2
    assert (tmp_path / ".simperf/.gitignore").read_text().splitlines()[-1] == "*"
    workflow = (tmp_path / ".github/workflows/simperf.yml").read_text()
    assert INSTALL in workflow and "pytest --simperf " in workflow
    for path in ("tests/perf/test_pipeline.py", "pyproject.toml", ".simperf/.gitignore"):
        assert path in output
    assert "pytest --simperf-update-baseline" in output and "pytest --simperf " in output
    assert not list(tmp_path.rglob("*.tmp"))  # atomic writes leave no temporary file


def test_existing_pyproject_is_appended_to_not_replaced(tmp_path: Path) -> None:
    original = '[project]\r\nname = "mine"\r\n\r\n[tool.ruff]\r\nline-length = 88'  # no final EOL
    (tmp_path / "pyproject.toml").write_bytes(original.encode())
    output = "\n".join(run_init(tmp_path))
    text = (tmp_path / "pyproject.toml").read_bytes().decode()
    assert text.startswith(original + "\r\n")
    assert "\n" not in text.replace("\r\n", "")  # the file's own line endings
    data = tomllib.loads(text)
    assert data["project"]["name"] == "mine" and data["tool"]["ruff"]["line-length"] == 88
    assert "headcount_by_department" in data["tool"]["simperf"]["sla"]
    assert "appended pyproject.toml" in output


def test_existing_simperf_section_is_left_alone_and_said(tmp_path: Path) -> None:
    original = "[tool.simperf.sla]\nmine = 3\n"
    (tmp_path / "pyproject.toml").write_text(original)
    output = "\n".join(run_init(tmp_path))
    assert (tmp_path / "pyproject.toml").read_text() == original
    assert "kept     pyproject.toml" in output and "already has [tool.simperf]" in output


def test_broken_pyproject_stops_before_anything_is_written(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\nname = 1\n")
    with pytest.raises(UsageError, match=r"pyproject.toml: cannot parse TOML.*nothing written"):
        run_init(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pyproject.toml"]


def test_existing_files_are_refused_in_one_line_then_forced(tmp_path: Path) -> None:
    mine = tmp_path / "tests/perf/test_pipeline.py"
    mine.parent.mkdir(parents=True)
    mine.write_text("# my own test\n")
    with pytest.raises(UsageError) as refused:
        run_init(tmp_path)
    assert str(refused.value) == (
        "tests/perf/test_pipeline.py already exists; nothing written (--force replaces it)"
    )
    assert mine.read_text() == "# my own test\n"
    assert not (tmp_path / "pyproject.toml").exists()  # nothing at all was written
    output = "\n".join(run_init(tmp_path, force=True))
    assert "replaced tests/perf/test_pipeline.py" in output
    assert "simperf_workforce" in mine.read_text()


def test_command_line_refusal_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / ".github/workflows").mkdir(parents=True)
    (tmp_path / ".github/workflows/simperf.yml").write_text("mine\n")
    assert cli.main(["init", "--path", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "simperf init: error: .github/workflows/simperf.yml already exists; nothing written "
        "(--force replaces it)"
    ]


def test_ci_print_writes_no_workflow(tmp_path: Path) -> None:
    output = "\n".join(run_init(tmp_path, ci="print"))
    assert not (tmp_path / ".github").exists()
    assert "save as .github/workflows/simperf.yml" in output and INSTALL in output
    run_init(tmp_path / "none", ci="none")
    assert not (tmp_path / "none/.github").exists()


def test_with_dbt_copies_the_shipped_project(tmp_path: Path) -> None:
    output = run_init(tmp_path, with_dbt=True)
    shipped = sorted(
        p.relative_to(EXAMPLE_DBT_PROJECT).as_posix()
        for p in EXAMPLE_DBT_PROJECT.rglob("*")
        if p.is_file() and not {"target", "logs", "__pycache__"} & set(p.parts)
    )
    copied = sorted(
        p.relative_to(tmp_path / "dbt_project").as_posix()
        for p in (tmp_path / "dbt_project").rglob("*")
        if p.is_file()
    )
    assert copied == shipped and "dbt_project.yml" in copied
    dbt_lines = [line.split() for line in output if line.split()[1:2] == ["dbt_project/"]]
    assert [words[0] for words in dbt_lines] == ["created"]  # one line for the whole project
    assert "simperf_dbt.run_years()" in (tmp_path / "tests/perf/test_dbt_pipeline.py").read_text()
    with pytest.raises(UsageError, match=r", dbt_project/ already exist; nothing written"):
        run_init(tmp_path, with_dbt=True)


def test_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(UsageError, match=r"--path .*f: not a folder"):
        run_init(tmp_path / "f")


def test_the_starter_runs_unmeasured_records_and_compares(pytester: pytest.Pytester) -> None:
    """The scaffold's own promise, in this interpreter's environment (the wheel-installed
    walk is tests/newcomer/test_newcomer_path.py)."""
    run_init(pytester.path, ci="none")
    quiet = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--simperf-history=off")
    pytester.runpytest_subprocess(*quiet).assert_outcomes(passed=2)
    pytester.runpytest_subprocess(*quiet, "--simperf-update-baseline").assert_outcomes(passed=2)
    assert (pytester.path / "baselines/tests/perf/test_pipeline.json").is_file()
    pytester.runpytest_subprocess(*quiet, "--simperf").assert_outcomes(passed=2)
