"""JSON canonicalisation (RFC 8785, JCS) with the wire rules of deltafed.

Every signed payload, registry document and audit digest is computed over these bytes, so a
party in any language can recompute them. Floats are refused outright (RFC 8785 would accept
them, but deltafed's wire has none), as are integers outside the I-JSON range.

For the values the wire allows (objects, arrays, strings, I-JSON integers, booleans, null) the
standard library's C encoder, with sorted keys and no spaces, emits exactly the RFC 8785
bytes, provided member names sort the same way by code point as by UTF-16 code unit. The two
orders can differ only for characters at or above U+E000, and only member names are sorted.
So the fast encoder is used, and the pure-Python ``rfc8785`` package only when a member name
holds such a character. Tests compare the two over generated values.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import rfc8785

from deltafed._errors import InvalidInputError

__all__ = ["MAX_DEPTH", "canonicalize", "encode_checked", "sha256_digest"]

#: Deepest nesting accepted in a canonicalised value.
MAX_DEPTH = 32
_MAX_SAFE_INT = 2**53 - 1
#: Characters whose order by code point may differ from their order by UTF-16 code unit.
_SORTS_DIFFERENTLY = re.compile("[\ue000-\U0010ffff]")


# The C encoder of the standard library, built once: what json.dumps(value,
# ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":"),
# check_circular=False) runs, without rebuilding it on every call.
def _chunk_encoder() -> Callable[[Any, int], Iterable[str]]:
    if c_make_encoder is not None:
        chunks: Callable[[Any, int], Iterable[str]] = c_make_encoder(
            None, None, encode_basestring, None, ":", ",", True, False, False
        )
        return chunks
    encoder = json.JSONEncoder(  # pragma: no cover - CPython has the C encoder
        ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
    )
    return lambda value, _level: encoder.iterencode(value, _one_shot=True)  # pragma: no cover


_encode_chunks = _chunk_encoder()


def _a_name_sorts_differently(value: Any) -> bool:
    """Whether a member name anywhere in ``value`` holds a character at or above U+E000."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            for name, member in item.items():
                if not (isinstance(name, str) and name.isascii()) and (
                    not isinstance(name, str) or _SORTS_DIFFERENTLY.search(name) is not None
                ):
                    return True
                if isinstance(member, dict | list | tuple):
                    pending.append(member)
        elif isinstance(item, list | tuple):
            pending.extend(m for m in item if isinstance(m, dict | list | tuple))
    return False


def encode_checked(value: Any) -> bytes:
    """RFC 8785 bytes of a value already known to hold only wire JSON types.

    The fast path of :func:`canonicalize`, without its checks: for values parsed with the
    wire rules or dumped from a validated model."""
    try:
        text = "".join(_encode_chunks(value, 0))
        if (
            not text.isascii()
            and _SORTS_DIFFERENTLY.search(text) is not None
            and _a_name_sorts_differently(value)
        ):
            return rfc8785.dumps(value)
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidInputError(f"value cannot be encoded as UTF-8: {exc}") from exc
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
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
