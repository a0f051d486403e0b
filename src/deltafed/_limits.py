"""The one size-limited body reader and the one loopback check, shared by every layer that
reads bytes from a peer (node, client, registry client, adapters) or decides what is local.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from deltafed._errors import DeltafedError, SizeLimitError

__all__ = ["LimitedBody", "is_loopback_host"]


class LimitedBody:
    """Collects a body chunk by chunk, refusing it as soon as it passes ``limit`` bytes.

    ``too_large(limit)`` builds the error to raise (a :class:`~deltafed.SizeLimitError` by
    default; an adapter raises its :class:`~deltafed.AdapterDataError`). What was collected is
    dropped with the object, so an oversized body never sits in memory whole.
    """

    __slots__ = ("_too_large", "chunks", "limit", "size")

    def __init__(
        self, limit: int, *, too_large: Callable[[int], DeltafedError] | None = None
    ) -> None:
        self.limit = limit
        self.size = 0
        self.chunks: list[bytes] = []
        self._too_large = too_large

    def add(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.limit:
            if self._too_large is not None:
                raise self._too_large(self.limit)
            raise SizeLimitError(f"body exceeds the limit of {self.limit} bytes")
        self.chunks.append(chunk)

    def bytes(self) -> bytes:
        return b"".join(self.chunks)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` (a name, an IPv4 or a bracketed or bare IPv6 address) is loopback."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
