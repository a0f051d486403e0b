"""docs/api.md is generated from the code and must not drift from it."""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

from deltafed._apiref import PUBLIC_PACKAGES, render

API_MD = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_committed_reference_matches_the_code() -> None:
    assert API_MD.read_text(encoding="utf-8") == render(), (
        "docs/api.md is stale: run `python -m deltafed._apiref docs/api.md`"
    )


def test_every_public_name_is_listed() -> None:
    text = render()
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        assert f"## `{package}`" in text
        for name in module.__all__:
            assert f"| `{name}" in text, f"{package}.{name} missing from the reference"


def test_every_public_class_and_function_is_documented() -> None:
    missing = []
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if not (inspect.isclass(obj) or inspect.isfunction(obj)):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue  # errors are described by their code, status and parent
            own = obj.__dict__.get("__doc__") if inspect.isclass(obj) else obj.__doc__
            if not (isinstance(own, str) and own.strip()):
                missing.append(f"{package}.{name}")
    assert not missing, f"public names without a docstring: {missing}"


def _first_listed() -> dict[int, tuple[str, str, type]]:
    """Each public class (not an error) by identity: the first package and name listing it."""
    found: dict[int, tuple[str, str, type]] = {}
    for package in PUBLIC_PACKAGES:
        module = importlib.import_module(package)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) and not issubclass(obj, BaseException):
                found.setdefault(id(obj), (package, name, obj))
    return found


def _public_methods(cls: type) -> dict[str, list[str]]:
    """Every public method of ``cls`` that deltafed defines, with its parameter names."""
    methods: dict[str, list[str]] = {}
    for name in dir(cls):
        if name.startswith("_"):
            continue
        owner = next(k for k in cls.__mro__ if name in k.__dict__)
        if owner.__module__.split(".")[0] not in ("deltafed", "deltafed_conformance"):
            continue
        raw = owner.__dict__[name]
        if isinstance(raw, staticmethod | classmethod):
            raw = raw.__func__
        elif not inspect.isfunction(raw):
            continue
        if not raw.__qualname__.startswith(f"{owner.__qualname__}."):
            continue  # a function stored as a field's default, not a method
        parameters = list(inspect.signature(getattr(cls, name)).parameters)
        methods[name] = [p for p in parameters if p != "self"]
    return methods


def _section(text: str, heading: str) -> str:
    start = text.index(heading)
    ends = [i for i in (text.find("\n### ", start + 1), text.find("\n## ", start + 1)) if i > 0]
    return text[start : min(ends, default=len(text))]


def test_every_public_method_is_listed_with_its_signature() -> None:
    text = render()
    checked = 0
    for package, name, cls in _first_listed().values():
        section = _section(text, f"### `{package}.{name}`\n")
        for method, parameters in _public_methods(cls).items():
            lines = [line for line in section.splitlines() if re.search(rf"\b{method}\(", line)]
            assert lines, f"{package}.{name}.{method} is missing from the reference"
            for parameter in parameters:
                assert re.search(rf"[(, *]{parameter}\b", lines[0]), (
                    f"{package}.{name}.{method}: parameter {parameter} is not shown"
                )
            checked += 1
    assert checked > 100


def test_the_client_shows_release_certificate() -> None:
    text = render()
    for name in ("FederationClient", "AsyncFederationClient"):
        section = _section(text, f"### `deltafed.client.{name}`\n")
        (line,) = [x for x in section.splitlines() if "release_certificate(" in x]
        assert "fields: Sequence[str]" in line
        assert "-> ReleaseResult" in line
        for method in ("verify_certificate(", "request_record(", "issue_consent("):
            assert method in section
