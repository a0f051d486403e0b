"""Fixtures of the conformance suite's own tests: a node on loopback for the live target."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest
import uvicorn


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


class LoopbackServer:
    """An ASGI app served by uvicorn on 127.0.0.1 (port chosen by the OS), in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def start(self, app: Any) -> None:
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self._server = _Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self._thread.start()
        if not self._server.ready.wait(timeout=30):
            raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=30)
        self.sock.close()
