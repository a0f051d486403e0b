"""JSON canonicalisation (RFC 8785, JCS) with the wire rules of deltafed.

Every signed payload, registry document and audit digest is computed over these bytes, so a
party in any language can recompute them. Floats are refused outright (RFC 8785 would accept
them, but deltafed's wire has none), as are integers outside the I-JSON range.

For the values the wire allows (objects, arrays, strings, I-JSON integers, booleans, null)
``orjson`` with sorted keys emits exactly the RFC 8785 bytes (no spaces, ``\\uXXXX`` in lower
case only for control characters, every other character as UTF-8), provided member names sort
the same way by code point as by UTF-16 code unit. The two orders can differ only for
characters at or above U+E000, and only member names are sorted. So ``orjson`` is used, and
the pure-Python ``rfc8785`` package only when a member name holds such a character (ADR 0013).
Tests compare the two over generated values.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

import orjson
import rfc8785

from deltafed._errors import InvalidInputError

__all__ = ["MAX_DEPTH", "canonicalize", "encode_checked", "sha256_digest"]

#: Deepest nesting accepted in a canonicalised value.
MAX_DEPTH = 32
_MAX_SAFE_INT = 2**53 - 1
#: Characters whose order by code point may differ from their order by UTF-16 code unit.
_SORTS_DIFFERENTLY = re.compile("[\ue000-\U0010ffff]")
#: Deleting these bytes from UTF-8 leaves only lead bytes of such characters: U+E000 to U+FFFF
#: start with 0xEE or 0xEF, the rest with 0xF0 to 0xF4 (no other byte of UTF-8 is 0xEE or
#: above). One C pass, several times faster than a regular expression search.
_BELOW_0XEE = bytes(range(0xEE))
#: Sorted keys; a date, time or dataclass is refused (TypeError) rather than turned into text,
#: as the standard library's encoder would refuse it.
_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
#: For member names that are ``str`` subclasses (a MemberId as a key), which orjson takes only
#: with this option; it also writes int and bool keys as text, as the standard library does.
_OPTIONS_ANY_KEYS = _OPTIONS | orjson.OPT_NON_STR_KEYS
#: The types a wire value holds (subclasses too: a MemberId is a str, True an int).
_WIRE_TYPES = (str, int, dict, list, tuple)
#: A tuple, not ``dict | list | tuple``: isinstance is about twice as fast with it.
_CONTAINERS = (dict, list, tuple)


def _a_name_sorts_differently(value: Any) -> bool:
    """Whether a member name anywhere in ``value`` holds a character at or above U+E000.

    Asked whenever the encoded text holds such a character anywhere, which Chinese text with
    full-width punctuation (U+FF08, U+FF0C) does in most answers."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for name, member in item.items():
                if not (type(name) is str and name.isascii()) and (
                    not isinstance(name, str) or _SORTS_DIFFERENTLY.search(name) is not None
                ):
                    return True
                if isinstance(member, _CONTAINERS):
                    pending.append(member)
        elif isinstance(item, _CONTAINERS):
            pending.extend(m for m in item if isinstance(m, _CONTAINERS))
    return False


def encode_checked(value: Any) -> bytes:
    """RFC 8785 bytes of a value already known to hold only wire JSON types.

    The fast path of :func:`canonicalize`, without its checks: for values parsed with the
    wire rules or dumped from a validated model."""
    try:
        try:
            data = orjson.dumps(value, option=_OPTIONS)
        except TypeError:
            # Most likely a str-subclass member name; anything else fails this call too.
            data = orjson.dumps(value, option=_OPTIONS_ANY_KEYS)
        if (
            not data.isascii()
            and data.translate(None, _BELOW_0XEE)
            and _a_name_sorts_differently(value)
        ):
            return rfc8785.dumps(value)
        return data
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        # orjson's errors are TypeErrors: a lone surrogate, an integer beyond 64 bits, a type
        # that is not JSON, nesting deeper than it goes.
        raise InvalidInputError(f"value cannot be canonicalised: {exc}") from exc


def _check(value: Any, depth: int) -> None:
    # Levels as in protocol §2.2: the root is level 0; an object or array above MAX_DEPTH is
    # refused, a scalar inside a level-MAX_DEPTH container is not.
    if depth > MAX_DEPTH and isinstance(value, dict | list | tuple):
        raise InvalidInputError(f"JSON value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float):
        raise InvalidInputError("floats are not allowed on the wire")
    if isinstance(value, int) and not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        raise InvalidInputError("integers outside the I-JSON range are not allowed on the wire")
    if value is not None and not isinstance(value, _WIRE_TYPES):
        raise InvalidInputError(f"{type(value).__name__} is not a JSON value")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError("JSON object keys must be strings")
            _check(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item, depth + 1)


def canonicalize(value: Any) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a JSON-compatible value."""
    _check(value, 0)
    return encode_checked(value)


def sha256_digest(data: bytes) -> str:
    """``sha-256:`` followed by the lower-case hex SHA-256 of ``data``."""
    return "sha-256:" + hashlib.sha256(data).hexdigest()
