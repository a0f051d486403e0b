"""The example Anhui plugin: found through an entry point, passes the adapter contract."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from deltafed.adapters import available_adapters, broken_adapters, create_adapter, load_adapter
from deltafed.adapters.contract import check_adapter, sample_for

PLUGIN_SRC = Path(__file__).parents[2] / "docs" / "examples" / "anhui-adapter" / "src"
PYPROJECT = PLUGIN_SRC.parent / "pyproject.toml"


@pytest.fixture
def anhui_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # What `pip install` would leave behind: the package on sys.path and a dist-info whose
    # entry_points.txt carries the entry point declared in the plugin's pyproject.toml.
    assert 'anhui = "deltafed_anhui:AnhuiAdapter"' in PYPROJECT.read_text()
    dist = tmp_path / "deltafed_anhui-0.1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: deltafed-anhui\nVersion: 0.1.0\n")
    (dist / "entry_points.txt").write_text(
        "[deltafed.adapters]\nanhui = deltafed_anhui:AnhuiAdapter\n"
    )
    monkeypatch.syspath_prepend(str(PLUGIN_SRC))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    yield
    for name in [m for m in sys.modules if m.startswith("deltafed_anhui")]:
        del sys.modules[name]


def test_not_there_before_installation() -> None:
    assert "anhui" not in available_adapters()


@pytest.mark.usefixtures("anhui_installed")
def test_discovered_through_its_entry_point() -> None:
    cls = load_adapter("anhui")
    assert cls.__module__.startswith("deltafed_anhui")
    assert "anhui" in available_adapters()
    assert [b for b in broken_adapters() if b.name == "anhui"] == []


@pytest.mark.anyio
@pytest.mark.usefixtures("anhui_installed")
async def test_plugin_passes_the_contract() -> None:
    adapter = create_adapter("anhui", {"sandbox": True})
    assert adapter.region == "340000"
    sandbox = adapter.sandbox  # type: ignore[attr-defined]
    report = await check_adapter(adapter, sample_for("340000"), revoke=sandbox.revoke)
    assert report.failed == []
    assert len(report.passed) == 13
