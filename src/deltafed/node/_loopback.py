"""An ASGI app on a real loopback port: uvicorn in a background thread.

For tests, demos and conformance runs. The listening socket is bound (port 0) when the server
object is made, so a caller can publish the port the kernel chose (in a registry, say) before
anything is served; uvicorn then serves on that very socket. Start-up is awaited with an event,
never with a sleep, and a server that fails to start is reported, not hung on.
"""

from __future__ import annotations

import importlib
import socket
import threading
from typing import Any

from deltafed._errors import ConfigurationError

__all__ = ["LoopbackServer", "load_uvicorn"]

_START_TIMEOUT = 30.0
_STOP_TIMEOUT = 30.0


def load_uvicorn() -> Any:
    """The uvicorn module, or a :class:`~deltafed.ConfigurationError` saying how to get it."""
    try:
        return importlib.import_module("uvicorn")
    except ImportError as exc:
        raise ConfigurationError(
            "serving a node needs uvicorn, which is not installed",
            remediation="Install the serve extra: pip install 'deltafed[serve]'.",
        ) from exc


class LoopbackServer:
    """A socket bound to 127.0.0.1 now; an ASGI app served on it by :meth:`start`.

    ``url`` is ``http://127.0.0.1:PORT``; it becomes ``https://...`` when :meth:`start` is
    given uvicorn's TLS options (``ssl_certfile`` and so on, as
    :meth:`NodeConfig.uvicorn_tls_options` returns them).
    """

    def __init__(self) -> None:
        # IPPROTO_TCP so that asyncio sets TCP_NODELAY on the accepted connections; without it
        # every answer written in two parts waits for a delayed ACK (40 ms).
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None

    def start(self, app: Any, **options: Any) -> None:
        """Serve ``app`` (lifespan on) in a daemon thread; return once it accepts connections.

        ``options`` are more ``uvicorn.Config`` arguments, e.g. the ``ssl_*`` ones.
        """
        uvicorn = load_uvicorn()
        ready = threading.Event()

        class _Server(uvicorn.Server):  # type: ignore[misc, name-defined]
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                await super().startup(sockets)
                ready.set()

        settings: dict[str, Any] = {
            "log_level": "warning",
            "lifespan": "on",
            "access_log": False,
            "server_header": False,
            **options,
        }
        config = uvicorn.Config(app, **settings)
        if settings.get("ssl_certfile"):
            self.url = f"https://127.0.0.1:{self.port}"
        self._server = _Server(config)

        def run() -> None:
            try:
                self._server.run(sockets=[self.sock])
            except BaseException as exc:  # noqa: BLE001 - reported by start() below
                self._failure = exc
            finally:
                ready.set()

        self._thread = threading.Thread(
            target=run, name=f"deltafed-loopback-{self.port}", daemon=True
        )
        self._thread.start()
        if not ready.wait(timeout=_START_TIMEOUT) or not self.running:
            raise ConfigurationError(
                f"the node on port {self.port} did not start"
                + (f": {self._failure!r}" if self._failure is not None else "")
            )

    @property
    def running(self) -> bool:
        """Whether uvicorn has started and its thread is alive."""
        return (
            self._thread is not None
            and self._thread.is_alive()
            and self._server is not None
            and bool(self._server.started)
        )

    def stop(self) -> None:
        """Ask uvicorn to finish (lifespan shutdown closes the node's files) and wait for it.

        Safe to call more than once, and on a server that never started.
        """
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=_STOP_TIMEOUT)
        self.sock.close()
