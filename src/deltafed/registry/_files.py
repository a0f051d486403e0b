"""Reading the pinned anchor and registry files from disk."""

from __future__ import annotations

import os
from pathlib import Path

from deltafed._errors import (
    ConfigurationError,
    InvalidInputError,
    RegistryInvalidError,
    SizeLimitError,
)
from deltafed.registry._models import AnchorKeys, RegistryDocument
from deltafed.registry._signing import MAX_REGISTRY_BYTES, verify_registry

__all__ = ["load_anchor_file", "load_registry_file", "read_limited"]

_MAX_ANCHOR_BYTES = 64 * 1024


def read_limited(path: str | os.PathLike[str], max_bytes: int) -> bytes:
    """Read a file, refusing one larger than ``max_bytes`` (one byte more is read to tell)."""
    target = Path(path)
    try:
        with target.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read {target}: {exc}") from exc
    if len(data) > max_bytes:
        raise SizeLimitError(f"{target} is larger than {max_bytes} bytes")
    return data


def load_anchor_file(path: str | os.PathLike[str]) -> AnchorKeys:
    """The pinned anchor (an :class:`AnchorKeys` JSON document, delivered out of band)."""
    data = read_limited(path, _MAX_ANCHOR_BYTES)
    try:
        return AnchorKeys.parse_json(data, max_bytes=_MAX_ANCHOR_BYTES)
    except InvalidInputError as exc:
        raise RegistryInvalidError(
            f"anchor file {path} is not a valid anchor: {exc.message}", field=exc.field
        ) from exc


def load_registry_file(
    path: str | os.PathLike[str], anchor: AnchorKeys, *, max_bytes: int = MAX_REGISTRY_BYTES
) -> RegistryDocument:
    """Read and verify a signed registry file against ``anchor`` (see :func:`verify_registry`).

    For the full client checks (rollback, anchor rotation, expiry) feed the bytes to
    :meth:`TrustedRegistry.update` instead, or use :meth:`TrustedRegistry.update_from_file`.
    """
    return verify_registry(read_limited(path, max_bytes), anchor, max_bytes=max_bytes)
