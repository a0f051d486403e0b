"""A client in Shanghai, and a scripted Jiangsu peer that signs answers (for pytest-httpx)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from tenacity import wait_none

from deltafed import FixedClock
from deltafed.client import AsyncFederationClient, FederationClient
from deltafed.node import JIANGSU, SHANGHAI, ZHEJIANG, LocalFederation
from deltafed.protocol import (
    ProtocolVerifier,
    new_response,
    sign_response,
)

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

    def client(self, **kw: Any) -> FederationClient:
        kw.setdefault("wait", wait_none())
        return FederationClient(
            SHANGHAI, self.fed.keys[SHANGHAI], self.fed.trusted_registry(), clock=self.clock, **kw
        )

    def async_client(self, **kw: Any) -> AsyncFederationClient:
        kw.setdefault("wait", wait_none())
        return AsyncFederationClient(
            SHANGHAI, self.fed.keys[SHANGHAI], self.fed.trusted_registry(), clock=self.clock, **kw
        )


@pytest.fixture
def world() -> World:
    return World()
