"""Every core option, through pytest: where files go, how much is measured, what is flagged."""

from __future__ import annotations

import json

import duckdb
import pytest

RECORD = """
import os
import pytest

SCALE = float(os.environ.get("SIMPERF_TEST_SCALE", "1.0"))

@pytest.mark.sla(seconds=1)
def test_step(simperf):
    simperf.record("step", samples_s=[0.1 * SCALE, 0.101 * SCALE, 0.099 * SCALE])
"""


def test_baseline_dir_option_and_ini(pytester, run):
    pytester.makepyfile(test_mod=RECORD)
    run("--simperf-update-baseline", "--simperf-baseline-dir=perf/base")
    assert (pytester.path / "perf" / "base" / "test_mod.json").is_file()
    assert not (pytester.path / "baselines").exists()
    pytester.makeini("[pytest]\nsimperf_baseline_dir = perf/base\n")
    result = run("--simperf")
    result.stdout.fnmatch_lines(["*test_step*step*OK*"])


def test_markdown_report(pytester, run, monkeypatch):
    pytester.makepyfile(test_mod=RECORD)
    run("--simperf-update-baseline")
    monkeypatch.setenv("SIMPERF_TEST_SCALE", "2")
    run("--simperf", "--simperf-markdown=out/summary.md").assert_outcomes(failed=1)
    text = (pytester.path / "out" / "summary.md").read_text()
    assert "test_mod.py::test_step" in text
    assert "CRITICAL" in text


def test_history_written_where_asked_and_not_when_off(pytester):
    pytester.makepyfile(test_mod=RECORD)
    base = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest", "--simperf-calibration=off")
    pytester.runpytest(*base, "--simperf", "--simperf-history=hist/h.duckdb")
    path = pytester.path / "hist" / "h.duckdb"
    assert path.is_file()
    with duckdb.connect(str(path), read_only=True) as con:
        tables = {row[0] for row in con.execute("SHOW TABLES").fetchall()}
        assert tables
    pytester.runpytest(*base, "--simperf", "--simperf-history=off")
    assert not (pytester.path / ".simperf").exists()


def test_rounds_warmup_and_quick(pytester, run, read_json):
    pytester.makepyfile(
        """
        CALLS = []

        def test_measured(simperf):
            simperf.measure(lambda: CALLS.append(1))

        def test_count():
            pass
        """
    )
    run("--simperf", "--simperf-rounds=4", "--simperf-warmup=2", "--simperf-json=r.json")
    (phase,) = read_json("r.json")["tests"][0]["phases"]
    assert phase["rounds"] == 4
    run("--simperf", "--simperf-quick", "--simperf-json=q.json")
    report = read_json("q.json")
    assert report["tests"][0]["phases"][0]["rounds"] == 3
    assert report["run"]["options"]["quick"] is True
    assert report["run"]["options"]["confirm"] is False


@pytest.mark.parametrize(("value", "expected"), [("2", 2), ("1", 1)])
def test_duckdb_threads(pytester, run, value, expected):
    pytester.makepyfile(
        f"""
        def test_threads(simperf, duckdb_con):
            threads = duckdb_con.execute("select current_setting('threads')").fetchone()[0]
            assert threads == {expected}
        """
    )
    run("--simperf", f"--simperf-duckdb-threads={value}").assert_outcomes(passed=1)


def test_duckdb_threads_mismatch_is_reported_not_compared(pytester, run, read_json):
    pytester.makepyfile(test_mod=RECORD)
    run("--simperf-update-baseline", "--simperf-duckdb-threads=2")
    run("--simperf", "--simperf-json=r.json").assert_outcomes(passed=1)
    (test,) = read_json("r.json")["tests"]
    assert test["comparison"] == "threads_differ"
    assert "DuckDB threads=2" in test["comparison_reason"]


def test_memory_thresholds(pytester, run, monkeypatch, read_json):
    pytester.makepyfile(
        test_mod="""
        import os

        def test_mem(simperf):
            mb = float(os.environ.get("MB", "400"))
            simperf.record("load", samples_s=[0.1, 0.1, 0.1], start_rss_mb=100.0,
                           peak_rss_mb=100.0 + mb)
        """
    )
    run("--simperf-update-baseline")
    monkeypatch.setenv("MB", "560")  # +40%
    run("--simperf").assert_outcomes(failed=1)  # default memory thresholds 25/50/100: MINOR
    result = run("--simperf", "--simperf-memory-thresholds=50,80,150", "--simperf-json=r.json")
    result.assert_outcomes(passed=1)
    assert read_json("r.json")["tests"][0]["phases"][0]["memory_severity"] == "OK"


def test_growth_pct_flags_memory_growing_across_years(pytester, run, read_json):
    pytester.makepyfile(
        """
        def test_years(simperf):
            for i, year in enumerate(range(2025, 2030)):
                simperf.record("snapshot", year=year, samples_s=[0.1],
                               start_rss_mb=100.0, peak_rss_mb=200.0 * 1.08 ** i)
        """
    )
    run("--simperf", "--simperf-json=a.json")
    assert read_json("a.json")["tests"][0]["growth"] == []  # 8%/year < default 10%
    result = run("--simperf", "--simperf-growth-pct=5", "--simperf-json=b.json")
    (flag,) = read_json("b.json")["tests"][0]["growth"]
    assert (flag["name"], flag["metric"]) == ("snapshot", "memory")
    result.stdout.fnmatch_lines(["growth*snapshot: peak memory grows +8.0%/year*"])


def test_calibration_recorded_with_the_baseline(pytester):
    pytester.makepyfile(test_mod=RECORD)
    pytester.runpytest(
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        "--simperf-history=off",
        "--simperf-update-baseline",
    )
    data = json.loads((pytester.path / "baselines" / "test_mod.json").read_text())
    entry = data["tests"]["test_step"]
    assert entry["calibration"]["score_s"] > 0
    assert len(entry["calibration"]["samples_s"]) >= 5
    (machine,) = data["machines"].values()
    assert {"id", "cpu", "cores", "python", "duckdb"} <= set(machine)
