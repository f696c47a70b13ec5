"""What a pytest run pays for the plugin when ``--simperf`` is off (issue 2): no heavy import.

Each case starts a fresh interpreter (this process has long imported everything, and the root
conftest imports duckdb and psutil on purpose), runs ``pytest.main`` with only our plugin loaded,
and reports which modules it left in ``sys.modules``. Re-adding a module-level import of the
session, the verdict machinery or a feature's logic to a plugin module fails these tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: Must not be imported by a run that measures nothing (``duckdb``, ``psutil``, ``dbt``: any
#: module of those packages).
HEAVY = (
    "pytest_simperf.session",
    "pytest_simperf.verdict",
    "pytest_simperf.stats",
    "pytest_simperf.baseline",
    "pytest_simperf.calibration",
    "pytest_simperf.measure",
    "pytest_simperf.fixtures",
    "pytest_simperf.scaling",
    "pytest_simperf.scaling_gate",
    "pytest_simperf.benchcompat.convert",
    "pytest_simperf.report.terminal",
    # The packages' __init__ re-export these lazily (PEP 562), so importing the plugin
    # modules inside the packages does not build them.
    "pytest_simperf.workforce.generate",
    "pytest_simperf.workforce.cache",
    "pytest_simperf.dbt.runner",
    "duckdb",
    "psutil",
    "dbt",
)
RUN = textwrap.dedent(
    """
    import json, sys
    import pytest
    code = pytest.main(sys.argv[1:])
    print("SIMPERF-MODULES " + json.dumps({"exit": int(code), "modules": sorted(sys.modules)}))
    """
)
SKIP_TEXT = "performance test: skipped by --simperf-skip"


def run_pytest(folder: Path, *args: str) -> tuple[int, set[str], str]:
    """Run pytest in a fresh interpreter with only our plugin: (exit code, modules, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    plugin_only = ("-p", "pytest_simperf.plugin", "-p", "no:cacheprovider")
    proc = subprocess.run(
        [sys.executable, "-c", RUN, *plugin_only, "-rs", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("SIMPERF-MODULES ")]
    assert lines, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(lines[-1].removeprefix("SIMPERF-MODULES "))
    return int(data["exit"]), set(data["modules"]), proc.stdout


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """The names in ``names`` that were imported (a package counts when any submodule was)."""
    return [n for n in names if n in modules or any(m.startswith(n + ".") for m in modules)]


def make_project(folder: Path, body: str) -> Path:
    folder.mkdir()
    (folder / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    (folder / "test_suite.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, set[str], str]:
    folder = make_project(
        tmp_path_factory.mktemp("startup") / "plain",
        """
        def test_one():
            assert 1 + 1 == 2
        """,
    )
    return run_pytest(folder)


def test_plain_run_imports_no_heavy_module(plain_run: tuple[int, set[str], str]) -> None:
    code, modules, output = plain_run
    assert code == 0, output
    assert "pytest_simperf.plugin" in modules and "pytest_simperf.scaling_plugin" in modules
    assert loaded(modules, HEAVY) == []


def test_package_names_still_load_on_first_use() -> None:
    from pytest_simperf import dbt, workforce

    assert workforce.WorkforceSpec.__module__ == "pytest_simperf.workforce.spec"
    assert callable(workforce.build_workforce) and dbt.DbtProject.__name__ == "DbtProject"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = workforce.nope


PERF_SUITE = """
import pytest

@pytest.mark.sla(seconds=5)
def test_marked():
    pass

def test_fixture(simperf):
    assert simperf.measure(lambda: 6 * 7) == 42
    with simperf.phase("yearly", year=2025):
        pass

@pytest.mark.workforce(employees=100, years=2)
def test_plain_with_workforce_marker():
    pass
"""


def test_skipping_perf_tests_imports_no_heavy_module(tmp_path: Path) -> None:
    """With --simperf-skip, perf tests are skipped on their markers alone."""
    folder = make_project(tmp_path / "perf", PERF_SUITE)
    code, modules, output = run_pytest(folder, "--simperf-skip")
    assert code == 0, output
    assert output.count(SKIP_TEXT) == 2, output
    assert "1 passed, 2 skipped" in output
    assert loaded(modules, HEAVY) == []


def test_running_perf_tests_unmeasured_imports_no_heavy_module(tmp_path: Path) -> None:
    """Without --simperf, perf tests run once through ``UnmeasuredSimperf``: still no session,
    verdict or measuring machinery (a test that opens DuckDB pays for DuckDB, not for us)."""
    folder = make_project(tmp_path / "unmeasured", PERF_SUITE)
    code, modules, output = run_pytest(folder)
    assert code == 0, output
    assert "3 passed" in output and SKIP_TEXT not in output
    assert loaded(modules, HEAVY) == []


def test_simperf_on_creates_the_session(tmp_path: Path) -> None:
    """The check above can fail: with --simperf the session and its machinery are loaded."""
    folder = make_project(tmp_path / "on", "def test_one():\n    pass\n")
    code, modules, output = run_pytest(folder, "--simperf", "--simperf-history=off", "--co")
    assert code == 0, output
    assert {"pytest_simperf.session", "pytest_simperf.verdict"} <= modules


def test_scaling_marker_is_registered_without_the_gate(tmp_path: Path) -> None:
    """``pytest --markers`` lists the scaling marker's signature; the gate stays unimported."""
    folder = make_project(tmp_path / "markers", "def test_one():\n    pass\n")
    code, modules, output = run_pytest(folder, "--markers")
    assert code == 0, output
    assert "@pytest.mark.scaling(employees, metric='auto', max_class=None" in output
    assert loaded(modules, HEAVY) == []
