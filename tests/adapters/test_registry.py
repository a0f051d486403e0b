"""Discovery through entry points (a temporary dist-info on sys.path) and the registry."""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deltafed import ConfigurationError
from deltafed.adapters import (
    available_adapters,
    broken_adapters,
    create_adapter,
    load_adapter,
    register_adapter,
    unregister_adapter,
)
from deltafed.adapters.shanghai import ShanghaiAdapter
from deltafed.testing import InMemoryAdapter

BUILT_IN = {"memory", "shanghai", "jiangsu", "zhejiang"}

PLUGIN = """
from deltafed.testing import InMemoryAdapter

class FakeAdapter(InMemoryAdapter):
    name = "fake"

NOT_AN_ADAPTER = 42
"""

ENTRY_POINTS = """[deltafed.adapters]
fake = regfake_adapters:FakeAdapter
broken = regfake_broken:Whatever
number = regfake_adapters:NOT_AN_ADAPTER
missing = regfake_no_such_module:Nope
shanghai = regfake_adapters:FakeAdapter
"""


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "regfake_adapters.py").write_text(PLUGIN)
    (tmp_path / "regfake_broken.py").write_text("raise RuntimeError('plugin bug')\n")
    dist = tmp_path / "regfake_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: regfake-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield tmp_path
    for name in ("regfake_adapters", "regfake_broken"):
        sys.modules.pop(name, None)


def test_built_in_adapters_are_available() -> None:
    assert set(available_adapters()) >= BUILT_IN
    assert load_adapter("shanghai") is ShanghaiAdapter


def test_plugin_found_and_broken_ones_reported(
    plugins: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="deltafed.adapters"):
        found = available_adapters()
    assert found["fake"].__name__ == "FakeAdapter"
    assert set(found) >= BUILT_IN
    assert found["shanghai"] is ShanghaiAdapter  # a plugin cannot shadow a built-in
    broken = {b.name: b for b in broken_adapters()}
    assert set(broken) == {"broken", "number", "missing", "shanghai"}
    assert "plugin bug" in broken["broken"].reason
    assert broken["number"].reason == "not a ProvinceAdapter subclass"
    assert "ModuleNotFoundError" in broken["missing"].reason
    assert broken["shanghai"].distribution == "regfake-plugin"
    assert any("broken" in r.getMessage() for r in caplog.records)


def test_loading_a_broken_adapter_names_the_reason(plugins: Path) -> None:
    with pytest.raises(ConfigurationError, match="plugin bug"):
        load_adapter("broken")
    with pytest.raises(ConfigurationError, match="no adapter named"):
        load_adapter("nowhere")
    with pytest.raises(ConfigurationError):
        load_adapter("Not A Name")


def test_plugin_adapter_is_created_from_config(plugins: Path) -> None:
    adapter = create_adapter("fake", {"region": "340000"})
    assert type(adapter).__name__ == "FakeAdapter"
    assert adapter.region == "340000"


def test_explicit_registration_takes_precedence() -> None:
    class Local(InMemoryAdapter):
        name = "local"

    register_adapter("local", Local)
    try:
        assert load_adapter("local") is Local
        assert available_adapters()["local"] is Local
        register_adapter("local", Local)  # same class again is fine
        with pytest.raises(ConfigurationError):
            register_adapter("local", InMemoryAdapter)
        register_adapter("local", InMemoryAdapter, replace=True)
        assert load_adapter("local") is InMemoryAdapter
    finally:
        unregister_adapter("local")
    with pytest.raises(ConfigurationError):
        load_adapter("local")


def test_registration_is_checked() -> None:
    with pytest.raises(ConfigurationError):
        register_adapter("x", int)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError):
        register_adapter("Bad Name", InMemoryAdapter)
    with pytest.raises(ConfigurationError):
        create_adapter("memory", ["region"])  # type: ignore[arg-type]
