"""``simperf check``: fail a cron job or an orchestrator step on a bad production run.

It reads the verdicts the monitor stored when the run was measured (computed once, never
recomputed here) and exits 1 when a phase failed, breached its SLA, or regressed at or past
``--fail-on`` (MAJOR by default: a nightly pipeline should page on a real slowdown, and MINOR
is what the dashboard is for). One line per problem, or ``--json`` for other tools. The same
check works on a test run (``--kind test``), on the gate's own classes.

Also the percentile helpers ``simperf sla`` and ``simperf trend`` use.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from pytest_simperf.errors import UsageError

#: Exit status when the run has a problem (cli.main uses 2 for errors, 0 for a clean run).
EXIT_PROBLEM = 1
_CLASSES = ("MINOR", "MAJOR", "CRITICAL")


def default_history() -> Path:
    """The file a monitored run started here writes by default (``monitor.history_path``):
    ``$SIMPERF_HISTORY``, else ``[tool.simperf.monitor] history``, else
    ``.simperf/history.duckdb`` beside the ``pyproject.toml`` found from here."""
    from pytest_simperf.monitor import history_path, load_config

    return history_path(None, load_config())


def _fail_on(text: str) -> str:
    from pytest_simperf.options import parse_fail_on

    try:
        return parse_fail_on(text, "--fail-on")
    except UsageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``simperf check`` to the ``simperf`` parser."""
    p = subparsers.add_parser(
        "check",
        help="exit 1 if a run failed, breached an SLA or regressed (for cron and orchestrators)",
        description="Check one recorded run (default: the latest production run). Exit status: "
        "0 clean, 1 a problem (one line each), 2 an error (no history, unknown run).",
    )
    p.add_argument(
        "--history",
        type=Path,
        default=None,
        metavar="PATH",
        help="history database (default: where a monitored run writes: $SIMPERF_HISTORY, else "
        "[tool.simperf.monitor] history, else .simperf/history.duckdb beside pyproject.toml)",
    )
    p.add_argument(
        "--run",
        default="latest",
        metavar="RUN",
        help="latest (default), latest~N (among --kind/--name), or a run id or unique prefix",
    )
    p.add_argument(
        "--kind",
        choices=("production", "test", "all"),
        default="production",
        help="which runs 'latest' counts (default: production)",
    )
    p.add_argument("--name", metavar="NAME", help="only runs of this pipeline (monitor.run name)")
    p.add_argument(
        "--fail-on",
        type=_fail_on,
        default="MAJOR",
        metavar="CLASS",
        help="lowest regression class that fails: MINOR, MAJOR (default), CRITICAL or never",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=_cmd_check)


def resolve(path: Path, ref: str, *, kind: str, name: str | None) -> str:
    """A run id: ``latest`` / ``latest~N`` among runs of ``kind`` (and ``name``), else an id or
    unique prefix of one (any kind)."""
    from pytest_simperf import history

    ref = ref.strip() or "latest"
    with history.open_history(path) as con:
        offset = history.latest_offset(ref)
        if offset is None:
            return history.resolve_run(con, path, ref)
        wanted = history.check_kind(kind)
        run_id, count = history.latest_run(con, offset, kind=wanted, name=name)
    if run_id is not None:
        return run_id
    what = " ".join(
        x
        for x in (None if wanted is None else wanted, "runs", f"named {name!r}" if name else None)
        if x
    )
    if count == 0:
        raise history.UnknownRunError(f"{path} holds no {what}")
    raise history.UnknownRunError(f"{history.shown_ref(ref)}: {path} holds only {count} {what}")


def problems(data: dict[str, Any], fail_on: str) -> list[dict[str, Any]]:
    """What fails a run: failed phases, SLA breaches, classes at or past ``fail_on``."""
    from pytest_simperf.report.markdown import fmt_pct, fmt_seconds
    from pytest_simperf.stats import severity_rank

    out: list[dict[str, Any]] = []
    for p in data["performance"]:
        key = p["phase"] if p.get("year") is None else f"{p['phase']}@{p['year']}"
        where = f"{p['nodeid']}::{key}"
        base = {"nodeid": p["nodeid"], "component": p["phase"], "year": p.get("year")}
        if p.get("status") == "failed":
            out.append(
                {
                    **base,
                    "problem": "failed",
                    "level": "FAILED",
                    "line": f"FAILED {where}: {p.get('error') or 'failed'}",
                }
            )
            continue
        if p.get("sla_status") == "SLA_BREACH":
            out.append(
                {
                    **base,
                    "problem": "sla_breach",
                    "level": "SLA_BREACH",
                    "value_s": p.get("median_s"),
                    "sla_seconds": p.get("sla_seconds"),
                    "line": f"SLA_BREACH {where}: {fmt_seconds(p.get('median_s'))} against an "
                    f"SLA of {fmt_seconds(p.get('sla_seconds'))} ({p.get('sla_category')})",
                }
            )
        severity = p.get("severity")
        if (
            fail_on != "never"
            and severity in _CLASSES
            and severity_rank(severity) >= severity_rank(fail_on)
        ):
            metric = p.get("metric") or "wall"
            out.append(
                {
                    **base,
                    "problem": "regression",
                    "level": severity,
                    "metric": metric,
                    "change_pct": p.get("change_pct"),
                    "value": p.get("value"),
                    "baseline_value": p.get("baseline_value"),
                    "line": f"{severity} {where}: {fmt_pct(p.get('change_pct'))} {metric} time "
                    f"({fmt_seconds(p.get('value'))} vs {fmt_seconds(p.get('baseline_value'))})",
                }
            )
    run = data["run"]
    if not any(x["problem"] == "failed" for x in out) and run.get("exit_status") not in (0, None):
        error = (run.get("options") or {}).get("error")
        out.append(
            {
                "nodeid": run.get("run_name") or run["run_id"],
                "component": None,
                "year": None,
                "problem": "failed",
                "level": "FAILED",
                "line": f"FAILED run {run.get('run_name') or run['run_id']}: "
                + (error or f"exit status {run.get('exit_status')}"),
            }
        )
    return out


