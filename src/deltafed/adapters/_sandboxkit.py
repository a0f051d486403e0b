"""The machinery every province sandbox shares: switchable faults and an httpx transport.

A sandbox is an :class:`httpx.AsyncBaseTransport`: an adapter's httpx client sends to it in
process, with no socket. Each province subclass implements :meth:`SandboxTransport.handle`
in its native protocol; this base applies the protocol-independent faults around it:

* ``timeout`` - the transport raises :class:`httpx.ReadTimeout` (nothing sleeps);
* ``server_error`` - an HTTP 500 with an HTML body;
* ``malformed_body`` - HTTP 200 whose body is not JSON;
* ``truncated_body`` - the real answer cut in half.

The protocol faults ``expired_token``, ``bad_signature`` and ``quota_exceeded`` are answered
by the province handler with its native codes. Setting :attr:`SandboxTransport.down` makes the
whole platform unreachable (every request, health probes included, fails to connect); a
``HEAD /`` (the adapters' health probe) is otherwise answered ``200`` without touching the
fault counters. Every fault is a counter: ``n > 0`` affects
the next ``n`` calls it applies to; a negative value affects every call until reset.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from types import MappingProxyType
from typing import Any

import httpx

from deltafed._clock import Clock, system_clock
from deltafed._errors import ConfigurationError, NotFoundError
from deltafed.adapters._synthetic import (
    RegionData,
    SyntheticCertificate,
    SyntheticRecord,
    Value,
    corrected_certificate,
)
from deltafed.schemas.common import CertificateStatus

__all__ = ["FAULT_NAMES", "Faults", "NativeReply", "SandboxTransport"]


@dataclass
class Faults:
    """Switchable faults of a sandbox; see the module docstring for their meaning."""

    expired_token: int = 0
    bad_signature: int = 0
    quota_exceeded: int = 0
    server_error: int = 0
    timeout: int = 0
    malformed_body: int = 0
    truncated_body: int = 0

    def take(self, name: str) -> bool:
        """Whether fault ``name`` strikes this call; consumes one count if so."""
        count: int = getattr(self, name)
        if count == 0:
            return False
        if count > 0:
            setattr(self, name, count - 1)
        return True

    def reset(self) -> None:
        for f in fields(self):
            setattr(self, f.name, 0)

    def set(self, **counts: int | bool) -> None:
        """Set several faults at once; ``True`` means one call, ``False`` none."""
        for name, value in counts.items():
            if name not in FAULT_NAMES:
                raise ConfigurationError(f"unknown sandbox fault {name!r}")
            setattr(self, name, int(value))


FAULT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(Faults))


@dataclass(frozen=True)
class NativeReply:
    """What a province handler answers: an HTTP status and a JSON body."""

    status: int
    body: Mapping[str, Any]
    headers: Mapping[str, str] | None = None


class SandboxTransport(httpx.AsyncBaseTransport, abc.ABC):
    """A province platform in process, seeded with one region's synthetic data."""

    def __init__(
        self,
        data: RegionData,
        *,
        clock: Clock = system_clock,
        faults: Faults | None = None,
    ) -> None:
        self.data = data
        self.region = data.region
        self.clock = clock
        self.faults = faults if faults is not None else Faults()
        #: Every request received, in order (tests count calls with it).
        self.requests: list[httpx.Request] = []
        #: The use cause (用证事由) each business call carried, in order; ``None`` for a call
        #: that carried none. Token calls are not business calls.
        self.use_causes: list[str | None] = []
        #: While true the platform is unreachable: every request fails to connect.
        self.down = False
        self._status: dict[str, CertificateStatus] = {}
        #: Certificates the platform issued while running (corrected versions), by id.
        self._issued: dict[str, SyntheticCertificate] = {}
        #: Records changed at runtime, by (record type, subject code).
        self._records: dict[tuple[str, str], SyntheticRecord] = {}
        #: The platform's change log, oldest first: ``(kind, certificate, time)``; a
        #: province's change feed endpoint renders entries after a position natively.
        self.change_log: list[tuple[str, SyntheticCertificate | SyntheticRecord, datetime]] = []

    # --- what the platform holds ----------------------------------------------------------

    def certificate(self, certificate_id: str) -> SyntheticCertificate | None:
        """A certificate by identifier, the versions issued while running included."""
        return self._issued.get(certificate_id) or self.data.certificate(certificate_id)

    def find(self, holder_code: str, type_code: str) -> SyntheticCertificate | None:
        """The holder's certificate of a type: the newest corrected version first."""
        for cert in reversed(self._issued.values()):
            if cert.holder_code == holder_code and cert.type_code == type_code:
                return cert
        return self.data.find(holder_code, type_code)

    def correct(self, certificate_id: str, fields: Mapping[str, str]) -> SyntheticCertificate:
        """Issue the next version of a certificate with ``fields`` changed; the old version is
        cancelled (an upheld objection). Unknown certificates and fields raise."""
        cert = self.certificate(certificate_id)
        if cert is None:
            raise NotFoundError(f"the sandbox holds no certificate {certificate_id}")
        unknown = set(fields) - set(cert.data)
        if unknown:
            raise NotFoundError(f"the certificate has no field(s) {sorted(unknown)}")
        new = corrected_certificate(cert, fields)
        self._issued[new.certificate_id] = new
        self.set_status(certificate_id, CertificateStatus.CANCELLED, log=False)
        self.change_log.append(("changed", new, self.clock()))
        return new

    def renew(self, certificate_id: str, *, valid_until: date | None) -> SyntheticCertificate:
        """Issue the next version of a certificate, valid from today (a renewal)."""
        cert = self.certificate(certificate_id)
        if cert is None:
            raise NotFoundError(f"the sandbox holds no certificate {certificate_id}")
        now = self.clock()
        renewed = replace(
            corrected_certificate(cert, {}),
            issued_on=now.date(),
            valid_from=now.date(),
            valid_until=valid_until,
        )
        self._issued[renewed.certificate_id] = renewed
        self.change_log.append(("renewed", renewed, now))
        return renewed

    def update_record(self, record_type: str, subject_code: str, **fields: Value) -> None:
        """Change fields of a record from now on (the change log says ``record``)."""
        record = self.record(record_type, subject_code)
        if record is None:
            raise NotFoundError(f"the sandbox holds no {record_type} record of that subject")
        unknown = set(fields) - set(record.fields)
        if unknown:
            raise NotFoundError(f"the record has no field(s) {sorted(unknown)}")
        now = self.clock()
        changed = replace(record, as_of=now, fields=MappingProxyType({**record.fields, **fields}))
        self._records[(record_type, subject_code)] = changed
        self.change_log.append(("record", changed, now))

    def changes_after(
        self, position: int, limit: int
    ) -> list[tuple[int, str, SyntheticCertificate | SyntheticRecord, datetime]]:
        """Change log entries after ``position`` (1-based positions), at most ``limit``."""
        start = max(0, position)
        return [
            (start + i + 1, kind, cert, at)
            for i, (kind, cert, at) in enumerate(self.change_log[start : start + limit])
        ]

    # --- state a test or demo changes at runtime -----------------------------------------

    def revoke(self, certificate_id: str) -> None:
        """Revoke a certificate from now on (the "revoked mid-session" fault)."""
        self.set_status(certificate_id, CertificateStatus.REVOKED)

    def set_status(
        self, certificate_id: str, status: CertificateStatus, *, log: bool = True
    ) -> None:
        cert = self.certificate(certificate_id)
        if cert is None:
            raise NotFoundError(f"the sandbox holds no certificate {certificate_id}")
        self._status[certificate_id] = CertificateStatus(status)
        if log:
            kind = "revoked" if status == CertificateStatus.REVOKED else "changed"
            self.change_log.append((kind, cert, self.clock()))

    def status_of(self, cert: SyntheticCertificate) -> CertificateStatus:
        return self._status.get(cert.certificate_id, cert.status)

    # --- what the platform holds now (the seed data and what changed since) -------------

    def record(self, record_type: str, subject_code: str) -> SyntheticRecord | None:
        changed = self._records.get((record_type, subject_code))
        return changed if changed is not None else self.data.record(record_type, subject_code)

    def count_records(self, record_type: str, field: str, value: object) -> int:
        """How many subjects' ``record_type`` records have ``field == value`` (native count)."""
        subjects = {r.subject_code for r in self.data.records if r.record_type == record_type}
        subjects.update(code for kind, code in self._records if kind == record_type)
        total = 0
        for code in subjects:
            rec = self.record(record_type, code)
            if rec is not None and rec.fields.get(field) == value:
                total += 1
        return total

    # --- transport --------------------------------------------------------------------------

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectError("sandbox: the platform is down", request=request)
        if request.method == "HEAD" and request.url.path in ("", "/"):
            return httpx.Response(200, request=request)  # the health probe
        self.requests.append(request)
        body = await request.aread()
        if self.faults.take("timeout"):
            raise httpx.ReadTimeout("sandbox: simulated read timeout", request=request)
        if self.faults.take("server_error"):
            return httpx.Response(
                500,
                content=b"<html><body>500 Internal Server Error (sandbox)</body></html>",
                headers={"content-type": "text/html"},
                request=request,
            )
        reply = self.handle(request, body)
        content = json.dumps(reply.body, ensure_ascii=False).encode("utf-8")
        if self.faults.take("malformed_body"):
            content = b"<html><body>upstream returned garbage (sandbox)</body></html>"
        elif self.faults.take("truncated_body"):
            content = content[: len(content) // 2]
        headers = {"content-type": "application/json; charset=utf-8", **(reply.headers or {})}
        return httpx.Response(reply.status, content=content, headers=headers, request=request)

    @abc.abstractmethod
    def handle(self, request: httpx.Request, body: bytes) -> NativeReply:
        """Answer one request in the province's native protocol."""
