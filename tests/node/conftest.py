"""A Jiangsu node in process, reached through httpx's ASGI transport, and a Shanghai sender."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from deltafed import FixedClock
from deltafed.adapters._synthetic import IDENTITY_CARD
from deltafed.audit import AuditLog
from deltafed.node import Node
from deltafed.protocol import (
    MemoryReplayStore,
    ProtocolVerifier,
    VerifiedResponse,
    new_request,
    sign_request,
)
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import HolderType
from deltafed.testing import JIANGSU, SHANGHAI, ZHEJIANG, InMemoryAdapter, LocalFederation

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
BASE = "http://320000.deltafed.test"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class FlakyAdapter(InMemoryAdapter):
    """The synthetic Jiangsu data, with a switch to make the platform fail."""

    fail: BaseException | None = None
    bad_metadata: bool = False

    def _maybe_fail(self) -> None:
        if self.fail is not None:
            raise self.fail

    async def _find_certificate(self, **kw: Any) -> CertificateMetadata:
        self._maybe_fail()
        meta = await super()._find_certificate(**kw)
        if self.bad_metadata:
            return meta.model_copy(update={"identifier": "not-an-identifier"})
        return meta

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> Any:
        self._maybe_fail()
        return await super()._fetch_record(record_type, subject_code, subject_type, fields)


class FlakyAudit:
    """An audit log that can be made to fail."""

    def __init__(self, inner: AuditLog) -> None:
        self.inner = inner
        self.fail = False

    def record(self, **kwargs: Any) -> object:
        if self.fail:
            raise OSError("disk full")
        return self.inner.record(**kwargs)


@dataclass
class Sent:
    request: bytes
    response: httpx.Response

    @property
    def status(self) -> int:
        return self.response.status_code


class Harness:
    def __init__(self) -> None:
        self.clock = FixedClock(T0)
        self.fed = LocalFederation(
            clock=self.clock,
            members={SHANGHAI: None, JIANGSU: None, ZHEJIANG: None},
            key_seed=3,
        )
        self.adapter = FlakyAdapter.synthetic("320000")
        self.audit_log = self.fed.audit_log(JIANGSU)
        self.audit = FlakyAudit(self.audit_log)
        self.replay = MemoryReplayStore()
        self.node: Node = self.fed.node(
            JIANGSU, adapter=self.adapter, audit=self.audit, replay=self.replay
        )
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.node), base_url=BASE)
        self.registry = self.fed.trusted_registry()

    def sign(
        self,
        *,
        operation: str = "certificate.verify",
        target: str = IDENTITY_CARD.type_code,
        scenario: str = "yrd-identity-verify",
        body: Mapping[str, Any],
        consent: bytes | None = None,
        sender: str = SHANGHAI,
        audience: str = JIANGSU,
        jti: str | None = None,
        lifetime: int = 60,
    ) -> bytes:
        claims = new_request(
            issuer=sender,
            audience=audience,
            operation=operation,
            target=target,
            scenario=scenario,
            body=body,
            consent=consent,
            now=self.clock(),
            jti=jti,
            lifetime=lifetime,
        )
        return sign_request(claims, self.fed.keys[sender])

    async def post(
        self, raw: bytes, path: str = "/deltafed/v1/certificates/verify", **headers: str
    ) -> Sent:
        response = await self.http.post(
            path,
            content=raw,
            headers={"content-type": "application/deltafed-request+jws", **headers},
        )
        return Sent(raw, response)

    def verify(self, sent: Sent, member: str = SHANGHAI) -> VerifiedResponse:
        verifier = ProtocolVerifier(self.registry, member, clock=self.clock, replay=None)
        return verifier.verify_response(sent.response.content, request_raw=sent.request)

    def later(self, seconds: float) -> None:
        self.clock.advance(seconds)

    @property
    def consent_lifetime(self) -> timedelta:
        return timedelta(days=10)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    h = Harness()
    yield h
    await h.http.aclose()