def _cmd_check(args: argparse.Namespace) -> int:
    from pytest_simperf import history

    path: Path = args.history if args.history is not None else default_history()
    try:
        run_id = resolve(path, args.run, kind=args.kind, name=args.name)
    except history.HistoryNotFoundError:
        raise history.HistoryNotFoundError(
            f"no history at {path}: nothing was recorded there yet (a monitored run or "
            "`pytest --simperf` writes it); point --history or $SIMPERF_HISTORY at the file"
        ) from None
    data = history.load_run(path, run_id)
    found = problems(data, args.fail_on)
    run = data["run"]
    if args.json:
        print(
            json.dumps(
                {
                    "ok": not found,
                    "run": run,
                    "fail_on": args.fail_on,
                    "phases": len(data["performance"]),
                    "problems": [
                        {k: v for k, v in x.items() if k != "line"} | {"message": x["line"]}
                        for x in found
                    ],
                },
                indent=2,
                sort_keys=True,
                default=str,
            )
        )
        return EXIT_PROBLEM if found else 0
    for problem in found:
        print(problem["line"])
    label = f"run {run['run_id']}" + (f" ({run['run_name']})" if run.get("run_name") else "")
    if found:
        print(f"{label}: {len(found)} problem{'s' if len(found) != 1 else ''}")
        return EXIT_PROBLEM
    print(
        f"ok: {label}, {len(data['performance'])} phases: none failed, no SLA breach, "
        + (
            "no regression class checked"
            if args.fail_on == "never"
            else f"no class at or past {args.fail_on}"
        )
    )
    return 0


# -- percentiles for `simperf sla` and `simperf trend` -------------------------------------------


def sla_with_percentiles(
    path: Path, rows: list[dict[str, Any]], *, days: float | None, kind: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Compliance rows with each component's p50/p95/p99 (all years, and per year under
    ``years``) added, and the percentile rows themselves (components without an SLA too)."""
    from pytest_simperf import history

    table = history.percentiles(path, days=days, kind=kind)
    by_component: dict[str, dict[str, Any]] = {}
    for p in table:
        entry = by_component.setdefault(p["component"], {"years": []})
        figures = {k: p[k] for k in ("runs", "p50_s", "p95_s", "p99_s", "max_s")}
        if p["all_years"]:
            entry.update(figures)
        else:
            entry["years"].append({"year": p["year"], **figures})
    out = []
    for row in rows:
        extra = by_component.get(row["component"], {})
        out.append(
            row
            | {
                "p50_s": extra.get("p50_s"),
                "p95_s": extra.get("p95_s"),
                "p99_s": extra.get("p99_s"),
                "years": extra.get("years", []),
            }
        )
    return out, table


def trend_with_percentiles(
    path: Path, rows: list[dict[str, Any]], *, days: float | None, kind: str
) -> list[dict[str, Any]]:
    """Trend series of ``kind`` (all with ``all``) with their p50/p95/p99 over the window."""
    from pytest_simperf import history

    table = history.percentiles(path, days=days, kind=kind, by="series")
    found = {(p["nodeid"], p["component"], p["year"]): p for p in table}
    out = []
    for row in rows:
        p = found.get((row["nodeid"], row["phase"], row["year"]))
        if p is None:
            if kind != "all":
                continue  # a series of the other kind of run
            p = {}
        out.append(row | {k: p.get(k) for k in ("p50_s", "p95_s", "p99_s")})
    return out


def print_percentiles(rows: list[dict[str, Any]]) -> None:
    """The percentile rows as a table: each component over all years, then per year."""
    from pytest_simperf.history_cli import _table
    from pytest_simperf.report.markdown import fmt_seconds

    if not rows:
        return
    print("\nWall time percentiles across runs")
    print(
        _table(
            ("kind", "component", "year", "runs", "p50", "p95", "p99", "max"),
            [
                (
                    r["kind"],
                    r["component"],
                    "all" if r["all_years"] else r["year"],
                    r["runs"],
                    fmt_seconds(r["p50_s"]),
                    fmt_seconds(r["p95_s"]),
                    fmt_seconds(r["p99_s"]),
                    fmt_seconds(r["max_s"]),
                )
                for r in rows
            ],
            {3, 4, 5, 6, 7},
        )
    )
