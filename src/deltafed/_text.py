"""Reading one value from a small text file, exactly.

A file that holds one value (a checkpoint, a hex key) may end with one line ending, as text
files do; nothing else around the value is accepted, so that a value has one spelling.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Final

__all__ = ["hex_or_raw_secret", "one_line", "rfc3339_instant"]

_HEX: Final = re.compile(rb"(?:[0-9a-fA-F]{2})+")
#: An RFC 3339 date-time with its offset (``T`` or a space between date and time).
_RFC3339: Final = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def rfc3339_instant(text: object) -> datetime | None:
    """The instant ``text`` writes in RFC 3339 (with an offset), or ``None``.

    The shape is checked over the whole text first: ``datetime.fromisoformat`` alone accepts
    other ISO 8601 forms and, in CPython, ignores anything after a NUL character.
    """
    if not isinstance(text, str) or not _RFC3339.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.upper())
    except ValueError:
        return None


def one_line(data: bytes) -> bytes:
    """``data`` without one final ``\\n`` or ``\\r\\n``; everything else is kept as it is."""
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def hex_or_raw_secret(data: bytes) -> bytes:
    """A secret kept as hex text (one line) or as raw bytes (taken unchanged)."""
    text = one_line(data)
    if _HEX.fullmatch(text):
        return bytes.fromhex(text.decode("ascii"))
    return data
