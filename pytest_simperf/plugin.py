"""pytest hooks for pytest-simperf (thin: logic lives in modules that do not import pytest)."""

from __future__ import annotations

# Feature plugins: each owns its hooks, options and fixtures.
pytest_plugins: list[str] = []
