"""The public API is pinned: a change to ``__all__`` must be deliberate."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import pytest

import deltafed
import deltafed.testing as testing
from deltafed._apiref import PUBLIC_PACKAGES


def test_all_is_sorted_and_unique() -> None:
    assert list(deltafed.__all__) == sorted(set(deltafed.__all__))


def test_all_names_resolve() -> None:
    for name in deltafed.__all__:
        assert hasattr(deltafed, name), name


def test_top_level_exports_are_pinned() -> None:
    expected = {
        "Clock",
        "FixedClock",
        "RetryPolicy",
        "__version__",
        "all_error_classes",
        "error_for_code",
        "system_clock",
    }
    errors = {name for name in deltafed.__all__ if name.endswith("Error")}
    assert set(deltafed.__all__) - errors == expected
    assert len(errors) == 55


# Fixtures (test federations, loopback servers, sandboxes and their credentials, synthetic data,
# demo regions and scenarios) live in deltafed.testing alone; the production packages below
# must not export them, under their own name or another.
_FIXTURE_WORDS = {"sandbox", "synthetic", "fault", "faults", "loopback"}
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")


def _looks_like_a_fixture(name: str) -> bool:
    words = [w.lower() for w in _WORD.findall(name)]
    if _FIXTURE_WORDS.intersection(words) or name.startswith("SCENARIO_"):
        return True
    return "InMemory" in name or "LocalFederation" in name


_PRODUCTION = [p for p in PUBLIC_PACKAGES if p not in ("deltafed.testing", "deltafed_conformance")]
_PRODUCTION += [
    "deltafed.adapters.jiangsu",
    "deltafed.adapters.shanghai",
    "deltafed.adapters.zhejiang",
]


def _exports(package: str) -> dict[str, object]:
    module = importlib.import_module(package)
    return {name: getattr(module, name) for name in module.__all__}


def test_the_testing_package_is_public_sorted_and_resolves() -> None:
    assert "deltafed.testing" in PUBLIC_PACKAGES
    assert list(testing.__all__) == sorted(set(testing.__all__), key=_ruff_order)
    for name in testing.__all__:
        assert getattr(testing, name) is not None, name
    for name in ("LocalFederation", "LoopbackServer", "InMemoryAdapter", "synthetic_population"):
        assert name in testing.__all__, name
    assert {"JiangsuSandbox", "ShanghaiSandbox", "ZhejiangSandbox"} <= set(testing.__all__)


@pytest.mark.parametrize("package", _PRODUCTION)
def test_production_packages_export_no_fixture(package: str) -> None:
    fixtures = _exports("deltafed.testing")
    fixture_ids = {id(obj) for obj in fixtures.values() if not isinstance(obj, (str, int))}
    for name, obj in _exports(package).items():
        assert name not in fixtures, f"{package}.{name} is a fixture (it is in deltafed.testing)"
        assert id(obj) not in fixture_ids, f"{package}.{name} is a fixture under another name"
        assert not getattr(obj, "__module__", "").startswith("deltafed.testing"), name
        assert not _looks_like_a_fixture(name), f"{package}.{name} looks like a fixture"


def test_production_modules_do_not_import_the_fixtures() -> None:
    # Only the demo and the commands that build demo or sandbox material may (their module
    # docstrings say so); conformance and tests are not production code.
    allowed = {"demo", "cli/_adapter.py", "cli/_onboard.py", "testing"}
    src = Path(deltafed.__file__).parent
    offenders = []
    for path in sorted(src.rglob("*.py")):
        relative = path.relative_to(src).as_posix()
        if relative in allowed or relative.split("/")[0] in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.ImportFrom)
                and (node.module or "").startswith("deltafed.testing")
            ) or (
                isinstance(node, ast.Import)
                and any(a.name.startswith("deltafed.testing") for a in node.names)
            ):
                offenders.append(relative)
    assert offenders == []


def test_the_check_would_see_a_production_module_importing_the_fixtures(tmp_path: Path) -> None:
    # The walk above recognises both import forms (else it could not fail).
    for line in ("from deltafed.testing import LocalFederation", "import deltafed.testing"):
        tree = ast.parse(line)
        assert any(
            (isinstance(n, ast.ImportFrom) and (n.module or "").startswith("deltafed.testing"))
            or (isinstance(n, ast.Import) and n.names[0].name.startswith("deltafed.testing"))
            for n in ast.walk(tree)
        )


def test_no_object_is_exported_by_two_packages() -> None:
    # One name, one place: a class, function or table is public in one package only.
    owners: dict[int, dict[str, str]] = {}
    for package in PUBLIC_PACKAGES:
        for name, obj in _exports(package).items():
            if isinstance(obj, (str, int, float)):
                continue
            owners.setdefault(id(obj), {}).setdefault(package, name)
    assert [found for found in owners.values() if len(found) > 1] == []


def test_the_fixture_words_are_recognised() -> None:
    for name in (
        "JiangsuSandbox",
        "SANDBOX_APP_KEY",
        "synthetic_population",
        "FAULT_NAMES",
        "SCENARIO_VERIFY",
        "LoopbackServer",
        "InMemoryAdapter",
        "LocalFederation",
    ):
        assert _looks_like_a_fixture(name), name
    for name in ("DEFAULT_TIMEOUT", "MemoryAuditStore", "ScenarioList", "LOCAL_ONLY_CODES"):
        assert not _looks_like_a_fixture(name), name


def _ruff_order(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: SCREAMING_CASE, then CamelCase, then the rest.
    if name.isupper() or name.strip("_").replace("_", "").isupper():
        return (0, name)
    return (1, name) if name[:1].isupper() else (2, name)


def test_no_name_is_exported_by_two_packages() -> None:
    # One name, one meaning: two public things never share a name (the audit's integrity
    # failure is not a Problem, the conformance run's CheckOutcome is not an audit Outcome).
    seen: dict[str, list[str]] = {}
    for package in PUBLIC_PACKAGES:
        for name in _exports(package):
            seen.setdefault(name, []).append(package)
    assert {name: found for name, found in seen.items() if len(found) > 1} == {}
