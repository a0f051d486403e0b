"""docs/api.md is generated from the code and must not drift from it."""

from __future__ import annotations

import importlib
import inspect
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
