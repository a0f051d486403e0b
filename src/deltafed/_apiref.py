"""Render ``docs/api.md``, the API reference, from the public names and their docstrings.

``python -m deltafed._apiref docs/api.md`` rewrites the file; a test fails when the committed
file differs from what this renders, so the reference cannot drift from the code.

Each package gets a table of its public names (its ``__all__``), then a section for each public
class that is not an exception: its constructor and every public method and property, with
their signatures, whether defined on the class or inherited from another deltafed class.
Whatever names are public, the reference follows: nothing here lists them by hand.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import inspect
import re
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Final, NamedTuple

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
    "deltafed.testing",
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
    # A decorated function (functools.lru_cache, say) is still a function.
    if inspect.isfunction(inspect.unwrap(obj)) or inspect.isbuiltin(obj):
        return "function"
    if inspect.ismodule(obj):
        return "module"
    return "constant"


class _Raw:
    """An annotation shown as written (``from __future__ import annotations`` keeps strings)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _as_written(annotation: Any) -> Any:
    return _Raw(annotation) if isinstance(annotation, str) else annotation


def _signature_text(signature: inspect.Signature) -> str:
    signature = signature.replace(
        parameters=[
            p.replace(annotation=_as_written(p.annotation)) for p in signature.parameters.values()
        ],
        return_annotation=_as_written(signature.return_annotation),
    )
    # Defaults such as ``clock=system_clock`` print with a memory address: keep the name.
    text = re.sub(r"<function ([\w.]+) at 0x[0-9a-f]+>", r"\1", str(signature))
    text = re.sub(r"<class '(?:\w+\.)*(\w+)'>", r"\1", text)
    return re.sub(r" at 0x[0-9a-f]+", "", text)


def _signature(name: str, obj: Any, *, drop_first: bool = False) -> str:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return name
    if drop_first:
        signature = signature.replace(parameters=list(signature.parameters.values())[1:])
    return f"{name}{_signature_text(signature)}"


class _Member(NamedTuple):
    """One entry of a class section: how it reads, and its summary."""

    name: str
    shown: str
    summary: str


def _ours(cls: type) -> bool:
    return cls.__module__.split(".")[0] in ("deltafed", "deltafed_conformance")


def _is_record(cls: type) -> bool:
    """A dataclass or a pydantic model: its fields are its constructor's parameters."""
    return dataclasses.is_dataclass(cls) or hasattr(cls, "model_fields")


def _members(cls: type) -> list[_Member]:
    """The public methods, properties and class attributes of ``cls``, in definition order,
    from ``cls`` and the deltafed classes it inherits from (``__call__`` counts as public)."""
    found: list[_Member] = []
    seen: set[str] = set()
    for owner in cls.__mro__:
        if not _ours(owner):
            continue
        for name, raw in owner.__dict__.items():
            if name in seen or (name.startswith("_") and name != "__call__"):
                continue
            seen.add(name)
            member = _member(cls, owner, name, raw)
            if member is not None:
                found.append(member)
    return found


def _defined_in(owner: type, func: Any) -> bool:
    """Whether ``func`` was written in ``owner``'s body (not a function stored as a default)."""
    return str(getattr(func, "__qualname__", "")).startswith(owner.__qualname__ + ".")


def _method_summary(cls: type, name: str) -> str:
    """The first paragraph of the method's docstring, or of the deltafed method it overrides
    (never one of Python's own, such as ``object.__call__``'s)."""
    for owner in cls.__mro__:
        if name not in owner.__dict__:
            continue  # (None.__doc__ is a string since Python 3.13)
        inherited = owner.__dict__[name]
        if isinstance(inherited, staticmethod | classmethod | property):
            inherited = (
                inherited.__func__ if not isinstance(inherited, property) else inherited.fget
            )
        doc = getattr(inherited, "__doc__", None)
        if _ours(owner) and isinstance(doc, str) and doc.strip():
            return _first_paragraph(inspect.cleandoc(doc))
    return ""


