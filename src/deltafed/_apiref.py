"""Render ``docs/api.md``, the API reference, from the public names and their docstrings.

``python -m deltafed._apiref docs/api.md`` rewrites the file; a test fails when the committed
file differs from what this renders, so the reference cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path
from typing import Any, Final

__all__ = ["PUBLIC_PACKAGES", "render"]

#: The packages whose ``__all__`` is the public API, in the order of the layers.
PUBLIC_PACKAGES: Final[tuple[str, ...]] = (
    "deltafed",
    "deltafed.schemas",
    "deltafed.keys",
    "deltafed.protocol",
    "deltafed.registry",
    "deltafed.policy",
    "deltafed.audit",
    "deltafed.adapters",
    "deltafed.node",
    "deltafed.client",
    "deltafed.concerns",
    "deltafed_conformance",
)


def _own_doc(obj: Any) -> str | None:
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
        return inspect.cleandoc(doc) if isinstance(doc, str) else None
    return inspect.getdoc(obj)


def _summary(obj: Any) -> str:
    doc = _own_doc(obj)
    if inspect.isclass(obj) and issubclass(obj, BaseException):
        code = getattr(obj, "code", None)
        status = getattr(obj, "status", None)
        parent = obj.__mro__[1].__name__
        facts = f"code `{code}`, HTTP {status}" if code else ""
        if parent not in ("Exception", "BaseException"):
            facts += f"; a `{parent}`"
        text = _first_paragraph(doc) if doc else ""
        return f"{text} ({facts})" if text else f"({facts})"
    if not doc:
        return ""
    return _first_paragraph(doc)


def _first_paragraph(doc: str) -> str:
    first = doc.strip().split("\n\n", 1)[0]
    return " ".join(line.strip() for line in first.splitlines())


def _kind(obj: Any) -> str:
    if inspect.isclass(obj):
        if issubclass(obj, BaseException):
            return "exception"
        return "class"
    if inspect.isfunction(obj) or inspect.isbuiltin(obj):
        return "function"
    if inspect.ismodule(obj):
        return "module"
    return "constant"


def _signature(name: str, obj: Any) -> str:
    try:
        text = f"{name}{inspect.signature(obj)}"
    except (TypeError, ValueError):
        return name
    # Defaults such as ``clock=system_clock`` print with a memory address: keep the name.
    text = re.sub(r"<function ([\w.]+) at 0x[0-9a-f]+>", r"\1", text)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    """The whole reference as Markdown."""
    lines = [
        "# API reference",
        "",
        "Generated from the code by `python -m deltafed._apiref docs/api.md`; a test fails when",
        "this file differs from the code. Each package's public names are its `__all__`; anything",
        "else (modules and names starting with `_`) is private and may change without notice.",
        "",
    ]
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        names = list(getattr(module, "__all__", ()))
        lines += [f"## `{package}`", ""]
        intro = _summary(module)
        if intro:
            lines += [intro, ""]
        lines += ["| name | kind | summary |", "| --- | --- | --- |"]
        for name in names:
            obj = getattr(module, name)
            kind = _kind(obj)
            summary = "" if kind == "constant" else _summary(obj)
            shown = _signature(name, obj) if kind == "function" else name
            lines.append(f"| `{_escape(shown)}` | {kind} | {_escape(summary)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
