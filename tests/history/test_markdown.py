"""The Markdown CI summary."""

from __future__ import annotations

from datetime import datetime

from pytest_simperf.report.markdown import fmt_seconds, render_markdown

T0 = datetime(2026, 11, 2, 8, 0, 0)


def section(text: str, title: str) -> str:
    """The body of one ``### title`` section."""
    after = text.split(f"### {title}\n", 1)[1]
    return after.split("\n### ", 1)[0].split("<details>", 1)[0]


def test_clean_run_says_so_in_the_first_line(make_report):
    text = render_markdown(make_report(started_at=T0, noise=0.0))
    first = text.splitlines()[0]
    assert first.startswith("## ✅")
    assert "no regressions" in first
    assert "### Regressions" not in text
    assert "### SLA" not in text
    assert "commit `3f9c2e1a7b`" in text
    assert "2 tests, 30 phases" in text
    assert text.endswith("</details>\n")


def test_regressions_come_first_worst_class_then_largest_change(make_report):
    factors = {("int_hires", 2025): 1.2, ("int_hires", 2026): 1.4, ("fct_yearly_events", 2027): 1.9}
    report = make_report(
        started_at=T0,
        noise=0.0,
        factor=lambda n, c, y: factors.get((c, y), 1.0) if n.endswith("events") else 1.0,
    )
    text = render_markdown(report)
    assert text.splitlines()[0] == "## ❌ **pytest-simperf**: 3 regressions, 1 test failed"
    assert text.index("### Regressions") < text.index("<details>")
    rows = [line for line in section(text, "Regressions").splitlines() if line.startswith("| `")]
    assert [row.split(" | ")[1] for row in rows] == [
        "fct_yearly_events@2027",
        "int_hires@2026",
        "int_hires@2025",
    ]
    assert [row.split(" | ")[-1] for row in rows] == [
        "**CRITICAL** |",
        "**MAJOR** |",
        "**MINOR** |",
    ]
    assert "+90.0%" in rows[0]
    assert "+40.0%" in rows[1]


def test_memory_regressions_and_sla_breaches(make_report):
    report = make_report(
        started_at=T0,
        noise=0.0,
        factor=lambda n, c, y: 4.0 if (c, y) == ("fct_yearly_events", 2029) else 1.0,
        memory_factor=lambda n, c, y: 1.35 if c == "scd_workforce_state" and y == 2025 else 1.0,
    )
    text = render_markdown(report)
    regressions = section(text, "Regressions")
    assert "| memory |" in regressions
    assert "MB" in regressions
    sla = section(text, "SLA")
    breach_rows = [line for line in sla.splitlines() if "**BREACH**" in line]
    assert len(breach_rows) == 2  # both tests' fct_yearly_events@2029
    assert all("fct_yearly_events@2029" in row for row in breach_rows)
    assert "2 SLA breaches" in text.splitlines()[0]


def test_new_and_stale_baselines_are_listed(make_report):
    report = make_report(
        started_at=T0,
        with_baseline=False,
        baselines={
            "created": ["tests/perf/test_pipeline.py::test_yearly_events"],
            "updated": [],
            "unchanged": [],
            "stale": [{"nodeid": "tests/perf/test_old.py::test_gone", "file": "baselines/x.json"}],
            "errors": [],
        },
    )
    text = render_markdown(report)
    baselines = section(text, "Baselines")
    assert "**New (no baseline yet)** (30)" in baselines
    assert "**Created** (1)" in baselines
    assert "**Stale (test no longer exists)** (1): `tests/perf/test_old.py::test_gone`" in baselines
    assert "and 10 more" in baselines  # long lists are cut


def test_table_cells_are_escaped(make_report):
    report = make_report(started_at=T0, tests=("t.py::test_x[a|b]",), noise=0.0)
    text = render_markdown(report)
    assert "test_x[a\\|b]" in text
    assert "test_x[a|b]" not in text


def test_large_suites_fold_the_detail_table(make_report):
    tests = tuple(f"tests/perf/test_{i}.py::test_case" for i in range(5))
    text = render_markdown(make_report(started_at=T0, tests=tests))
    assert "<summary>All 75 phases</summary>" in text
    assert "… 15 more in the JSON report." in text


def test_empty_run():
    report = {"schema_version": 1, "run": {}, "tests": [], "baselines": {}, "sla_definitions": {}}
    text = render_markdown(report)
    assert text == "## ⚪ **pytest-simperf**: no performance tests ran\n\n0 tests, 0 phases\n"


def test_seconds_are_shown_at_a_readable_precision():
    assert fmt_seconds(None) == "–"
    assert fmt_seconds(0.0000123) == "12.3 µs"
    assert fmt_seconds(0.0123) == "12.3 ms"
    assert fmt_seconds(2.345) == "2.35 s"
    assert fmt_seconds(312.4) == "312 s"
