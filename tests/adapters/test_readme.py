"""The README says exactly which province adapters ship with deltafed."""

from __future__ import annotations

import re
from importlib.metadata import distribution
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_names_the_adapters_that_ship() -> None:
    shipped = {
        ep.name for ep in distribution("deltafed").entry_points if ep.group == "deltafed.adapters"
    }
    text = " ".join(README.read_text(encoding="utf-8").split())
    said = re.search(r"deltafed installs adapters for \*\*[^*]+\*\* \(([^)]+)\)", text)
    assert said is not None
    named = set(re.findall(r"`([a-z-]+)`", said.group(1)))
    assert named == shipped - {"memory"}  # memory is the test adapter, not a province
    assert "anhui" not in shipped
    assert "**Anhui** has no adapter in deltafed" in text
    assert (README.parent / "docs" / "examples" / "anhui-adapter" / "pyproject.toml").is_file()
