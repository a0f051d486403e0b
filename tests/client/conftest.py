"""A client in Shanghai, and a scripted Jiangsu peer that signs answers (for pytest-httpx)."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import pytest

from deltafed import FixedClock, RetryPolicy
from deltafed.client import AsyncFederationClient, FederationClient
from deltafed.protocol import (
    ProtocolVerifier,
    new_response,
    sign_response,
)
from deltafed.testing import JIANGSU, SHANGHAI, ZHEJIANG, LocalFederation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
URL = "http://320000.deltafed.test/deltafed/v1/certificates/verify"
RECORDS_URL = "http://320000.deltafed.test/deltafed/v1/records"
RESPONSE_TYPE = "application/deltafed-response+jws"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Peer:
    """Signs answers to the requests it is shown, as Jiangsu would (or as someone else)."""

    def __init__(self, fed: LocalFederation, clock: FixedClock) -> None:
        self.fed = fed
        self.clock = clock
        self.verifier = ProtocolVerifier(fed.trusted_registry(), JIANGSU, clock=clock, replay=None)

    def answer(
        self,
        request: httpx.Request,
        body: Mapping[str, Any],
        *,
        status: str = "ok",
        http_status: int = 200,
        signer: str = JIANGSU,
        for_request: bytes | None = None,
    ) -> httpx.Response:
        raw = for_request if for_request is not None else request.content
        verified = self.verifier.verify_request(raw)
        claims = new_response(verified, status=status, body=body, now=self.clock())  # type: ignore[arg-type]
        signed = sign_response(claims, self.fed.keys[signer])
        return httpx.Response(http_status, content=signed, headers={"content-type": RESPONSE_TYPE})

    def problem(
        self, request: httpx.Request, code: str, http_status: int, **extra: Any
    ) -> httpx.Response:
        body = {"code": code, "title": code.replace("_", " "), "status": http_status, **extra}
        return self.answer(request, body, status="problem", http_status=http_status)


class World:
    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.fed = LocalFederation(
            clock=self.clock,
            members={SHANGHAI: None, JIANGSU: None, ZHEJIANG: None},
            key_seed=5,
        )
        self.peer = Peer(self.fed, self.clock)
        self.audit = self.fed.audit_log(SHANGHAI)

    def client(self, member: str = SHANGHAI, **kw: Any) -> FederationClient:
        kw.setdefault("retry", RetryPolicy.no_wait())
        return FederationClient(
            member, self.fed.keys[member], self.fed.trusted_registry(), clock=self.clock, **kw
        )

    def async_client(self, member: str = SHANGHAI, **kw: Any) -> AsyncFederationClient:
        kw.setdefault("retry", RetryPolicy.no_wait())
        return AsyncFederationClient(
            member, self.fed.keys[member], self.fed.trusted_registry(), clock=self.clock, **kw
        )


@pytest.fixture
def world() -> World:
    return World()


class Twin:
    """One of the two clients, driven the same way: each test runs against both twins.

    :meth:`run` builds a client of its kind, calls one method and closes it (for the async
    twin, inside an event loop of its own); ``transport`` replaces the network.
    """

    def __init__(self, world: World, kind: str) -> None:
        self.world = world
        self.kind = kind

    def run(
        self,
        method: str,
        *args: Any,
        client: Mapping[str, Any] | None = None,
        transport: httpx.MockTransport | None = None,
        **kwargs: Any,
    ) -> Any:
        options = dict(client or {})
        if self.kind == "sync":
            http = httpx.Client(transport=transport) if transport is not None else None
            try:
                with self.world.client(http=http, **options) as sync_client:
                    return getattr(sync_client, method)(*args, **kwargs)
            finally:
                if http is not None:
                    http.close()

        async def go() -> Any:
            http = httpx.AsyncClient(transport=transport) if transport is not None else None
            try:
                async with self.world.async_client(http=http, **options) as async_client:
                    result = getattr(async_client, method)(*args, **kwargs)
                    return await result if inspect.isawaitable(result) else result
            finally:
                if http is not None:
                    await http.aclose()

        return anyio.run(go)

    def new(self, **options: Any) -> Any:
        """A client of this kind, not used to send (its constructor's checks)."""
        if self.kind == "sync":
            return self.world.client(**options)
        return self.world.async_client(**options)


@pytest.fixture(params=["sync", "async"])
def twin(world: World, request: pytest.FixtureRequest) -> Twin:
    return Twin(world, request.param)


class Recorder:
    """A transport that records every request and answers none of them with data."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.transport = httpx.MockTransport(self._handle)

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(599, text="the recorder answers nothing")
