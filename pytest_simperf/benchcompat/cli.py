"""``simperf import-benchmark``: start simperf baselines from a pytest-benchmark saved run.

Exit status: 0 when every benchmark was mapped and written (or, with ``--dry-run``, would be),
1 when some were listed as not imported or a baseline file could not be used, 2 when the input
is not a usable saved run (via the dispatcher's error handling).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pytest_simperf.benchcompat.importer import (
    BenchmarkImportError,
    ImportPlan,
    ImportResult,
    apply_plan,
    load_saved_run,
    plan_import,
)

COMMAND = "import-benchmark"


def register(subparsers: Any) -> None:
    """Add ``import-benchmark`` to the ``simperf`` command line."""
    parser = subparsers.add_parser(
        COMMAND,
        help="turn a pytest-benchmark saved run into simperf baselines",
        description=(
            "Import a pytest-benchmark saved run (.benchmarks/*/NNNN_*.json from "
            "--benchmark-autosave/--benchmark-save, or a --benchmark-json file) as simperf "
            "baselines. Each benchmark's node id is checked against the test files under "
            "--rootdir; names that do not check out are listed and skipped, never guessed. "
            "Existing simperf baselines are kept unless --replace."
        ),
    )
    parser.add_argument("path", metavar="PATH.json", type=Path, help="the saved run")
    parser.add_argument(
        "--baseline-dir",
        default="baselines",
        metavar="DIR",
        help="baseline folder, relative to --rootdir like --simperf-baseline-dir "
        "(default: baselines)",
    )
    parser.add_argument(
        "--rootdir",
        default=".",
        type=Path,
        metavar="DIR",
        help="the pytest rootdir the saved run's node ids are relative to (default: .)",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="show what would be imported; write nothing"
    )
    parser.add_argument(
        "--replace",
        action="store_true",
        help="overwrite existing simperf baselines of the same tests (default: keep them)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Plan the import, write it unless ``--dry-run``, print what happened."""
    from pytest_simperf.baseline import BaselineStore

    rootdir = Path(args.rootdir).resolve()
    if not rootdir.is_dir():
        raise BenchmarkImportError(f"--rootdir {args.rootdir}: not a directory")
    path = Path(args.path)
    plan = plan_import(load_saved_run(path), rootdir=rootdir, source=path.name)
    store = BaselineStore(rootdir / args.baseline_dir)
    result = apply_plan(plan, store, replace=args.replace, write=not args.dry_run)
    print(render(plan, result, current_machine_id=_current_machine_id(), dry_run=args.dry_run))
    return 1 if plan.unmapped or result.errors else 0


def _current_machine_id() -> str | None:
    from pytest_simperf.calibration import machine_fingerprint

    try:
        return str(machine_fingerprint()["id"])
    except Exception:  # the report line is informative only; never fail an import on it
        return None


def _fmt_s(value: float) -> str:
    if value < 1e-3:
        return f"{value * 1e6:.1f}µs"
    if value < 1:
        return f"{value * 1e3:.2f}ms"
    return f"{value:.3f}s"


def render(
    plan: ImportPlan, result: ImportResult, *, current_machine_id: str | None, dry_run: bool
) -> str:
    """The command's report: what was imported, kept, and not imported (with why)."""
    lines = [f"{COMMAND}: {plan.source}" + (" (dry run: nothing written)" if dry_run else "")]
    machine = plan.machine
    described = f"{machine['cpu']} ×{machine['cores']} {machine['arch']}"
    if current_machine_id is not None and machine["id"] == current_machine_id:
        lines.append(f"machine: {described}, this machine: seconds will be compared directly")
    else:
        lines.append(
            f"machine: {described}, not this machine: until these baselines are re-recorded "
            "here (pytest --simperf-update-baseline), their seconds are not compared; SLAs "
            "still apply"
        )
    by_id = {item.nodeid: item for item in plan.imported}
    verb = "would be " if dry_run else ""
    for label, ids in (("created", result.created), ("replaced", result.replaced)):
        if ids:
            lines.append(f"{verb}{label}: {len(ids)}")
            for nodeid in ids:
                item = by_id[nodeid]
                lines.append(
                    f"  {nodeid}  {item.phase}  median {_fmt_s(item.median_s)}  "
                    f"({item.rounds} rounds → {item.samples} samples)"
                )
    if result.kept:
        lines.append(
            f"kept: {len(result.kept)} (already have a simperf baseline; --replace to overwrite)"
        )
        lines.extend(f"  {nodeid}" for nodeid in result.kept)
    if plan.unmapped:
        lines.append(
            f"not imported: {len(plan.unmapped)} (listed, not guessed: fix the name, pass the "
            "right --rootdir, or record them with pytest --simperf-update-baseline)"
        )
        lines.extend(f"  {u.name}: {u.reason}" for u in plan.unmapped)
    for error in result.errors:
        lines.append(f"error: {error}")
    for written in result.files_written:
        lines.append(f"wrote {written}")
    if not plan.imported and not plan.unmapped:
        lines.append("the saved run holds no benchmarks")
    return "\n".join(lines)
