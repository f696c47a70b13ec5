"""Per-model DuckDB counters: a window per dbt node, from its NodeStart to its NodeFinished, and
what of a node's counters reaches the phase (without dbt: events and counters made by hand)."""

from __future__ import annotations

from contextlib import contextmanager
from types import SimpleNamespace

from pytest_simperf.dbt.plugin import counter_figures
from pytest_simperf.dbt.runner import DbtRequest, _NodeWindows
from pytest_simperf.measure import Counters


def event(unique_id: str) -> SimpleNamespace:
    return SimpleNamespace(data=SimpleNamespace(node_info=SimpleNamespace(unique_id=unique_id)))


def test_each_node_gets_its_window_from_start_to_finish_and_interrupted_ones_are_closed():
    log: list[tuple[str, str, int | None]] = []

    @contextmanager
    def around(request, unique_id):
        log.append(("enter", unique_id, request.year))
        yield
        log.append(("exit", unique_id, request.year))

    windows = _NodeWindows(around, DbtRequest("build", 2026))
    windows.event("NodeStart", event("model.p.a"))
    windows.event("NodeFinished", event("model.p.a"))
    windows.event("NodeFinished", event("model.p.never_started"))  # ignored
    windows.event("NodeStart", event(""))  # no node: ignored
    windows.event("NodeStart", event("model.p.b"))
    windows.event("NodeStart", event("test.p.c"))
    windows.close_all()  # dbt stopped with two nodes open
    assert log == [
        ("enter", "model.p.a", 2026),
        ("exit", "model.p.a", 2026),
        ("enter", "model.p.b", 2026),
        ("enter", "test.p.c", 2026),
        ("exit", "test.p.c", 2026),
        ("exit", "model.p.b", 2026),
    ]
    windows.close_all()
    assert len(log) == 6


def test_complete_counters_are_recorded_exactly():
    counters = Counters(
        rows_scanned=1200, intermediate_rows=3400, peak_buffer_bytes=2 * 1024 * 1024
    )
    counters.statements = 5
    counters.sources.add(1)
    figures = counter_figures(counters)
    assert figures["rows_scanned"] == 1200
    assert figures["intermediate_rows"] == 3400
    assert figures["duckdb_peak_buffer_mb"] == 2.0
    assert figures["meta"] == {"counters_statements": 5, "duckdb_connections": 1}


def test_incomplete_counters_are_not_recorded_but_said():
    counters = Counters(rows_scanned=10, intermediate_rows=20)
    counters.statements = 3
    counters.missing("its result was still open (read in part)")
    figures = counter_figures(counters)
    assert "rows_scanned" not in figures and "intermediate_rows" not in figures
    assert figures["meta"]["counters_note"].startswith("counters incomplete: 1 of 3 statements")
    assert figures["meta"]["counters_note"].endswith("(not recorded)")


def test_a_node_without_statements_has_no_counters():
    assert counter_figures(None) == {}
    assert counter_figures(Counters()) == {}
