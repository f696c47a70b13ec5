"""Write the run report's files (JSON, Markdown) and append it to the history database.

Each output is independent: a failure to write one is reported (returned as a message for the
terminal summary) and does not stop the others or hide the test results.
"""

from __future__ import annotations

import json
from typing import Any

from pytest_simperf.baseline import write_atomic
from pytest_simperf.options import Settings


def write_outputs(report: dict[str, Any], settings: Settings) -> list[str]:
    """Write every configured output; return one message per output that failed."""
    errors: list[str] = []
    if settings.json_path is not None:
        try:
            text = json.dumps(report, indent=2, sort_keys=True, default=str) + "\n"
            write_atomic(settings.json_path, text)
        except (OSError, ValueError) as exc:
            errors.append(f"JSON report {settings.json_path}: cannot be written ({exc})")
    if settings.markdown_path is not None:
        try:
            from pytest_simperf.report.markdown import render_markdown

            write_atomic(settings.markdown_path, render_markdown(report))
        except (OSError, ValueError) as exc:
            errors.append(f"Markdown report {settings.markdown_path}: cannot be written ({exc})")
    if settings.history_path is not None and report["tests"]:
        try:
            from pytest_simperf.history import record_run

            run_id = record_run(settings.history_path, report)
            report["run"]["history_run_id"] = run_id
        except Exception as exc:  # history must never cost the user their test results
            errors.append(f"history {settings.history_path}: run not recorded ({exc})")
    return errors
