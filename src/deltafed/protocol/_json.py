"""Strict JSON for signed messages: no floats, no NaN, no duplicate member names.

The payload of every deltafed JWS must be in RFC 8785 canonical form. Parsing here applies the
wire rules; encoding uses the fast canonical encoder of :mod:`deltafed._canonical`, which falls
back to the pure-Python ``rfc8785`` package only when a member name needs UTF-16 ordering.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from deltafed._canonical import MAX_DEPTH, encode_checked
from deltafed._errors import InvalidInputError, MalformedMessageError

__all__ = ["canonical_bytes", "canonical_json_value", "check_wire_value", "loads_strict"]

_MAX_SAFE_INT = 2**53 - 1


def _refuse_constant(token: str) -> Any:
    raise ValueError(f"{token} is not allowed on the wire")


def _refuse_float(token: str) -> Any:
    raise ValueError(f"floats are not allowed on the wire (got {token[:32]})")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate member name in a JSON object")
    return result


def _safe_int(token: str) -> int:
    value = int(token)
    if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
        raise ValueError(f"integer {token[:24]} is outside the I-JSON range")
    return value


_decoder = json.JSONDecoder(
    object_pairs_hook=_unique_object,
    parse_float=_refuse_float,
    parse_int=_safe_int,
    parse_constant=_refuse_constant,
)


def loads_strict(data: bytes, *, what: str, canonical_follows: bool = False) -> Any:
    """Decode UTF-8 JSON with the wire rules; :class:`MalformedMessageError` on any failure.

    Without ``canonical_follows``: no floats, no NaN, integers in the I-JSON range, no
    duplicate member names. With it, the caller promises to compare ``data`` with
    :func:`canonical_json_value` of the result, which refuses duplicates, NaN, out-of-range
    integers and every non-canonical spelling; the faster parser of ``orjson`` is used then
    (it reads no NaN, and integers beyond 64 bits as floats, whose re-encoding differs), and
    floats in canonical spelling (``1.5``) and integers beyond the I-JSON range, which are
    re-encoded as they came, are left for the claims schema (or :func:`check_wire_value`) to
    refuse after the signature check.
    """
    try:
        if canonical_follows:
            return orjson.loads(data)
        return _decoder.decode(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessageError(f"{what} is not valid JSON: {exc}", field=what) from exc


def canonical_json_value(value: Any) -> bytes:
    """RFC 8785 bytes of a value already known to hold only wire JSON types.

    For values from :func:`loads_strict` or from a validated wire model; anything else goes
    through :func:`canonical_bytes`."""
    return encode_checked(value)


def check_wire_value(value: Any, depth: int = 0) -> None:
    """Refuse what the wire does not allow: floats, out-of-range integers, deep nesting."""
    _check(value, depth)


def _check(value: Any, depth: int) -> None:
    # The payload object is at level 0; a member or element of a value at level n is at level
    # n + 1. An object or array above level MAX_DEPTH is refused (protocol §2.2).
    if depth > MAX_DEPTH and isinstance(value, dict | list | tuple):
        raise InvalidInputError(f"JSON value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool | str):
        return
    if isinstance(value, int):
        if not -_MAX_SAFE_INT <= value <= _MAX_SAFE_INT:
            raise InvalidInputError("integer outside the I-JSON range")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInputError("JSON object keys must be strings")
            _check(item, depth + 1)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check(item, depth + 1)
        return
    raise InvalidInputError(f"{type(value).__name__} is not allowed on the wire")


def canonical_bytes(value: Any) -> bytes:
    """RFC 8785 bytes of any value; :class:`InvalidInputError` for what the wire refuses."""
    _check(value, 0)
    return canonical_json_value(value)
