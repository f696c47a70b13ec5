"""``simperf report | compare | trend | sla | dashboard | runs``: the history from the command line.

Each command prints a table for people or, with ``--json``, one JSON document for scripts.
Errors we can explain (no history, empty window, unknown run, bad pattern) are raised as
``SimperfError`` subclasses; ``cli.main`` turns them into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pytest_simperf import history
from pytest_simperf.errors import UsageError
from pytest_simperf.monitor_cli import (
    print_percentiles,
    sla_with_percentiles,
    trend_with_percentiles,
)
from pytest_simperf.report.figures import fmt_value, judged, metric_label
from pytest_simperf.report.markdown import fmt_mb, fmt_pct, fmt_seconds

_SEVERITY_RANK = {s: i for i, s in enumerate(history.SEVERITY_ORDER)}


def _positive_days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not value > 0 or not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"days must be a positive number, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:  # also a number of more than 4,300 digits, which Python refuses
        shown = text if len(text) <= 30 else text[:27] + "..."
        raise argparse.ArgumentTypeError(f"expected a whole number, got {shown!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


def _out_file(text: str) -> Path:
    """An output file path: not empty (``Path('')`` would be the current folder)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a file path, got an empty string")
    return Path(text)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the history commands to the ``simperf`` parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--history",
        type=Path,
        default=history.DEFAULT_HISTORY_PATH,
        metavar="PATH",
        help=f"history database (default: {history.DEFAULT_HISTORY_PATH})",
    )
    as_json = argparse.ArgumentParser(add_help=False)
    as_json.add_argument("--json", action="store_true", help="print JSON instead of a table")
    window = argparse.ArgumentParser(add_help=False)
    window.add_argument(
        "--days", type=_positive_days, metavar="N", help="only runs of the last N days"
    )

    p = subparsers.add_parser(
        "report",
        parents=[common, as_json],
        help="one run from the history (default: the latest)",
        description="Show one recorded run: regressions first, then every phase.",
    )
    p.add_argument("run_id", nargs="?", metavar="RUN_ID", help="run id, unique prefix, latest~N")
    p.add_argument("--markdown", action="store_true", help="print the Markdown CI summary")
    p.set_defaults(func=_cmd_report)

    p = subparsers.add_parser(
        "runs", parents=[common, as_json, window], help="list recorded runs, newest first"
    )
    p.add_argument("--limit", type=_positive_int, default=20, metavar="N", help="at most N runs")
    p.set_defaults(func=_cmd_runs)

    p = subparsers.add_parser(
        "compare",
        parents=[common, as_json],
        help="phase-by-phase change from RUN_A to RUN_B",
        description="Compare two recorded runs (B is 'now'). Classes are a pointer, not a gate: "
        "two stored medians allow no significance test.",
    )
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.set_defaults(func=_cmd_compare)

    kinds = argparse.ArgumentParser(add_help=False)
    kinds.add_argument(
        "--kind",
        choices=history.RUN_KINDS,
        default="all",
        help="production runs (monitor), test runs (pytest --simperf), or all (default)",
    )

    p = subparsers.add_parser(
        "trend",
        parents=[common, as_json, window, kinds],
        help="per test/phase/year over runs: figures, trend label, step changes",
    )
    p.add_argument(
        "--test",
        metavar="PATTERN",
        help="glob matched anywhere in 'nodeid::phase@year', e.g. test_y, int_hires@2029, "
        "'test_y::fct*'",
    )
    p.set_defaults(func=_cmd_trend)

    p = subparsers.add_parser(
        "sla",
        parents=[common, as_json, window, kinds],
        help="SLA compliance and p50/p95/p99 per component",
    )
    p.set_defaults(func=_cmd_sla)

    p = subparsers.add_parser(
        "dashboard",
        parents=[common, window],
        help="write a self-contained HTML dashboard",
        description="Write one HTML file (no server, no network) with charts of the history.",
    )
    p.add_argument(
        "--out", type=_out_file, required=True, metavar="FILE", help="HTML file to write"
    )
    p.add_argument(
        "--max-runs", type=_positive_int, default=500, metavar="N", help="newest N runs (500)"
    )
    p.add_argument("--title", default="pytest-simperf dashboard", help="page title")
    p.set_defaults(func=_cmd_dashboard)


