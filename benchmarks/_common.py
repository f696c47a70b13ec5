"""Helpers shared by the benchmark scripts: what was measured, and how busy the machine was."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the package had uncommitted changes."""

    def git(*args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return proc.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "package_dirty": bool(git("status", "--porcelain", "--", "pytest_simperf")),
    }


def load() -> str:
    """The 1, 5 and 15 minute load averages, to read every figure against."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def write_results(path: Path, payload: dict[str, Any]) -> None:
    """Write a benchmark's figures as sorted JSON (diffable between runs) and say where."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path}")
