"""Strict JSON for signed messages: no floats, no NaN, no duplicate member names.

The payload of every deltafed JWS must be in RFC 8785 canonical form. Rather than
re-serialising with the pure-Python ``rfc8785`` package on every message, the hot path uses
the standard library encoder, which emits exactly the RFC 8785 bytes for the values the wire
allows (objects, arrays, strings, I-JSON integers, booleans, null) provided that member names
sort the same way by code point as by UTF-16 code unit. The two orders can only differ for
characters at or above U+E000, whose UTF-8 forms start with a byte of 0xEE or more: when the
encoded bytes hold such a byte, the encoding is redone by :func:`deltafed._canonical.canonicalize`.
A test compares both encoders over generated values.
"""

from __future__ import annotations

import json
import re
from typing import Any

from deltafed._canonical import MAX_DEPTH, canonicalize
from deltafed._errors import InvalidInputError, MalformedMessageError

__all__ = ["canonical_bytes", "canonical_json_value", "loads_strict"]

_MAX_SAFE_INT = 2**53 - 1
#: Lead bytes of the UTF-8 forms of U+E000 and above.
_SORTS_DIFFERENTLY = re.compile(rb"[\xee-\xff]")
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
# For text that must then equal its canonical re-encoding: a duplicate member name cannot
# survive that comparison, so the (slow, per-object) duplicate hook is not needed.
_canonical_decoder = json.JSONDecoder(
    parse_float=_refuse_float, parse_int=_safe_int, parse_constant=_refuse_constant
)


def loads_strict(data: bytes, *, what: str, canonical_follows: bool = False) -> Any:
    """Decode UTF-8 JSON with the wire rules; :class:`MalformedMessageError` on any failure.

    With ``canonical_follows`` duplicate member names are not looked for: the caller then
    compares the input with :func:`canonical_json_value` of the output, which catches them.
    What comes out holds only dicts, lists, strings, I-JSON integers, booleans and ``None``,
    so :func:`canonical_json_value` may encode it."""
    try:
        text = data.decode("utf-8")
        return (_canonical_decoder if canonical_follows else _decoder).decode(text)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedMessageError(f"{what} is not valid JSON: {exc}", field=what) from exc


def canonical_json_value(value: Any) -> bytes:
    """RFC 8785 bytes of a value already known to hold only wire JSON types.

    For values from :func:`loads_strict` or from a validated wire model; anything else goes
    through :func:`canonical_bytes`."""
    try:
        encoded = _encoder.encode(value).encode("utf-8")
    except UnicodeEncodeError as exc:  # lone surrogates
        raise InvalidInputError(f"value cannot be encoded as UTF-8: {exc}") from exc
    except (TypeError, ValueError, RecursionError) as exc:
        raise InvalidInputError(f"value cannot be canonicalised: {exc}") from exc
    if encoded.isascii() or _SORTS_DIFFERENTLY.search(encoded) is None:
        return encoded
    return canonicalize(value)


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
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