def _member(cls: type, owner: type, name: str, raw: Any) -> _Member | None:
    if isinstance(raw, staticmethod | classmethod) and not _defined_in(owner, raw.__func__):
        return None
    if inspect.isfunction(raw) and not _defined_in(owner, raw):
        return None  # a field whose default is a function, say
    if isinstance(raw, staticmethod):
        func = raw.__func__
        return _Member(name, f"static {_signature(name, func)}", _method_summary(cls, name))
    if isinstance(raw, classmethod):
        func = raw.__func__
        return _Member(
            name,
            f"classmethod {_signature(name, getattr(cls, name))}",
            _method_summary(cls, name),
        )
    if inspect.isfunction(raw):
        prefix = "async " if inspect.iscoroutinefunction(raw) else ""
        return _Member(
            name, prefix + _signature(name, raw, drop_first=True), _method_summary(cls, name)
        )
    if isinstance(raw, property | cached_property):
        getter = raw.fget if isinstance(raw, property) else raw.func
        returns = inspect.signature(getter).return_annotation if getter else inspect.Signature.empty
        shown = name if returns is inspect.Signature.empty else f"{name}: {_as_written(returns)!r}"
        return _Member(name, f"property {shown}", _method_summary(cls, name))
    if (
        callable(raw)
        or inspect.isdatadescriptor(raw)
        or inspect.ismethoddescriptor(raw)
        or isinstance(cls, enum.EnumMeta)
        or _is_record(cls)
    ):
        return None  # fields are in the constructor; enum members are listed apart
    annotation = next(
        (
            inspect.get_annotations(owner)[name]
            for owner in cls.__mro__
            if name in inspect.get_annotations(owner)
        ),
        None,
    )
    typed = f": {_as_written(annotation)!r}" if annotation is not None else ""
    return _Member(name, f"{name}{typed} = {raw!r}", "")


def _constructor(name: str, cls: type) -> str:
    """``Name(parameters)``; a pydantic model's fields typed as its source writes them."""
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        return name
    if hasattr(cls, "model_fields"):
        written: dict[str, Any] = {}
        for owner in reversed(cls.__mro__):
            written.update(inspect.get_annotations(owner))
        signature = signature.replace(
            parameters=[
                p.replace(annotation=written.get(p.name, p.annotation))
                for p in signature.parameters.values()
            ]
        )
    return f"{name}{_signature_text(signature)}"


def _class_section(package: str, name: str, cls: type) -> list[str]:
    lines = [f"### `{package}.{name}`", ""]
    doc = _own_doc(cls)
    if doc:
        lines += [_first_paragraph(doc), ""]
    if isinstance(cls, enum.EnumMeta):
        values = ", ".join(f"`{m.name}` = `{m.value!r}`" for m in cls)  # type: ignore[var-annotated]
        return [*lines, f"Members: {values}.", ""]
    if not getattr(cls, "_is_protocol", False) and not inspect.isabstract(cls):
        lines += ["```python", _constructor(name, cls), "```", ""]
    elif inspect.isabstract(cls):
        lines += ["Abstract: subclass it and implement the abstract methods.", ""]
    else:
        lines += ["A protocol: any object with these methods and properties will do.", ""]
    usage = [
        text
        for dunder, text in (("__enter__", "`with`"), ("__aenter__", "`async with`"))
        if any(dunder in owner.__dict__ for owner in cls.__mro__ if _ours(owner))
    ]
    if usage:
        lines += [f"A context manager: use it in {' or '.join(usage)} to close it.", ""]
    for member in _members(cls):
        text = f"- `{member.shown}`"
        if member.summary:
            text += f": {member.summary}"
        lines.append(text)
    if lines[-1] != "":
        lines.append("")
    return lines


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
        "Each public class is described after its package's table, with its constructor and",
        "every public method and property (a class listed by two packages, under the first).",
        "",
    ]
    documented: dict[int, str] = {}
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        names = list(getattr(module, "__all__", ()))
        lines += [f"## `{package}`", ""]
        intro = _summary(module)
        if intro:
            lines += [intro, ""]
        lines += ["| name | kind | summary |", "| --- | --- | --- |"]
        classes: list[tuple[str, type]] = []
        for name in names:
            obj = getattr(module, name)
            kind = _kind(obj)
            summary = "" if kind == "constant" else _summary(obj)
            shown = _signature(name, obj) if kind == "function" else name
            if kind == "class" and id(obj) not in documented:
                documented[id(obj)] = f"{package}.{name}"
                classes.append((name, obj))
            elif kind == "class":
                summary = f"{summary} See `{documented[id(obj)]}`.".strip()
            lines.append(f"| `{_escape(shown)}` | {kind} | {_escape(summary)} |")
        lines.append("")
        for name, cls in classes:
            lines += _class_section(package, name, cls)
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
