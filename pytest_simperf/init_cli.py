"""``simperf init``: scaffold a working starter into the user's repository.

A newcomer's first perf test should pass on the first try: this writes one that the docs
describe (``tests/perf/test_pipeline.py``: a synthetic workforce, an ``sla`` marker, a phase per
simulation year), component SLAs in ``pyproject.toml``, a ``.gitignore`` inside ``.simperf/``
(the local run history, as ``.pytest_cache`` does), a GitHub Actions workflow that gates every
push and pull request, and with ``--with-dbt`` the example dbt-duckdb project shipped in the
package and a test that builds it.

It never overwrites a file the user has: an existing target stops the command before anything
is written (``--force`` replaces the files it writes; ``pyproject.toml`` is only ever appended
to, and left alone when it already has ``[tool.simperf]``). Every file is written under a
temporary name in its folder and renamed into place, so none is ever half-written.

No pytest import here: the command line loads this module only when ``init`` runs.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_simperf.errors import UsageError

#: The example dbt project inside the package (``pytest_simperf/dbt/example_project``), found
#: without importing ``pytest_simperf.dbt`` (which loads pytest).
EXAMPLE_DBT_PROJECT = Path(__file__).resolve().parent / "dbt" / "example_project"
#: Where the dbt project lands: the folder ``simperf_dbt`` builds when nothing else is configured.
DBT_PROJECT_DIR = "dbt_project"
#: Not copied from the example project: dbt's and Python's own output.
_SKIP_PARTS = frozenset({"target", "logs", "dbt_packages", "__pycache__", ".user.yml"})
CI_CHOICES = ("github", "print", "none")
WORKFLOW_PATH = ".github/workflows/simperf.yml"

PIPELINE_TEST = '''\
"""Performance tests of the pipeline, written by `simperf init` as a starting point.

The `workforce` marker gives the test its own copy of a seeded synthetic workforce (tables
`census`, `workforce_events`, `workforce_snapshots`): replace the queries with your pipeline's
steps, reading your own tables or these.

    pytest --simperf-update-baseline     # record baselines/, then commit them
    pytest --simperf-add-baseline-session   # twice more: the drift between sessions measured
    pytest --simperf                     # measure and compare with baselines/
    pytest                               # without --simperf: each test runs once, unmeasured
"""

import pytest

EVENTS_BY_LEVEL = """
    SELECT e.event_type, s.level_id, count(*) AS events, sum(e.compensation_amount) AS pay_after
    FROM workforce_events AS e
    JOIN workforce_snapshots AS s USING (employee_id, simulation_year)
    WHERE e.simulation_year = ?
    GROUP BY ALL
    ORDER BY ALL
"""
ACTIVE_HEADCOUNT = """
    SELECT count(*) FROM workforce_snapshots
    WHERE simulation_year = ? AND employment_status = 'active'
"""
HEADCOUNT_BY_DEPARTMENT = """
    SELECT department, level_id, count(*) AS headcount,
           sum(employee_gross_compensation) AS payroll, max(pay_rank) AS lowest_pay_rank
    FROM (
        SELECT *, rank() OVER (
            PARTITION BY department ORDER BY employee_gross_compensation DESC
        ) AS pay_rank
        FROM census
        WHERE active
    )
    GROUP BY ALL
    ORDER BY ALL
"""


@pytest.mark.workforce(employees=100_000, years=3, seed=7)
@pytest.mark.sla(seconds=5, memory_mb=500)
def test_yearly_events(simperf, simperf_workforce):
    """One phase per simulation year: a slowdown is reported as `yearly_events@2026`."""
    con = simperf_workforce.con

    def events(year):
        return con.execute(EVENTS_BY_LEVEL, [year]).fetchall()

    headcount = con.execute("SELECT count(*) FROM census WHERE active").fetchone()[0]
    for year in simperf_workforce.simulation_years:
        with simperf.phase("yearly_events", year=year):
            rows = simperf.measure(events, year)
        # A perf test still checks its result: headcount moves by hires minus terminations.
        hires = sum(n for event_type, _, n, _ in rows if event_type == "hire")
        leavers = sum(n for event_type, _, n, _ in rows if event_type == "termination")
        headcount += hires - leavers
        assert con.execute(ACTIVE_HEADCOUNT, [year]).fetchone()[0] == headcount


@pytest.mark.workforce(employees=100_000, years=3, seed=7)
def test_headcount_by_department(simperf, simperf_workforce):
    """No sla marker: the phase's limit comes from [tool.simperf.sla] in pyproject.toml."""
    con = simperf_workforce.con
    with simperf.phase("headcount_by_department"):
        rows = simperf.measure(lambda: con.execute(HEADCOUNT_BY_DEPARTMENT).fetchall())
    assert sum(row[2] for row in rows) == simperf_workforce.employees
