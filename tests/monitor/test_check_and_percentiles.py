"""``simperf check`` on stored verdicts, and the percentiles / kind filters of the history."""

from __future__ import annotations

import json
import statistics
from datetime import datetime, timedelta

import pytest

from pytest_simperf import cli, history


def production_report(
    started_at: datetime,
    phases: list[dict],
    *,
    name: str = "nightly",
    exit_status: int = 0,
    error: str | None = None,
) -> dict:
    return {
        "schema_version": 1,
        "run": {
            "kind": "production",
            "name": name,
            "started_at": started_at.isoformat(),
            "exit_status": exit_status,
            "machine": {"id": "h"},
            "options": {"fail_on": "MAJOR", "error": error},
        },
        "tests": [{"nodeid": name, "outcome": "passed", "phases": phases}],
    }


def phase(component: str, year: int | None, seconds: float, **extra: object) -> dict:
    return {
        "name": component,
        "year": year,
        "samples_s": [seconds],
        "metric": "wall",
        "value": seconds,
        "status": "ok",
        **extra,
    }


def check(capsys, *args: str) -> tuple[int, str]:
    code = cli.main(["check", *args])
    out, err = capsys.readouterr()
    return code, out + err


T0 = datetime(2026, 11, 1, 2, 0)


@pytest.fixture
def path(tmp_path):
    return tmp_path / "history.duckdb"


def test_a_clean_run_passes_and_each_problem_is_one_line(path, capsys):
    history.record_run(path, production_report(T0, [phase("load", 2025, 1.0, severity="OK")]))
    code, out = check(capsys, "--history", str(path))
    assert code == 0 and out.startswith("ok: run ") and "(nightly), 1 phases" in out

    history.record_run(
        path,
        production_report(
            T0 + timedelta(hours=1),
            [
                phase("load", 2025, 2.0, severity="MINOR", change_pct=20.0, baseline_value=1.66),
                phase("scd", 2025, 5.0, severity="MAJOR", change_pct=40.0, baseline_value=3.57),
                phase(
                    "events",
                    2026,
                    9.0,
                    sla_seconds=8.0,
                    sla_status="SLA_BREACH",
                    sla_category="CRITICAL",
                ),
                phase("hires", 2026, 0.5, status="failed", error="ValueError: boom"),
            ],
        ),
    )
    code, out = check(capsys, "--history", str(path))
    lines = out.splitlines()
    assert code == 1
    assert lines[:-1] == [
        "SLA_BREACH nightly::events@2026: 9 s against an SLA of 8 s (CRITICAL)",
        "FAILED nightly::hires@2026: ValueError: boom",
        "MAJOR nightly::scd@2025: +40.0% wall time (5 s vs 3.57 s)",
    ]
    assert lines[-1].endswith("(nightly): 3 problems")
    code, out = check(capsys, "--history", str(path), "--fail-on", "minor")
    assert code == 1 and "MINOR nightly::load@2025" in out
    code, out = check(capsys, "--history", str(path), "--fail-on", "never")
    assert code == 1 and "MAJOR" not in out and "SLA_BREACH" in out


def test_json_lists_the_problems_for_other_tools(path, capsys):
    history.record_run(
        path,
        production_report(T0, [phase("scd", 2025, 5.0, severity="CRITICAL", change_pct=90.0)]),
    )
    code, out = check(capsys, "--history", str(path), "--json")
    data = json.loads(out)
    assert code == 1 and data["ok"] is False and data["fail_on"] == "MAJOR"
    (problem,) = data["problems"]
    assert problem["problem"] == "regression" and problem["level"] == "CRITICAL"
    assert (problem["component"], problem["year"], problem["change_pct"]) == ("scd", 2025, 90.0)
    assert problem["message"].startswith("CRITICAL nightly::scd@2025")


def test_a_run_that_raised_outside_its_phases_fails_the_check(path, capsys):
    history.record_run(
        path,
        production_report(T0, [phase("load", 2025, 1.0)], exit_status=1, error="KeyboardInterrupt"),
    )
    code, out = check(capsys, "--history", str(path))
    assert code == 1 and "FAILED run nightly: KeyboardInterrupt" in out


def test_latest_means_the_latest_run_of_the_kind_and_name(path, capsys):
    history.record_run(path, production_report(T0, [phase("a", None, 1.0, severity="CRITICAL")]))
    history.record_run(
        path, production_report(T0 + timedelta(hours=1), [phase("a", None, 1.0)], name="other")
    )
    test_run = production_report(T0 + timedelta(hours=2), [phase("a", None, 1.0)])
    test_run["run"]["kind"] = "test"
    history.record_run(path, test_run)
    assert check(capsys, "--history", str(path))[0] == 0  # 'other', the latest production run
    assert check(capsys, "--history", str(path), "--name", "nightly")[0] == 1
    assert check(capsys, "--history", str(path), "--run", "latest~1")[0] == 1
    code, out = check(capsys, "--history", str(path), "--kind", "test")
    assert code == 0 and "ok: run " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--run", "latest~5"), "latest~5: {path} holds only 1 production runs"),
        (("--name", "nope"), "{path} holds no production runs named 'nope'"),
        (("--run", "zzz"), "no run 'zzz' in {path}"),
        (("--run", "latest~x"), "bad run reference 'latest~x'"),
    ],
)
def test_an_unknown_run_is_one_line_and_status_2(path, capsys, args, message):
    history.record_run(path, production_report(T0, [phase("a", None, 1.0)]))
    code, out = check(capsys, "--history", str(path), *args)
    assert code == 2
    assert out.startswith("simperf check: error: ")
    assert message.format(path=path) in out


