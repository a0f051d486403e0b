"""The Chinese docs (``docs/zh/``) cannot drift from the English ones.

Each Chinese page has an English twin; both carry the same code blocks, in the same order,
byte for byte, and the same generated tables. The twins' examples are the English ones, which
their own tests execute (``tests/node/test_docs.py`` runs ``docs/zh/quickstart.md`` too). The
prose is checked where a machine can check a translation: it is Chinese, it has the twin's
heading structure, it names every inline code span of the twin and carries its requirement
ids in the same order, and its links resolve, to the Chinese page wherever there is one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "docs" / "zh"
# The guides integrators read in Chinese (issue #18): each MUST exist in both languages.
GUIDES = ("README.md", "quickstart.md", "adapters.md", "conformance.md")
_BLOCK = re.compile(r"^```[^\n]*\n.*?^```$", re.MULTILINE | re.DOTALL)
_GENERATED = re.compile(r"^<!-- (\w+):begin -->\n.*?^<!-- \1:end -->$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
_HAN = re.compile(r"[\u4e00-\u9fff]")
_SPAN = re.compile(r"`([^`]+)`")
_REQ = re.compile(r"\[REQ:[A-Z]+-\d+\]")
_HEADING = re.compile(r"^(#+) ", re.MULTILINE)


def _twin(page: Path) -> Path:
    return ROOT / "README.md" if page.name == "README.md" else ROOT / "docs" / page.name


def _chinese(english: Path) -> Path | None:
    """The Chinese page of an English one, if it has one."""
    if english == ROOT / "README.md" or english.parent == ROOT / "docs":
        page = ZH / english.name
        return page if page.exists() else None
    return None


def _prose(text: str) -> str:
    """The text a translator writes: no code block, no generated table."""
    return _GENERATED.sub("", _BLOCK.sub("", text))


PAGES = sorted(ZH.glob("*.md"))


def test_the_guides_are_there_in_both_languages() -> None:
    names = {p.name for p in PAGES}
    assert set(GUIDES) <= names, f"docs/zh/ lacks {sorted(set(GUIDES) - names)}"
    for name in GUIDES:
        assert _twin(ZH / name).exists(), f"docs/zh/{name} has no English twin"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_chinese_page_has_an_english_twin(page: Path) -> None:
    assert _twin(page).exists(), f"{page.relative_to(ROOT)} has no English twin"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_same_code_blocks_in_the_same_order(page: Path) -> None:
    english = _BLOCK.findall(_twin(page).read_text(encoding="utf-8"))
    chinese = _BLOCK.findall(page.read_text(encoding="utf-8"))
    assert english, f"{_twin(page)} has no code block"
    assert len(chinese) == len(english), f"{page.name}: {len(chinese)} blocks, not {len(english)}"
    for index, (zh, en) in enumerate(zip(chinese, english, strict=True)):
        assert zh == en, (
            f"{page.relative_to(ROOT)}: code block {index} differs from its English twin's: "
            "copy the English block"
        )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_same_generated_tables(page: Path) -> None:
    english = _GENERATED.findall(_twin(page).read_text(encoding="utf-8"))
    chinese = _GENERATED.findall(page.read_text(encoding="utf-8"))
    assert chinese == english, f"{page.name}: generated sections {chinese}, not {english}"
    for name in english:
        begin, end = f"<!-- {name}:begin -->\n", f"<!-- {name}:end -->"
        twin_text = _twin(page).read_text(encoding="utf-8")
        text = page.read_text(encoding="utf-8")
        table = twin_text[twin_text.index(begin) : twin_text.index(end)]
        assert table == text[text.index(begin) : text.index(end)], (
            f"{page.name}: the generated {name} table differs from the English one: "
            "run `python -m deltafed_conformance._trace`"
        )


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_written_in_chinese(page: Path) -> None:
    prose = _prose(page.read_text(encoding="utf-8"))
    # The prose is Chinese (not an English copy): most of its letters are Han characters.
    han = len(_HAN.findall(prose))
    latin = len(re.findall(r"[A-Za-z]", re.sub(r"`[^`]*`|\([^)]*\)", "", prose)))
    assert han > latin, f"{page.name}: {han} Han characters, {latin} Latin letters"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_same_structure_names_and_requirements(page: Path) -> None:
    prose = _prose(page.read_text(encoding="utf-8"))
    twin = _prose(_twin(page).read_text(encoding="utf-8"))
    # The same headings at the same levels: the structure is translated, not summarised.
    assert _HEADING.findall(prose) == _HEADING.findall(twin), f"{page.name}: headings differ"
    # Every identifier, command, file and key the English prose names in code is named here
    # (white space aside: the English wraps long spans).
    spans = {re.sub(r"\s+", "", s) for s in _SPAN.findall(prose)}
    missing = sorted({re.sub(r"\s+", "", s) for s in _SPAN.findall(twin)} - spans)
    assert not missing, f"{page.name} does not name {missing}"
    assert _REQ.findall(prose) == _REQ.findall(twin), f"{page.name}: requirement ids differ"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve_to_the_chinese_page_where_there_is_one(page: Path) -> None:
    for target in _LINK.findall(_prose(page.read_text(encoding="utf-8"))):
        if "://" in target or target.startswith("mailto:"):
            continue
        resolved = (page.parent / target).resolve()
        assert resolved.exists(), f"{page.name}: broken link {target}"
        chinese = _chinese(resolved)
        # Only the "English" link at the top goes to the twin; other English pages that have
        # a Chinese version are reached through it.
        assert resolved == _twin(page) or chinese is None, (
            f"{page.name}: link {target} goes to the English page; link the Chinese {chinese}"
        )


def test_the_link_check_sees_links() -> None:
    """The checks above find what they look for (so that a passing run means something)."""
    readme = _prose((ZH / "README.md").read_text(encoding="utf-8"))
    assert {"quickstart.md", "../../README.md"} <= set(_LINK.findall(readme))
    assert _chinese(ROOT / "docs" / "quickstart.md") == ZH / "quickstart.md"
    assert _chinese(ROOT / "docs" / "protocol.md") is None or (ZH / "protocol.md").exists()
    assert _REQ.findall(_prose((ZH / "adapters.md").read_text(encoding="utf-8")))
    assert _GENERATED.findall("<!-- checks:begin -->\n| a |\n<!-- checks:end -->") == ["checks"]