'''

DBT_TEST = '''\
"""The example dbt-duckdb project (dbt_project/, written by `simperf init --with-dbt`), built
year by year against a synthetic workforce; every model of every year is a phase
(`fct_yearly_events@2026`). Needs `pip install "pytest-simperf[dbt]"`.
"""

import pytest


# dbt reports wall time only, and a model of a few tens of milliseconds moves by half between
# sessions on a shared machine: this gate is for a model changing growth class (a join turned
# quadratic is +500% or more), not for 15% drifts. Tighten it once your history shows the noise.
@pytest.mark.simperf(thresholds=(100, 200, 400), fail_on="CRITICAL")
@pytest.mark.workforce(employees=2_000, years=3, seed=7)
@pytest.mark.sla(seconds=60, memory_mb=1500, phase="dbt_total")
def test_dbt_simulation(simperf, simperf_dbt):
    years = simperf_dbt.simulation_years
    simperf_dbt.run_years()
    headcount = simperf_dbt.query(
        "select simulation_year, count(*) from fct_workforce_snapshot "
        "where employment_status = 'active' group by all order by all"
    )
    assert [year for year, _ in headcount] == years
    assert all(active > 0 for _, active in headcount)
'''

SIMPERF_TOML = """\
[tool.simperf.sla]
# Component SLAs (written by `simperf init`): a phase of this name, in any test, gets this limit
# unless the test's own @pytest.mark.sla sets one. Seconds, or a table, e.g.
#   fct_yearly_events = { seconds = 300, warning_seconds = 240, memory_mb = 2048 }
headcount_by_department = { seconds = 2, memory_mb = 500 }
"""

SIMPERF_GITIGNORE = """\
# Created by simperf init: the run history (history.duckdb) is local to each machine.
*
"""

WORKFLOW = """\
# Performance gate written by `simperf init`: runs the perf tests against the committed
# baselines/ on every push and pull request, and puts the summary on the job's page.
# DuckDB's work counters gate on any machine; seconds gate only against a baseline recorded on
# a comparable host (record them on the runner, or add --simperf-instructions with valgrind).
name: simperf

on:
  push:
  pull_request:

jobs:
  perf:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "{python}"
{install}
      - name: Performance gate
        run: pytest --simperf --simperf-markdown=simperf.md --simperf-json=simperf.json
      - name: Summary
        if: always()
        run: test -f simperf.md && cat simperf.md >> "$GITHUB_STEP_SUMMARY" || true
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: simperf-report
          path: simperf.json
          if-no-files-found: ignore
"""


@dataclasses.dataclass(frozen=True)
class Planned:
    """One file ``init`` writes: its path under the root, its text, and what it is for."""

    path: str
    text: str
    why: str


def register(subparsers: Any) -> None:
    """Add the ``init`` subcommand."""
    parser = subparsers.add_parser(
        "init",
        help="scaffold a starter perf test, config and CI workflow into a project",
        description=(
            "Write a working starter into your repository: tests/perf/test_pipeline.py, "
            "[tool.simperf.sla] in pyproject.toml, .simperf/.gitignore and a GitHub Actions "
            "workflow. Existing files are never overwritten without --force."
        ),
    )
    parser.add_argument(
        "--path",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="the project's root (default: the current directory)",
    )
    parser.add_argument(
        "--with-dbt",
        action="store_true",
        help=f"also copy the example dbt-duckdb project to {DBT_PROJECT_DIR}/ and a test that "
        "builds it (needs pytest-simperf[dbt])",
    )
    parser.add_argument(
        "--ci",
        choices=CI_CHOICES,
        default="github",
        help=f"github: write {WORKFLOW_PATH} (default); print: print it instead; none: neither",
    )
    parser.add_argument(
        "--force", action="store_true", help="replace files init would write that already exist"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return scaffold(args.path, with_dbt=args.with_dbt, ci=args.ci, force=args.force)


def scaffold(
    root: Path,
    *,
    with_dbt: bool = False,
    ci: str = "github",
    force: bool = False,
    out: Callable[[str], None] = print,
    install_step: str | None = None,
) -> int:
    """Write the starter into ``root``; return 0. Raises ``UsageError`` (nothing written) when
    a target exists without ``force``, the root is not a folder, or pyproject.toml is broken."""
    if root.exists() and not root.is_dir():
        raise UsageError(f"--path {root}: not a folder")
    install = install_step if install_step is not None else ci_install_step()
    files = planned_files(with_dbt=with_dbt, ci=ci, install=install)
    if not force:
        existing = [f.path for f in files if (root / f.path).exists()]
        if with_dbt and (root / DBT_PROJECT_DIR).exists():
            existing = [p for p in existing if not p.startswith(DBT_PROJECT_DIR + "/")]
            existing.append(DBT_PROJECT_DIR + "/")
        if existing:
            names = ", ".join(existing)
            verb, it = ("exists", "it") if len(existing) == 1 else ("exist", "them")
            raise UsageError(f"{names} already {verb}; nothing written (--force replaces {it})")
    pyproject = root / "pyproject.toml"
    pyproject_text, pyproject_note = _pyproject_update(pyproject)

    written: list[tuple[str, str, str]] = []
    dbt_files: list[str] = []
    for planned in files:
        target = root / planned.path
        verb = "replaced" if target.exists() else "created"
        atomic_write(target, planned.text)
        if planned.path.startswith(DBT_PROJECT_DIR + "/"):
            dbt_files.append(verb)
        else:
            written.append((verb, planned.path, planned.why))
    if dbt_files:  # one line for the project, not one per model
        verb = "replaced" if "replaced" in dbt_files else "created"
        why = f"the example dbt-duckdb project ({len(dbt_files)} files)"
        written.append((verb, DBT_PROJECT_DIR + "/", why))
    gitignore = root / ".simperf" / ".gitignore"
    if gitignore.exists():
        written.append(("kept", ".simperf/.gitignore", "already there"))
    else:
        atomic_write(gitignore, SIMPERF_GITIGNORE)
        written.append(("created", ".simperf/.gitignore", "keeps the local run history out of git"))
    if pyproject_text is not None:
        verb = "appended" if pyproject.exists() else "created"
        atomic_write(pyproject, pyproject_text)
        written.append((verb, "pyproject.toml", "[tool.simperf.sla]: component SLAs"))
    else:
        written.append(("kept", "pyproject.toml", pyproject_note))

    out(f"simperf init: {root.resolve()}")
    width = max(len(path) for _, path, _ in written)
    for verb, path, why in written:
        out(f"  {verb:<8} {path:<{width}}  {why}")
    if ci == "print":
        out("")
        out(f"CI workflow (save as {WORKFLOW_PATH}, or adapt to your CI):")
        out(render_workflow(install))
    if "pytest-simperf==" in install and ci != "none":
        out(
            "  note: pytest-simperf is not on PyPI yet; point the workflow's install step at "
            "where you install it from (a wheel in the repository, a git URL)"
        )
    out("")
    out("Next:")
    if with_dbt:
        out('  pip install "pytest-simperf[dbt]"    # dbt-core and dbt-duckdb, for the dbt test')
    out("  pytest --simperf-update-baseline     # record baselines/, then commit them")
    out("  pytest --simperf-add-baseline-session   # twice more, at other times: the verdict")
    out("                                          # then measures the drift between sessions")
    out("  pytest --simperf                     # measure and compare with baselines/")
    return 0


def planned_files(*, with_dbt: bool, ci: str, install: str) -> list[Planned]:
    """Every file ``init`` writes besides pyproject.toml and .simperf/.gitignore."""
    files = [
        Planned(
            "tests/perf/test_pipeline.py",
            PIPELINE_TEST,
            "starter perf tests: workforce, sla, a phase per year",
        )
    ]
    if ci == "github":
        files.append(
            Planned(WORKFLOW_PATH, render_workflow(install), "CI gate on every push and PR")
        )
    if with_dbt:
        files.append(
            Planned(
                "tests/perf/test_dbt_pipeline.py",
                DBT_TEST,
                "builds dbt_project/ year by year, each model a phase",
            )
        )
        files.extend(_dbt_files())
    return files


def _dbt_files() -> list[Planned]:
    if not (EXAMPLE_DBT_PROJECT / "dbt_project.yml").is_file():
        raise UsageError(
            f"the example dbt project is missing from the installed package "
            f"({EXAMPLE_DBT_PROJECT}); reinstall pytest-simperf"
        )
    files = []
    for source in sorted(EXAMPLE_DBT_PROJECT.rglob("*")):
        relative = source.relative_to(EXAMPLE_DBT_PROJECT)
        if not source.is_file() or _SKIP_PARTS & set(relative.parts):
            continue
        text = source.read_text(encoding="utf-8")
        files.append(Planned(f"{DBT_PROJECT_DIR}/{relative.as_posix()}", text, "dbt project"))
    return files


def render_workflow(install: str) -> str:
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    return WORKFLOW.replace("{python}", python).replace("{install}", install)


def ci_install_step() -> str:
    """The workflow's install step: from the VCS URL pip recorded when it installed this
    package (PEP 610), else the version, with a comment that it is not on PyPI yet."""
    from importlib import metadata

    from pytest_simperf import __version__

    requirement = f"pytest-simperf=={__version__}"
    comment = (
        "      # pytest-simperf is not on PyPI yet: install it from where you got it (a wheel\n"
        "      # committed to the repository, or a git URL: pytest-simperf @ git+https://...)\n"
    )
    try:
        raw = metadata.distribution("pytest-simperf").read_text("direct_url.json")
        direct = json.loads(raw) if raw else {}
    except (metadata.PackageNotFoundError, ValueError):
        direct = {}
    vcs = direct.get("vcs_info") if isinstance(direct, dict) else None
    if isinstance(vcs, dict) and vcs.get("vcs") == "git" and direct.get("url"):
        requirement = f"pytest-simperf @ git+{direct['url']}@{vcs.get('commit_id', 'HEAD')}"
        comment = ""
    return f'{comment}      - run: pip install pytest "{requirement}"'


def _pyproject_update(path: Path) -> tuple[str | None, str]:
    """The new text of pyproject.toml (None: leave it) and, when left, why."""
    import tomllib

    if not path.exists():
        return SIMPERF_TOML, ""
    try:
        with path.open(encoding="utf-8", newline="") as handle:  # keep its line endings
            text = handle.read()
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot parse TOML ({exc}); nothing written") from None
    tool = data.get("tool", {})
    if isinstance(tool, dict) and "simperf" in tool:
        return None, "already has [tool.simperf]: left as it is (see README, Markers)"
    newline = "\r\n" if "\r\n" in text else "\n"
    block = SIMPERF_TOML.replace("\n", newline)
    if text and not text.endswith(("\n", "\r")):
        text += newline
    updated = text + (newline if text.strip() else "") + block
    try:
        tomllib.loads(updated)
    except tomllib.TOMLDecodeError as exc:  # e.g. a dotted key defining tool.simperf.sla
        raise UsageError(
            f"{path}: appending [tool.simperf.sla] would not parse ({exc}); nothing written"
        ) from None
    return updated, ""


def atomic_write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename:
    the file is the old one or the new one, never half of either. Keeps an existing mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o7777 if path.exists() else None
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).chmod(mode if mode is not None else 0o644)
        Path(tmp).replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise
