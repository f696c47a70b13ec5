"""The first two things a newcomer types: ``simperf --version`` and a bare ``simperf``."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from pytest_simperf.cli import main

SUBCOMMANDS = ("report", "runs", "compare", "trend", "sla", "dashboard", "generate")


def test_version_prints_the_installed_distribution_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    # The package's __version__ and the installed metadata must agree, or one of them lies.
    assert out.strip() == f"simperf {importlib.metadata.version('pytest-simperf')}"


def test_bare_simperf_lists_the_subcommands_on_stderr_and_exits_2(capsys):
    assert main([]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("usage: simperf")
    for name in SUBCOMMANDS:
        assert f"\n    {name} " in captured.err, name


def test_console_script_entry_behaves_like_main():
    """Through ``python -m``, as the installed ``simperf`` script runs it."""
    version = subprocess.run(
        [sys.executable, "-m", "pytest_simperf.cli", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("simperf ")
    bare = subprocess.run(
        [sys.executable, "-m", "pytest_simperf.cli"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bare.returncode == 2
    assert "generate" in bare.stderr
    assert bare.stdout == ""
