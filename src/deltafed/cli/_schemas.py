"""``deltafed schemas export [DIR] [--check]``: publish or check the JSON Schema files."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from deltafed.schemas._export import check_json_schemas, export_json_schemas

__all__ = ["DEFAULT_DIRECTORY", "register"]

#: Where the schema files are committed.
DEFAULT_DIRECTORY = Path("docs/schemas")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "schemas", help="JSON Schema files of the wire models"
    )
    actions = parser.add_subparsers(dest="schemas_command", metavar="ACTION", required=True)
    export = actions.add_parser(
        "export",
        help="write one <Model>.schema.json per wire model",
        description="Write the JSON Schema of every wire model into DIR; with --check, write "
        "nothing and exit 1 if the files in DIR differ from the code.",
    )
    export.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=DEFAULT_DIRECTORY,
        metavar="DIR",
        help=f"target directory (default: {DEFAULT_DIRECTORY})",
    )
    export.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    export.set_defaults(func=_run_export)


def _run_export(args: argparse.Namespace) -> int:
    directory: Path = args.directory
    if args.check:
        problems = check_json_schemas(directory)
        if problems:
            print(f"schema files in {directory} are out of date:")
            for line in problems:
                print(f"  {line}")
            print(f"run: deltafed schemas export {directory}")
            return 1
        print(f"schema files in {directory} are up to date")
        return 0
    for path in export_json_schemas(directory):
        print(path)
    return 0