# --------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], right: set[int] | None = None
) -> str:
    """A plain-text table; columns in ``right`` are right-aligned (numbers)."""
    right = right or set()
    cells = [[str(h) for h in headers]] + [
        ["–" if c is None else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(row)
        ).rstrip()

    return "\n".join(
        [line(cells[0]), line(["-" * w for w in widths])] + [line(r) for r in cells[1:]]
    )


def _key(row: dict[str, Any], phase_field: str = "phase") -> str:
    return history.phase_key(row[phase_field], row.get("year"))


def _run_header(run: dict[str, Any]) -> str:
    commit = run.get("git_commit")
    bits = [f"run {run['run_id']}", str(run.get("started_at") or "")]
    if run.get("kind") == "production":  # a monitored pipeline run (pytest_simperf.monitor)
        bits.append(f"production {run.get('run_name') or ''}".rstrip())
    if commit:
        bits.append(f"commit {str(commit)[:12]}{' (dirty)' if run.get('git_dirty') else ''}")
    if run.get("machine_id"):
        bits.append(f"machine {str(run['machine_id'])[:8]}")
    if run.get("calibration_s") is not None:
        bits.append(f"calibration {fmt_seconds(run['calibration_s'])}")
    return "  ".join(bits)


# --------------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------------


def _cmd_report(args: argparse.Namespace) -> int:
    data = history.load_run(args.history, args.run_id)
    if args.markdown:
        from pytest_simperf.report.markdown import render_markdown

        sys.stdout.write(render_markdown(history.run_to_report(data)))
        return 0
    if args.json:
        _print_json(data)
        return 0
    perf = data["performance"]
    regressions = data["regressions"]
    breaches = sum(1 for p in perf if p.get("sla_status") == "SLA_BREACH")
    print(_run_header(data["run"]))
    tests = len({p["nodeid"] for p in perf})
    print(
        f"{tests} tests, {len(perf)} phases, {len(regressions)} regressions "
        f"({sum(1 for r in regressions if r['status'] == 'new')} new), {breaches} SLA breaches"
    )
    if regressions:
        print("\nRegressions")
        rows = [
            (
                r["nodeid"],
                _key(r, "component"),
                metric_label(r["metric"]),
                _fmt_metric(r["metric"], r["baseline"]),
                _fmt_metric(r["metric"], r["current"]),
                fmt_pct(r["degradation_pct"]),
                r["class"],
                r["status"],
            )
            for r in sorted(
                regressions,
                key=lambda r: (-_SEVERITY_RANK.get(r["class"], 0), -(r["degradation_pct"] or 0.0)),
            )
        ]
        print(
            _table(
                ("test", "phase", "metric", "baseline", "now", "Δ%", "class", "status"),
                rows,
                {3, 4, 5},
            )
        )
    print("\nPhases")
    ordered = sorted(
        perf, key=lambda p: (-_SEVERITY_RANK.get(p.get("severity") or "", 0), p["nodeid"])
    )
    phase_rows: list[tuple[Any, ...]] = []
    for p in ordered:
        gate = judged(p)
        phase_rows.append(
            (
                p["nodeid"],
                _key(p),
                gate.label + ("*" if gate.inferred else ""),
                gate.fmt(gate.value),
                gate.fmt(gate.baseline_value),
                fmt_pct(gate.change_pct),
                p["severity"],
                p["sla_status"],
                fmt_seconds(p["median_s"]),
                fmt_mb(p["peak_rss_mb"]),
            )
        )
    print(
        _table(
            ("test", "phase", "metric", "now", "baseline", "Δ%", "class", "SLA", "wall", "memory"),
            phase_rows,
            {3, 4, 5, 8, 9},
        )
    )
    if any(judged(p).inferred for p in perf):
        print(
            "\n* recorded before the history named the judged metric: the clock the verdict "
            "compared where known (CPU time), else wall time"
        )
    return 0


def _fmt_metric(metric: str, value: float | None) -> str:
    """A stored regression's figure; ``time`` is how rows before schema 3 named wall time."""
    return fmt_value("wall" if metric == "time" else metric, value)


def _cmd_runs(args: argparse.Namespace) -> int:
    runs = history.list_runs(args.history, days=args.days, limit=args.limit)
    if args.json:
        _print_json(runs)
        return 0
    rows = [
        (
            r["run_id"],
            r["started_at"],
            r.get("kind") or "test",
            r.get("run_name"),
            (str(r["git_commit"])[:10] if r["git_commit"] else None),
            "yes" if r["git_dirty"] else ("no" if r["git_dirty"] is False else None),
            r["tests"],
            r["phases"],
            r["exit_status"],
        )
        for r in runs
    ]
    print(
        _table(
            ("run", "started (UTC)", "kind", "name", "commit", "dirty", "tests", "phases", "exit"),
            rows,
            {6, 7, 8},
        )
    )
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    result = history.compare_runs(args.history, args.run_a, args.run_b)
    if args.json:
        _print_json(result)
        return 0
    print(f"A: {_run_header(result['run_a'])}")
    print(f"B: {_run_header(result['run_b'])}")
    phases = sorted(
        result["phases"],
        key=lambda r: (-_SEVERITY_RANK.get(r["class"], 0), -(r["change_pct"] or 0.0)),
    )
    rows = [
        (
            r["nodeid"],
            _key(r),
            metric_label(r["metric"]) + ("" if r["metric_recorded"] else "*"),
            fmt_value(r["metric"], r["a_value"]),
            fmt_value(r["metric"], r["b_value"]),
            fmt_pct(r["change_pct"]),
            r["class"],
            fmt_pct(r["wall_change_pct"]) if r["metric"] != "wall" else None,
            fmt_mb(r["a_peak_rss_mb"]),
            fmt_mb(r["b_peak_rss_mb"]),
            fmt_pct(r["memory_change_pct"]),
        )
        for r in phases
    ]
    print()
    print(
        _table(
            (
                "test",
                "phase",
                "metric",
                "A",
                "B",
                "Δ%",
                "class",
                "wall Δ%",
                "mem A",
                "mem B",
                "Δmem%",
            ),
            rows,
            {3, 4, 5, 7, 8, 9, 10},
        )
    )
    if any(not r["metric_recorded"] for r in phases):
        print(
            "\n* not the metric B's verdict judged (recorded before the history named it, or "
            "not recorded in A): CPU time where both runs have it, else wall time"
        )
    for label, key in (("only in A", "only_in_a"), ("only in B", "only_in_b")):
        if result[key]:
            names = ", ".join(f"{r['nodeid']}::{_key(r)}" for r in result[key])
            print(f"\n{label}: {names}")
    return 0


_TREND_ORDER = {"degrading": 0, "improving": 1, "stable": 2, "insufficient": 3}


def _cmd_trend(args: argparse.Namespace) -> int:
    rows = history.trend(args.history, pattern=args.test, days=args.days)
    rows = trend_with_percentiles(args.history, rows, days=args.days, kind=args.kind)
    if args.json:
        _print_json(rows)
        return 0
    ordered = sorted(
        rows, key=lambda r: (_TREND_ORDER[r["trend"]], r["step"] is None, r["nodeid"], r["phase"])
    )
    table = [
        (
            r["nodeid"],
            _key(r),
            metric_label(r["metric"]),
            r["runs"],
            fmt_value(r["metric"], r["median"]),
            fmt_value(r["metric"], r["min"]),
            fmt_value(r["metric"], r["max"]),
            fmt_value(r["metric"], r["latest"]),
            r["breaches"],
            r["trend"],
            fmt_pct(r["change_pct"]) if r["trend"] != "insufficient" else None,
            _step_text(r["step"], r["metric"]),
        )
        for r in ordered
    ]
    print(
        _table(
            (
                "test",
                "phase",
                "metric",
                "runs",
                "median",
                "min",
                "max",
                "latest",
                "breaches",
                "trend",
                "Δ%",
                "step",
            ),
            table,
            {3, 4, 5, 6, 7, 8, 10},
        )
    )
    counts = {label: sum(1 for r in rows if r["trend"] == label) for label in _TREND_ORDER}
    steps = sum(1 for r in rows if r["step"])
    print(
        f"\n{len(rows)} series: {counts['degrading']} degrading, {counts['improving']} improving, "
        f"{counts['stable']} stable, {counts['insufficient']} too short; {steps} with a step change"
    )
    return 0


def _step_text(step: dict[str, Any] | None, metric: str) -> str | None:
    if not step:
        return None
    return (
        f"{fmt_pct(step['change_pct'])} at run {step['run_id']} "
        f"({fmt_value(metric, step['before'])} → {fmt_value(metric, step['after'])})"
    )


def _cmd_sla(args: argparse.Namespace) -> int:
    rows = history.sla_compliance(args.history, days=args.days, kind=args.kind)
    rows, spread = sla_with_percentiles(args.history, rows, days=args.days, kind=args.kind)
    if rows:
        configured = {d["component"]: d for d in history.load_run(args.history)["sla_definitions"]}
        for r in rows:
            r["sla_source"] = sla_source(r, configured.get(r["component"]))
    if args.json:
        _print_json(rows)
        return 0
    if not rows:
        print("no phase in this window has an SLA (add @pytest.mark.sla or component SLAs)")
        print_percentiles(spread)
        return 0
    table = [
        (
            r["component"],
            fmt_seconds(r["sla_seconds"]),
            r["sla_source"],
            r["runs"],
            r["measurements"],
            r["within"],
            r["warnings"],
            r["breaches"],
            None if r["compliance_pct"] is None else f"{r['compliance_pct']:.1f}%",
            None if r["worst_pct_of_sla"] is None else f"{r['worst_pct_of_sla']:.0f}%",
            r["last_breach"],
        )
        for r in rows
    ]
    print(
        _table(
            (
                "component",
                "SLA",
                "from",
                "runs",
                "measured",
                "within",
                "warning",
                "breach",
                "compliance",
                "worst",
                "last breach",
            ),
            table,
            {1, 3, 4, 5, 6, 7, 8, 9},
        )
    )
    print_percentiles(spread)
    return 0


def sla_source(row: Mapping[str, Any], config: Mapping[str, Any] | None) -> str:
    """Which SLA a component's measurements were held to: its component SLA (``config``), or a
    test's ``sla`` marker — which shadows the component SLA when both exist and differ."""
    if config is None:
        return "marker"
    if not row.get("measurements"):
        return "config"

    def same(a: Any, b: Any) -> bool:
        return (a is None and b is None) or (
            a is not None and b is not None and abs(float(a) - float(b)) <= 1e-9 * abs(float(b))
        )

    if same(row.get("sla_seconds"), config.get("seconds")) and same(
        row.get("sla_memory_mb"), config.get("memory_mb")
    ):
        return "config"
    if not same(row.get("sla_seconds"), config.get("seconds")):
        limit = "none" if config.get("seconds") is None else fmt_seconds(config["seconds"])
        return f"marker (shadows config {limit})"
    limit = "none" if config.get("memory_mb") is None else f"{config['memory_mb']:g} MB"
    return f"marker (shadows config memory {limit})"


def _cmd_dashboard(args: argparse.Namespace) -> int:
    from pytest_simperf.report.html import render_dashboard

    out: Path = args.out
    if out.is_dir():
        raise UsageError(f"--out {out} is a folder; give the HTML file to write")
    data = history.dashboard_data(args.history, days=args.days, max_runs=args.max_runs)
    page = render_dashboard(data, title=args.title)
    try:
        _write_atomic(out, page)
    except OSError as exc:
        raise UsageError(f"--out {out}: cannot be written ({exc.strerror or exc})") from None
    print(
        f"wrote {args.out} ({len(data['runs'])} runs, {len(data['components'])} components, "
        f"{len(page.encode()) / 1024:.0f} KiB)"
    )
    return 0


def _write_atomic(path: Path, text: str) -> None:
    """Write next to the target and rename, so a reader never sees half a dashboard."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