def test_a_missing_history_names_the_file_and_how_to_point_at_one(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SIMPERF_HISTORY", str(tmp_path / "from-env.duckdb"))
    code, out = check(capsys)
    assert code == 2
    assert f"no history at {tmp_path / 'from-env.duckdb'}" in out
    assert "$SIMPERF_HISTORY" in out
    with pytest.raises(SystemExit) as caught:
        cli.main(["check", "--fail-on", "SEVERE"])
    assert caught.value.code == 2
    assert "--fail-on: expected one of MINOR, MAJOR, CRITICAL, never" in capsys.readouterr().err


# -- percentiles -----------------------------------------------------------------------------


def inclusive_percentiles(values: list[float]) -> tuple[float, float, float]:
    """Linear interpolation between order statistics (numpy's default, DuckDB's
    quantile_cont), computed independently."""
    ordered = sorted(values)

    def at(q: float) -> float:
        rank = q * (len(ordered) - 1)
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    return at(0.5), at(0.95), at(0.99)


def test_percentiles_per_component_and_year_per_kind_and_window(path):
    values = {
        2025: [1.0, 1.2, 0.9, 3.0, 1.1, 1.05, 0.95],
        2026: [2.0, 2.5, 2.1, 2.2, 9.0, 2.3, 2.4],
    }
    for i in range(7):
        history.record_run(
            path,
            production_report(
                T0 + timedelta(days=i), [phase("scd", y, values[y][i]) for y in values]
            ),
        )
    failed = production_report(
        T0 + timedelta(days=7), [phase("scd", 2025, 99.0, status="failed", error="x")]
    )
    history.record_run(path, failed)  # a failed phase's time is no sample of the component
    test_run = production_report(T0 + timedelta(days=7), [phase("scd", 2025, 50.0)])
    test_run["run"]["kind"] = "test"
    history.record_run(path, test_run)

    rows = history.percentiles(path, kind="production")
    by_year = {r["year"]: r for r in rows if not r["all_years"]}
    (overall,) = [r for r in rows if r["all_years"]]
    for year, series in values.items():
        expected = inclusive_percentiles(series)
        got = (by_year[year]["p50_s"], by_year[year]["p95_s"], by_year[year]["p99_s"])
        assert got == pytest.approx(expected)
        assert by_year[year]["runs"] == 7 and by_year[year]["max_s"] == max(series)
    everything = values[2025] + values[2026]
    assert overall["p50_s"] == pytest.approx(inclusive_percentiles(everything)[0])
    assert overall["p50_s"] == pytest.approx(statistics.median(everything))
    assert overall["measurements"] == 14 and overall["kind"] == "production"

    split = history.percentiles(path)
    assert {r["kind"] for r in split} == {"production", "test"}
    pooled = history.percentiles(path, kind="all")
    assert {r["kind"] for r in pooled} == {"all"}
    (pooled_2025,) = [r for r in pooled if r["year"] == 2025 and not r["all_years"]]
    assert pooled_2025["max_s"] == 50.0 and pooled_2025["runs"] == 8

    recent = history.percentiles(path, kind="production", days=2, now=T0 + timedelta(days=7))
    (recent_2026,) = [r for r in recent if r["year"] == 2026 and not r["all_years"]]
    assert recent_2026["runs"] == 2  # days 5 and 6
    assert recent_2026["p50_s"] == pytest.approx((2.3 + 2.4) / 2)

    series = history.percentiles(path, kind="production", by="series")
    assert {(r["nodeid"], r["year"]) for r in series} == {("nightly", 2025), ("nightly", 2026)}
    with pytest.raises(history.UsageError, match="unknown run kind 'prod'"):
        history.percentiles(path, kind="prod")


def test_sla_compliance_by_kind(path):
    within = {"sla_seconds": 2.0, "sla_status": "WITHIN_SLA", "sla_category": "GOOD"}
    breach = {"sla_seconds": 2.0, "sla_status": "SLA_BREACH", "sla_category": "CRITICAL"}
    history.record_run(path, production_report(T0, [phase("scd", 2025, 1.5, **within)]))
    history.record_run(
        path, production_report(T0 + timedelta(hours=1), [phase("scd", 2025, 3.0, **breach)])
    )
    test_run = production_report(T0 + timedelta(hours=2), [phase("scd", 2025, 1.0, **within)])
    test_run["run"]["kind"] = "test"
    history.record_run(path, test_run)
    (production,) = history.sla_compliance(path, kind="production")
    (tests,) = history.sla_compliance(path, kind="test")
    (everything,) = history.sla_compliance(path)
    assert (production["measurements"], production["compliance_pct"]) == (2, 50.0)
    assert (tests["measurements"], tests["compliance_pct"]) == (1, 100.0)
    assert everything["measurements"] == 3


def test_check_reads_the_history_the_monitor_wrote_from_the_config(tmp_path, capsys, monkeypatch):
    """A cron job runs the pipeline and then `simperf check` from anywhere in the project: both
    find the history through the same rule ([tool.simperf.monitor] history here)."""
    monkeypatch.delenv("SIMPERF_HISTORY", raising=False)
    (tmp_path / "pyproject.toml").write_text(
        '[tool.simperf.monitor]\nhistory = "perf/history.duckdb"\n', encoding="utf-8"
    )
    history.record_run(
        tmp_path / "perf" / "history.duckdb",
        production_report(T0, [phase("a", None, 1.0, severity="CRITICAL")]),
    )
    (tmp_path / "src").mkdir()
    monkeypatch.chdir(tmp_path / "src")
    code, out = check(capsys)
    assert code == 1
    assert "CRITICAL" in out
