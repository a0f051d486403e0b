"""The golden samples shipped with the suite are exactly what the generator produces."""

from __future__ import annotations

from pathlib import Path

import pytest

import deltafed_conformance
from deltafed_conformance import generate_golden, load_golden
from deltafed_conformance._golden import render_golden

GOLDEN = Path(deltafed_conformance.__file__).parent / "golden"


@pytest.mark.anyio
@pytest.mark.parametrize("adapter", ["shanghai", "jiangsu", "zhejiang"])
async def test_golden_files_are_reproducible(adapter: str) -> None:
    files = await generate_golden(adapter)
    on_disk = sorted(p.name for p in (GOLDEN / adapter).glob("*.json"))
    assert on_disk == sorted(files)
    for name, sample in files.items():
        assert (GOLDEN / adapter / name).read_text("utf-8") == render_golden(sample)
    calls = {s.call for s in load_golden(adapter)}
    assert calls == {"find_certificate", "certificate_data", "fetch_record"}


@pytest.mark.anyio
async def test_an_adapter_without_native_platform_has_no_goldens() -> None:
    # generate_golden compares the adapter's output with the synthetic ground truth.
    assert load_golden("memory") == []
    with pytest.raises(TypeError):
        await generate_golden("memory")
