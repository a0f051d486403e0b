"""Plain-text tables that stay aligned with Chinese text (two terminal columns a character).

A cell wider than its column wraps onto more lines instead of being cut: nothing is lost, and
no ellipsis is printed (``…`` is of ambiguous East Asian width, so a Chinese terminal draws it
two columns wide and the columns after it would shift).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

__all__ = ["render_row", "render_table", "text_width", "wrap"]


def text_width(text: str) -> int:
    """Terminal columns ``text`` takes: wide and full-width characters count two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _longest_prefix(word: str, width: int) -> int:
    """How many characters of ``word`` fit in ``width`` columns (at least one)."""
    used = 0
    for n, ch in enumerate(word):
        used += text_width(ch)
        if used > width:
            return max(n, 1)
    return len(word)


def wrap(text: str, width: int) -> list[str]:
    """``text`` in lines of at most ``width`` columns, broken at spaces where it can be.

    A word wider than the column is broken between characters. Always at least one line.
    """
    if width < 2:
        raise ValueError("a column is at least two terminal columns wide")
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if text_width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while text_width(word) > width:
            cut = _longest_prefix(word, width)
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    lines.append(line)
    return lines


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - text_width(text))
    return gap + text if right else text + gap


def render_row(
    values: Sequence[str], widths: Sequence[int], right: Sequence[int] = ()
) -> list[str]:
    """The lines of one row: each cell wrapped to its column, columns two spaces apart."""
    if len(values) != len(widths):
        raise ValueError(f"{len(values)} values for {len(widths)} columns")
    cells = [wrap(str(v), w) for v, w in zip(values, widths, strict=True)]
    height = max(len(c) for c in cells)
    return [
        "  ".join(
            _pad(c[n] if n < len(c) else "", widths[i], i in right) for i, c in enumerate(cells)
        ).rstrip()
        for n in range(height)
    ]


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    max_widths: Sequence[int] | None = None,
    right: Sequence[int] = (),
) -> list[str]:
    """Lines of a table: a header, a rule, the rows. Columns in ``right`` align right.

    A column is as wide as its widest cell, or ``max_widths[i]`` (when not 0) if that is
    less, but never narrower than its header nor than two columns; longer cells wrap.
    """
    widths = [max(text_width(h), 2) for h in headers]
    for row in rows:
        for i, c in enumerate(row):
            widths[i] = max(widths[i], text_width(str(c)))
    if max_widths is not None:
        widths = [
            max(min(w, cap), text_width(h), 2) if cap else w
            for w, cap, h in zip(widths, max_widths, headers, strict=True)
        ]
    lines = [*render_row(headers, widths, right), "  ".join("-" * w for w in widths)]
    for row in rows:
        lines += render_row(row, widths, right)
    return lines
