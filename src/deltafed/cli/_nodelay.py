"""uvicorn's h11 protocol with ``TCP_NODELAY`` on every accepted connection.

asyncio turns ``TCP_NODELAY`` on only for sockets whose protocol number says ``IPPROTO_TCP``.
uvicorn's supervisor (``--workers N``) binds ``socket.socket(family)``, protocol 0, so its
workers' connections keep Nagle's algorithm: h11 writes an answer's head and body in two
sends, and the body then waits for the peer's delayed ACK (about 40 ms on Linux). Setting the
option when a connection is made covers one worker, many workers and sockets passed in by
file descriptor alike. Imported only by ``deltafed serve``, after the ``serve`` extra was found.
"""

from __future__ import annotations

import asyncio
import socket

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["NoDelayH11Protocol", "set_nodelay"]

_TCP_FAMILIES = frozenset({socket.AF_INET, socket.AF_INET6})


def set_nodelay(transport: asyncio.BaseTransport) -> bool:
    """Turn on ``TCP_NODELAY`` for ``transport``'s TCP socket; false when it has none."""
    sock = transport.get_extra_info("socket")
    if sock is None or sock.family not in _TCP_FAMILIES or sock.type != socket.SOCK_STREAM:
        return False
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:  # the peer already went away: h11 will see the closed transport
        return False
    return True


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with ``TCP_NODELAY`` set when the connection is made."""

    # asyncio.Transport, as uvicorn's own override takes (narrower than BaseProtocol's).
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(transport)
