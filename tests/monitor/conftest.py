"""Fake clocks and memory for the monitor: every figure a test asserts is scripted, never slept."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pytest_simperf import monitor
from pytest_simperf.options import ComponentSla


class ScriptedClock:
    """A clock the test moves: ``advance(s)`` is the time the work 'took'."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeMemory:
    """RSS the test sets; a kernel-style high-water mark that the tracker resets."""

    def __init__(self) -> None:
        self.rss = 100.0
        self.hwm = 100.0

    def grow(self, mb: float) -> None:
        self.rss += mb
        self.hwm = max(self.hwm, self.rss)

    def shrink(self, mb: float) -> None:
        self.rss -= mb

    def rss_mb(self) -> float:
        return self.rss

    def peak_mb(self) -> float | None:
        return self.hwm

    def reset_peak(self) -> bool:
        self.hwm = self.rss
        return True


class Rig:
    """One history, scripted clocks and memory, and run start times an hour apart."""

    def __init__(self, path: Path) -> None:
        self.history = path / "history.duckdb"
        self.wall = ScriptedClock()
        self.cpu = ScriptedClock()
        self.wait = ScriptedClock()
        self.memory = FakeMemory()
        self.started = datetime(2026, 11, 1, 2, 0, 0)
        self.alerts: list[monitor.Alert] = []

    def now(self) -> datetime:
        self.started += timedelta(seconds=1)
        return self.started

    def instruments(self) -> monitor.Instruments:
        return monitor.Instruments(
            clock=self.wall,
            cpu_clock=self.cpu,
            memory=self.memory,
            now=self.now,
            wait_clock=self.wait,
        )

    def run(
        self,
        name: str = "nightly",
        *,
        slas: dict[str, ComponentSla] | None = None,
        config: monitor.MonitorConfig | None = None,
        host: str = "host-a",
        on_alert: Callable[[monitor.Alert], Any] | None = None,
    ) -> monitor.Run:
        self.started += timedelta(hours=1)
        return monitor.run(
            name,
            history=self.history,
            config=config or monitor.MonitorConfig(slas=slas or {}),
            host=host,
            instruments=self.instruments(),
            on_alert=on_alert or self.alerts.append,
        )

    def work(self, seconds: float, cpu: float | None = None, wait: float = 0.0) -> None:
        """Work that took ``seconds`` of wall time, ``cpu`` of CPU time (default: all of it),
        ``wait`` of it runnable but waiting for a core."""
        self.wall.advance(seconds)
        self.cpu.advance(seconds if cpu is None else cpu)
        self.wait.advance(wait)

    def night(
        self,
        seconds: dict[tuple[str, int | None], float],
        *,
        cpu: dict[tuple[str, int | None], float] | None = None,
        **kwargs: Any,
    ) -> monitor.Run:
        """One run whose phases take the given wall seconds (and CPU seconds, default equal)."""
        with self.run(**kwargs) as run:
            for (component, year), took in seconds.items():
                with run.phase(component, year=year):
                    self.work(took, cpu=None if cpu is None else cpu[(component, year)])
        return run


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return Rig(tmp_path)
