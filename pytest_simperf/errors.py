"""Exceptions and warnings shared by every part of pytest-simperf.

One base class per kind, so users can filter our warnings (``-W ignore::SimperfWarning``) and
callers can catch our errors without catching unrelated ones.
"""

from __future__ import annotations


class SimperfError(Exception):
    """Base class for errors that pytest-simperf reports to the user as one clear message."""


class UsageError(SimperfError):
    """A bad option, ini value or marker argument; the message names what and where."""


class BaselineError(SimperfError):
    """A baseline file that cannot be used (malformed, truncated, unknown schema)."""


class SimperfWarning(UserWarning):
    """Base class for warnings emitted by pytest-simperf."""
