"""``deltafed serve`` turns on TCP_NODELAY for every connection, whoever bound the socket.

uvicorn's supervisor (``--workers N``) binds a socket of protocol 0, on which asyncio sets no
TCP_NODELAY. These tests serve on such a socket and read the option off the server's own end
of the connection while a request is being answered.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx
import pytest

uvicorn = pytest.importorskip("uvicorn")

from uvicorn.protocols.http.h11_impl import H11Protocol  # noqa: E402

from deltafed.cli import _serve  # noqa: E402
from deltafed.cli._nodelay import NoDelayH11Protocol, set_nodelay  # noqa: E402

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def _protocol_zero_socket() -> socket.socket:
    """A listening socket made the way uvicorn's supervisor makes it (no IPPROTO_TCP)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert sock.proto == 0
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    return sock


async def _nodelay_seen_by_server(http: type[Any]) -> list[int]:
    """Serve one request on a protocol-0 socket with ``http``; the option on each server-side
    connection socket, read while the request is answered."""
    seen: list[int] = []
    server: Any = None

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        for connection in server.server_state.connections:
            conn_sock = connection.transport.get_extra_info("socket")
            seen.append(conn_sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    sock = _protocol_zero_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", http=http)
    server = uvicorn.Server(config)
    # The socket already listens: the client's connection waits in its backlog until the
    # server accepts it, so nothing has to wait for start-up.
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with httpx.AsyncClient() as client:
            response = await client.get(f"http://127.0.0.1:{port}/")
        assert response.status_code == 200
    finally:
        server.should_exit = True
        await serving
        sock.close()
    return seen


def test_uvicorn_h11_on_a_protocol_zero_socket_keeps_nagle() -> None:
    # The problem itself: without deltafed's protocol class the option stays off.
    assert asyncio.run(_nodelay_seen_by_server(H11Protocol)) == [0]


def test_deltafed_protocol_sets_nodelay_on_a_protocol_zero_socket() -> None:
    assert asyncio.run(_nodelay_seen_by_server(NoDelayH11Protocol)) == [1]


def test_set_nodelay_ignores_a_transport_without_a_tcp_socket() -> None:
    class NoSocket(asyncio.BaseTransport):
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return default

    assert set_nodelay(NoSocket()) is False
    left, right = socket.socketpair()  # AF_UNIX: no TCP options

    class UnixTransport(asyncio.BaseTransport):
        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return left if name == "socket" else default

    try:
        assert set_nodelay(UnixTransport()) is False
    finally:
        left.close()
        right.close()


@pytest.mark.parametrize("workers", [1, 3])
def test_serve_hands_uvicorn_the_nodelay_protocol(
    monkeypatch: pytest.MonkeyPatch, workers: int, tmp_path: Any
) -> None:
    calls: list[dict[str, Any]] = []

    class FakeUvicorn:
        @staticmethod
        def run(app: Any, **kwargs: Any) -> None:
            calls.append(kwargs)

    monkeypatch.setattr(_serve, "_uvicorn", lambda: FakeUvicorn)
    monkeypatch.setattr(_serve, "configure_logging", lambda *a, **k: None)
    if workers == 1:
        _serve.run_uvicorn(object(), host="127.0.0.1", port=0)
    else:
        monkeypatch.setenv(_serve.CONFIG_ENV, "unused")
        _serve.run_uvicorn_workers(
            str(tmp_path / "node.toml"), host="127.0.0.1", port=0, workers=workers
        )
    assert [call["http"] for call in calls] == [NoDelayH11Protocol]
    if workers > 1:
        assert calls[0]["workers"] == workers
