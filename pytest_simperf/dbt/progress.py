"""Progress of a long dbt run inside pytest: what it is doing now, year by year.

A five-year build with five rounds runs for minutes with nothing on the screen (dbt's own log
is kept off the console). On a terminal each step of each year gets a line (a step is a batch
of models: one dbt invocation); in a CI log, which keeps every line, one line per year is
enough. The writer is injected (pytest's terminal reporter in the fixture), so tests read the
lines without a terminal. Imports neither pytest, dbt nor duckdb.
"""

from __future__ import annotations

from collections.abc import Callable

from pytest_simperf.dbt.runner import YearProgress


def _seconds(value: float) -> str:
    return f"{value:.2f} s" if value < 60 else f"{value / 60:.1f} min"


def _year(event: YearProgress) -> str:
    text = f"{'rebuild of ' if event.rebuild else ''}{event.year}"
    if not event.rebuild and event.years > 1:
        text += f" ({event.index}/{event.years})"
    if event.rounds > 1:
        text += f", round {event.round}/{event.rounds}"
    return text


class ProgressPrinter:
    """Turns ``YearProgress`` events into lines: every step and year on a terminal (``tty``),
    one line per year otherwise."""

    def __init__(
        self, write: Callable[[str], None], *, tty: bool, prefix: str = "simperf_dbt"
    ) -> None:
        self.write = write
        self.tty = tty
        self.prefix = prefix

    def __call__(self, event: YearProgress) -> None:
        if event.kind == "step":
            if self.tty and event.steps > 1:
                built = (
                    f"{event.models} model{'s' if event.models != 1 else ''}, "
                    if (event.models)
                    else ""
                )
                self.write(
                    f"{self.prefix}: {_year(event)} · {event.step}: {built}"
                    f"{_seconds(event.seconds)}"
                )
            return
        steps = f"{event.steps} steps, " if event.steps > 1 else ""
        self.write(
            f"{self.prefix}: {_year(event)} built: {steps}{event.models} "
            f"model{'s' if event.models != 1 else ''} in {_seconds(event.seconds)}"
        )
