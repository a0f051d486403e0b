"""The Chinese docs (``docs/zh/``) cannot drift from the English ones.

Each Chinese page has an English twin; both carry the same code blocks, in the same order,
byte for byte. The twins' examples run where the English ones run (``tests/node/test_docs.py``
runs ``docs/zh/quickstart.md`` like ``docs/quickstart.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "docs" / "zh"
_BLOCK = re.compile(r"^```[^\n]*\n.*?^```$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_HAN = re.compile(r"[\u4e00-\u9fff]")


def _twin(page: Path) -> Path:
    return ROOT / "README.md" if page.name == "README.md" else ROOT / "docs" / page.name


PAGES = sorted(ZH.glob("*.md"))


def test_the_chinese_pages_are_there() -> None:
    assert {p.name for p in PAGES} >= {"README.md", "quickstart.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_same_code_blocks_in_the_same_order(page: Path) -> None:
    english = _BLOCK.findall(_twin(page).read_text(encoding="utf-8"))
    chinese = _BLOCK.findall(page.read_text(encoding="utf-8"))
    assert english, f"{_twin(page)} has no code block"
    assert chinese == english, f"{page.relative_to(ROOT)} differs from its English twin"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_written_in_chinese_with_links_that_resolve(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    prose = _BLOCK.sub("", text)
    # The prose is Chinese (not an English copy): most of its letters are Han characters.
    han = len(_HAN.findall(prose))
    latin = len(re.findall(r"[A-Za-z]", re.sub(r"`[^`]*`|\([^)]*\)", "", prose)))
    assert han > latin, f"{page.name}: {han} Han characters, {latin} Latin letters"
    for target in _LINK.findall(prose):
        if "://" not in target:
            assert (page.parent / target).exists(), f"{page.name}: broken link {target}"
    # Same headings count as the twin: the structure is translated, not summarised.
    twin = _BLOCK.sub("", _twin(page).read_text(encoding="utf-8"))
    assert len(re.findall(r"^#+ ", prose, re.M)) == len(re.findall(r"^#+ ", twin, re.M))
