"""The ``deltafed`` command line.

Each subcommand lives in its own module with a ``register(subparsers)`` function that adds
its parser and sets ``func`` to a handler taking the parsed arguments and returning an exit
status. Errors from the library are printed as ``error <code>: message`` with exit status 2;
nothing prints a traceback for a :class:`~deltafed.DeltafedError`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from deltafed._errors import DeltafedError

__all__ = ["build_parser", "main"]

#: Subcommand modules, in the order their commands are listed in ``--help``.
_COMMAND_MODULES: tuple[str, ...] = (
    "deltafed.cli._registry",
    "deltafed.cli._schemas",
    "deltafed.cli._audit",
    "deltafed.cli._concerns",
    "deltafed.cli._keys",
    "deltafed.cli._onboard",
    "deltafed.cli._adapter",
    "deltafed.cli._serve",
    "deltafed.cli._events",
    "deltafed.cli._demo",
    "deltafed.cli._conformance",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deltafed",
        description="Yangtze River Delta interregional service federation: reference tools.",
    )
    from deltafed import __version__

    parser.add_argument("--version", action="version", version=f"deltafed {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        status: int = func(args)
    except DeltafedError as exc:
        print(f"error {exc.code}: {exc.message}", file=sys.stderr)
        if exc.field:
            print(f"  field: {exc.field}", file=sys.stderr)
        if exc.remediation:
            print(f"  what to do: {exc.remediation}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return status
