"""``deltafed adapter``: start a province adapter as a plugin package, and keep its samples.

* ``new NAME --region CODE [--out DIR] [--force]`` writes a separate, installable package
  (``deltafed-NAME``): a ``pyproject.toml`` declaring the ``deltafed.adapters`` entry point, the
  adapter, a fake of the native platform answering from the synthetic population, the golden
  native samples generated from that fake, and tests. The platform-specific part is one file,
  ``_mapping.py``, marked ``TODO(mapping)``; as generated, the package passes the conformance
  suite unchanged. Nothing is overwritten without ``--force``.
* ``golden NAME --out DIR`` regenerates the golden samples of an installed adapter from its
  sandbox and the synthetic ground truth (refusing a sample the adapter maps wrongly).

A sandbox tool: it draws on the fixtures of :mod:`deltafed.testing` (the synthetic population),
which production code does not import.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Final

from deltafed._errors import ConfigurationError

__all__ = ["register", "render_plugin"]

#: An adapter name this command accepts: it becomes a distribution and a module name.
_NAME: Final = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")
_MAX_NAME: Final = 32
_TEMPLATE: Final = "_plugin_template"


def _names(name: str) -> dict[str, str]:
    if len(name) > _MAX_NAME or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"adapter name {name[:40]!r} must be lower-case letters and digits, words joined by "
            f"'-', at most {_MAX_NAME} characters",
            remediation="For example: deltafed adapter new wanjiang --region 340000",
        )
    words = name.split("-")
    return {
        "name": name,
        "dist": f"deltafed-{name}",
        "module": "deltafed_" + "_".join(words),
        "class": "".join(w.capitalize() for w in words) + "Adapter",
    }


def _files(folder: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    found: list[tuple[str, Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name == "__pycache__":
            continue
        if entry.is_dir():
            found.extend(_files(entry, f"{prefix}{entry.name}/"))
        else:
            found.append((prefix + entry.name, entry))
    return found


def render_plugin(name: str, region: str) -> dict[str, str]:
    """The files of the plugin package of adapter ``name`` for ``region``, by relative path
    (golden samples excepted: they are generated from the rendered package)."""
    from deltafed import __version__
    from deltafed.testing import synthetic_population

    values = _names(name)
    if region not in synthetic_population().regions:
        raise ConfigurationError(
            f"{region[:10]!r} is not a region of the synthetic population, which the fake "
            "platform answers from",
            remediation="Use a region code of the Delta (310000, 320000, 330000, 340000).",
        )
    values |= {"region": region, "deltafed_version": __version__}
    rendered: dict[str, str] = {}
    for relative, entry in _files(resources.files("deltafed.cli").joinpath(_TEMPLATE)):
        text = entry.read_text("utf-8")
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = relative.replace("__module__", values["module"]).removesuffix(".tmpl")
        rendered[path] = text
    return rendered


# The golden samples are generated in a child interpreter: importing the new package and
# registering its adapter would otherwise stay behind in the caller's process.
_GOLDEN_CHILD: Final = """
import importlib, json, sys
args = json.loads(sys.argv[1])
sys.path[:0] = args["path"]
from deltafed.adapters import register_adapter
from deltafed.cli import main
module = importlib.import_module(args["module"])
register_adapter(args["name"], getattr(module, args["class"]))
sys.exit(main(["adapter", "golden", args["name"], "--out", args["out"]]))
"""


def _generate_golden_of_new_package(out: Path, values: dict[str, str]) -> None:
    golden = out / "src" / values["module"] / "golden"
    arguments = {
        "path": [str(out / "src"), *sys.path],
        "module": values["module"],
        "name": values["name"],
        "class": values["class"],
        "out": str(golden),
    }
    done = subprocess.run(  # noqa: S603 - our own interpreter, our own code
        [sys.executable, "-c", _GOLDEN_CHILD, json.dumps(arguments)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise ConfigurationError(
            f"generating the golden samples of the new package failed:\n{done.stderr[-2000:]}"
        )


def _cmd_new(args: argparse.Namespace) -> int:
    from deltafed.adapters import available_adapters

    values = _names(args.name)
    if args.name in available_adapters():
        raise ConfigurationError(
            f"an adapter named {args.name!r} is installed already; choose another name"
        )
    files = render_plugin(args.name, args.region)
    out = Path(args.out) if args.out else Path(values["dist"])
    if out.exists() and any(out.iterdir()) and not args.force:
        raise ConfigurationError(
            f"{out} exists and is not empty; use --force to overwrite the files it generates"
        )
    try:
        for relative, text in files.items():
            target = out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write the package into {out}: {exc}") from exc
    _generate_golden_of_new_package(out, values)
    mapping = f"src/{values['module']}/_mapping.py"
    print(
        f"created {values['dist']} in {out}: adapter {values['name']!r} of region "
        f"{args.region} ({values['module']}.{values['class']}), "
        f"{len(files)} files and its golden samples"
    )
    print(f"next: write the TODO(mapping) parts of {mapping} for your platform, then")
    print(f"  pip install -e '{out}[test]'")
    print(f"  pytest {out}")
    print(f"  deltafed conformance --adapter {args.name}")
    return 0


def _cmd_golden(args: argparse.Namespace) -> int:
    import anyio

    from deltafed.adapters import load_adapter
    from deltafed_conformance import generate_golden
    from deltafed_conformance._golden import render_golden

    load_adapter(args.name)  # an unknown name is a usage error before anything runs
    try:
        files = anyio.run(generate_golden, args.name)
    except (TypeError, ValueError) as exc:
        raise ConfigurationError(f"cannot generate golden samples: {exc}") from exc
    out = Path(args.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, sample in files.items():
            (out / name).write_text(render_golden(sample), encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"cannot write golden samples into {out}: {exc}") from exc
    print(f"wrote {len(files)} golden samples of adapter {args.name} to {out}")
    return 0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "adapter", help="start an adapter plugin package; regenerate its golden samples"
    )
    actions = parser.add_subparsers(dest="adapter_command", metavar="ACTION", required=True)

    new = actions.add_parser(
        "new",
        help="write a plugin package: entry point, adapter, fake platform, golden samples, tests",
    )
    new.add_argument("name", metavar="NAME", help="the adapter's name, e.g. wanjiang")
    new.add_argument("--region", required=True, metavar="CODE", help="the region, e.g. 340000")
    new.add_argument("--out", metavar="DIR", help="where to write it (default: ./deltafed-NAME)")
    new.add_argument("--force", action="store_true", help="overwrite files in a non-empty DIR")
    new.set_defaults(func=_cmd_new)

    golden = actions.add_parser(
        "golden", help="regenerate the golden native samples of an installed adapter"
    )
    golden.add_argument("name", metavar="NAME", help="the adapter's entry-point name")
    golden.add_argument("--out", required=True, metavar="DIR", help="its package's golden/")
    golden.set_defaults(func=_cmd_golden)
