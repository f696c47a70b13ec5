"""The ``simperf`` command line: one argparse parser, subcommands contributed by feature modules.

Each module in ``_COMMAND_MODULES`` exposes ``register(subparsers)``, which adds its subcommands
and sets ``func(args) -> int`` on them. Modules are imported only when the command runs, so a
feature that needs duckdb costs nothing to the others.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from pytest_simperf import __version__
from pytest_simperf.errors import SimperfError

_COMMAND_MODULES: tuple[str, ...] = (
    "pytest_simperf.init_cli",
    "pytest_simperf.history_cli",
    "pytest_simperf.monitor_cli",
    "pytest_simperf.benchcompat.cli",
    "pytest_simperf.workforce.cli",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser with every feature's subcommands."""
    parser = argparse.ArgumentParser(
        prog="simperf",
        description="pytest-simperf: synthetic workforces, performance history and reports.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; errors we understand become one line on stderr and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        # Bare `simperf`: a newcomer learns the commands from the help; it goes to stderr with
        # status 2, as argparse treats any other missing required argument, so a script that
        # calls it by mistake fails rather than passing on a page of help.
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(func(args))
    except SimperfError as exc:
        print(f"simperf {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"simperf {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `simperf trend | head`: the reader left; say nothing more, like other Unix tools.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except OSError as exc:  # after BrokenPipeError, one of its kind
        # A file the command was pointed at cannot be read or written (a folder, no
        # permission, a full disk): one line naming it, like the errors above.
        where = f" {exc.filename}" if exc.filename is not None else ""
        print(f"simperf {args.command}: error:{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
