"""Plain-text tables that stay aligned with Chinese text (two terminal columns a character)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["render_table", "text_width"]


def text_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _fit(text: str, width: int) -> str:
    if text_width(text) <= width:
        return text
    out = ""
    for ch in text:
        if text_width(out + ch) > width - 1:
            break
        out += ch
    return out + "…"


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - text_width(text))
    return gap + text if right else text + gap


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    max_widths: Sequence[int] | None = None,
    right: Sequence[int] = (),
) -> list[str]:
    """Lines of a table: a header, a rule, the rows. Columns in ``right`` align right."""
    cells = [
        [
            _fit(str(c), max_widths[i]) if max_widths is not None and max_widths[i] else str(c)
            for i, c in enumerate(row)
        ]
        for row in rows
    ]
    widths = [text_width(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], text_width(c))

    def line(values: Sequence[str]) -> str:
        return "  ".join(_pad(v, widths[i], i in right) for i, v in enumerate(values)).rstrip()

    return [line(headers), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]
