"""Strict JSON for signed messages: no floats, no NaN, no duplicate member names.

The payload of every deltafed JWS must be in RFC 8785 canonical form. Rather than
re-serialising with the pure-Python ``rfc8785`` package on every verification, the hot path
uses the standard library encoder, which emits exactly the RFC 8785 bytes for the values the
wire allows (objects, arrays, strings, I-JSON integers, booleans, null) provided that member
names sort the same way by code point as by UTF-16 code unit. Names holding characters at or
above U+E000 are the only case where the two orders can differ; those (and anything else out
of the ordinary) fall back to :func:`deltafed._canonical.canonicalize`. A test compares both
encoders over generated values.
"""

from __future__ import annotations

import json
from typing import Any

from deltafed._canonical import MAX_DEPTH, canonicalize
from deltafed._errors import InvalidInputError, MalformedMessageError

__all__ = ["canonical_bytes", "loads_strict"]

_MAX_SAFE_INT = 2**53 - 1
_encoder = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
)


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not allowed on the wire")


def _refuse_float(token: str) -> Any:
    raise ValueError(f"floats are not allowed on the wire (got {token[:32]})")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name in a JSON object")
    return result


_decoder = json.JSONDecoder(
    object_pairs_hook=_unique_object,
    parse_float=_refuse_float,
    parse_constant=_refuse_constant,
)


def loads_strict(data: bytes, *, what: str) -> Any:
    """Decode UTF-8 JSON with the wire rules; :class:`MalformedMessageError` on any failure."""
    try:
        text = data.decode("utf-8")
        return _decoder.decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessageError(f"{what} is not valid JSON: {exc}", field=what) from exc


def _plain(value: Any, depth: int) -> bool:
    """True when the standard encoder gives the RFC 8785 bytes for ``value``."""
    if depth > MAX_DEPTH:
        return False
    if isinstance(value, str):
        return True
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or (key and max(key) >= "\ue000"):
                return False
            if not _plain(item, depth + 1):
                return False
        return True
    if isinstance(value, list):
        return all(_plain(item, depth + 1) for item in value)
    return False


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value; :class:`InvalidInputError` for what the wire refuses."""
    if _plain(value, 0):
        try:
            return _encoder.encode(value).encode("utf-8")
        except UnicodeEncodeError as exc:  # lone surrogates
            raise InvalidInputError(f"value cannot be encoded as UTF-8: {exc}") from exc
    return canonicalize(value)
