"""pytest glue for synthetic workforces: the ``workforce`` marker, ``--simperf-scale`` and the
``simperf_workforce`` fixture.

Imports neither duckdb nor the builders at module level, so ``pytest --help`` stays instant: only
``spec``, which the option's help, the marker's signature and the start-up check of
``simperf_scale`` need; the cache (and through it the builders) is left to the fixture.
(``pytest_simperf/workforce/__init__.py`` still imports them all.)
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_simperf.errors import UsageError
from pytest_simperf.workforce.spec import (
    SCALES,
    WorkforceSpec,
    resolve_employees,
    scale_names,
    spec_from_marker,
)

if TYPE_CHECKING:
    from pytest_simperf.workforce.cache import WorkforceCache
    from pytest_simperf.workforce.handle import Workforce

WORKFORCE_SIGNATURE = (
    "workforce(employees=1_000, years=5, seed=42, start_year=2025, rates=Rates()): the "
    "simperf_workforce fixture's data for this test. employees is a count or a scale name: "
    f"{scale_names()}; without it, --simperf-scale (ini simperf_scale, default small) decides."
)
DEFAULT_SCALE = "small"

_DEFAULT_EMPLOYEES = pytest.StashKey[int]()
_CACHE: pytest.StashKey[WorkforceCache] = pytest.StashKey()
_SPEC = pytest.StashKey[WorkforceSpec]()


def _scale_argument(value: str) -> int:
    try:
        return resolve_employees(value)
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("simperf")
    group.addoption(
        "--simperf-scale",
        dest="simperf_scale",
        default=None,
        type=_scale_argument,
        metavar="SCALE",
        help=(
            "workforce size for tests whose workforce marker names none: a count or one of "
            f"{', '.join(SCALES)} (default: ini simperf_scale, else {DEFAULT_SCALE})"
        ),
    )
    parser.addini(
        "simperf_scale",
        "default workforce size (count or scale name); --simperf-scale overrides it",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", WORKFORCE_SIGNATURE)
    employees: int | None = config.getoption("simperf_scale", None)
    if employees is None:
        ini = str(config.getini("simperf_scale") or "").strip()
        try:
            employees = resolve_employees(ini or DEFAULT_SCALE)
        except UsageError as exc:
            raise pytest.UsageError(f"ini option simperf_scale: {exc}") from None
    config.stash[_DEFAULT_EMPLOYEES] = employees


def _spec_for(item: pytest.Item) -> WorkforceSpec:
    """Merge the item's workforce markers (closest wins per keyword) into a spec, or fail it."""
    spec = item.stash.get(_SPEC, None)
    if spec is not None:
        return spec
    kwargs: dict[str, object] = {}
    args: tuple[object, ...] = ()
    for marker in item.iter_markers("workforce"):
        args = args or tuple(marker.args)
        for key, value in marker.kwargs.items():
            kwargs.setdefault(key, value)
    try:
        spec = spec_from_marker(args, kwargs, item.config.stash[_DEFAULT_EMPLOYEES])
    except UsageError as exc:
        pytest.fail(f"{item.nodeid}: bad @pytest.mark.workforce: {exc}", pytrace=False)
    item.stash[_SPEC] = spec
    return spec


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Checked for every marked test, even one that does not use the fixture, so a typo is
    # reported rather than silently ignored.
    if item.get_closest_marker("workforce") is not None:
        _spec_for(item)


def _cache(config: pytest.Config, factory: pytest.TempPathFactory) -> WorkforceCache:
    cache = config.stash.get(_CACHE, None)
    if cache is None:
        from pytest_simperf.workforce.cache import WorkforceCache

        base = factory.getbasetemp()
        # xdist workers each have basetemp/popen-gwN; their parent is shared by the session.
        # Asked of the config, not of PYTEST_XDIST_WORKER: that variable is inherited by any
        # pytest run started from inside a worker (pytester, subprocesses), which is no worker.
        worker = getattr(config, "workerinput", None) is not None
        root = base.parent if worker else base
        cache = WorkforceCache(root / "simperf-workforce")
        config.stash[_CACHE] = cache
    return cache


@pytest.fixture
def simperf_workforce(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Workforce]:
    """A private copy of the synthetic workforce the test's ``workforce`` marker describes.

    Built once per session (and once across xdist workers), copied per test, deleted after it.
    """
    from pytest_simperf.fixtures import prepare_connection
    from pytest_simperf.plugin import simperf_session

    item = request.node
    assert isinstance(item, pytest.Item)
    spec = _spec_for(item)
    folder: Path = tmp_path_factory.mktemp("workforce")
    try:
        workforce = _cache(request.config, tmp_path_factory).open_copy(spec, folder)
    except UsageError as exc:
        pytest.fail(f"{item.nodeid}: simperf_workforce: {exc}", pytrace=False)
    raw = workforce.con
    try:
        simperf_session(request.config)  # prepare_connection looks it up; it may not exist yet
        workforce.con = prepare_connection(request, raw)
        yield workforce
    finally:
        raw.close()
        shutil.rmtree(folder, ignore_errors=True)
