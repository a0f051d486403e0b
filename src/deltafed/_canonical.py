"""JSON canonicalisation (RFC 8785, JCS) with the wire rules of deltafed.

Every signed payload, registry document and audit digest is computed over these bytes, so a
party in any language can recompute them. Floats are refused outright (RFC 8785 would accept
them, but deltafed's wire has none), as are integers outside the I-JSON range.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from deltafed._errors import InvalidInputError

__all__ = ["MAX_DEPTH", "canonicalize", "sha256_digest"]

#: Deepest nesting accepted in a canonicalised value.
MAX_DEPTH = 32


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InvalidInputError(f"JSON value nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, float):
        raise InvalidInputError("floats are not allowed on the wire")
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
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise InvalidInputError(f"value cannot be canonicalised: {exc}") from exc


def sha256_digest(data: bytes) -> str:
    """``sha-256:`` followed by the lower-case hex SHA-256 of ``data``."""
    return "sha-256:" + hashlib.sha256(data).hexdigest()
