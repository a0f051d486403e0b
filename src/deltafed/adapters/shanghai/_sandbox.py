"""An in-process Shanghai licence platform (the invented convention of ``_native``).

It issues OAuth access tokens that expire on the sandbox's clock, checks the HMAC signature
over the canonical request, the timestamp window and nonce reuse, and answers from the
synthetic population. ``denied_types`` lists licence types the client may not read (A0301).
"""

from __future__ import annotations

import hmac
import json
import re
import secrets
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

import httpx

from deltafed._clock import Clock, system_clock
from deltafed.adapters._sandboxkit import Faults, NativeReply, SandboxTransport
from deltafed.adapters._synthetic import RegionData, SyntheticCertificate, SyntheticRecord
from deltafed.adapters.shanghai._native import (
    SH_HOLDER_TYPES,
    SH_STATUS,
    TOKEN_PATH,
    canonical_request,
    sh_signature,
)

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "TOKEN_LIFETIME_S",
    "ShanghaiSandbox",
]

SANDBOX_CLIENT_ID: Final = "sh-sandbox-client"
SANDBOX_CLIENT_SECRET: Final = "sh-sandbox-client-secret-not-for-production"  # noqa: S105
TOKEN_LIFETIME_S: Final = 1800

_SHANGHAI: Final = timezone(timedelta(hours=8))
_STATUS_NAME: Final = {shared: native for native, shared in SH_STATUS.items()}
_HOLDER_NAME: Final = {shared: native for native, shared in SH_HOLDER_TYPES.items()}
_LICENCE: Final = re.compile(
    r"/api/v2/licences/(?P<id>[0-9A-Z.]{1,160})(?P<rest>/extract|/status|/corrections|/revocation)?"
)
_RECORD: Final = re.compile(r"/api/v2/records/(?P<type>[A-Za-z0-9_.:-]{1,64})/query")
_COUNT: Final = re.compile(r"/api/v2/records/(?P<type>[A-Za-z0-9_.:-]{1,64})/count")


def _ok(result: Any) -> NativeReply:
    return NativeReply(
        200, {"success": True, "errorCode": None, "errorMsg": None, "result": result}
    )


def _error(code: str, message: str, status: int = 200) -> NativeReply:
    return NativeReply(
        status, {"success": False, "errorCode": code, "errorMsg": message, "result": None}
    )


def licence_json(cert: SyntheticCertificate, status: str) -> dict[str, Any]:
    """A synthetic certificate as the Shanghai platform writes it."""
    return {
        "licence": {
            "id": cert.certificate_id,
            "number": cert.number,
            "name": cert.type_name,
            "typeCode": cert.type_code,
        },
        "issuer": {"name": cert.issuer_name, "creditCode": cert.issuer_code},
        "holder": {
            "name": cert.holder_name,
            "id": cert.holder_code,
            "idType": _HOLDER_NAME[cert.holder_type.value],
        },
        "validity": {
            "from": cert.valid_from.isoformat(),
            "until": cert.valid_until.isoformat() if cert.valid_until else None,
        },
        "issueDate": cert.issued_on.isoformat(),
        "status": _STATUS_NAME[status],
    }


class ShanghaiSandbox(SandboxTransport):
    """The Shanghai licence platform in process."""

    def __init__(
        self,
        data: RegionData,
        *,
        clock: Clock = system_clock,
        faults: Faults | None = None,
        denied_types: Iterable[str] = (),
        window_s: int = 300,
    ) -> None:
        super().__init__(data, clock=clock, faults=faults)
        self.clients = {SANDBOX_CLIENT_ID: SANDBOX_CLIENT_SECRET}
        self.denied_types: set[str] = set(denied_types)
        self.window_s = window_s
        self._tokens: dict[str, tuple[str, float]] = {}  # token -> (client id, end)
        self._nonces: set[str] = set()

    def handle(self, request: httpx.Request, body: bytes) -> NativeReply:
        target = request.url.raw_path.decode("ascii")
        path = urlsplit(target).path
        if path == TOKEN_PATH:
            return self._token(request, body)
        refused = self._authenticate(request, target, body)
        if refused is not None:
            return refused
        query = dict(parse_qsl(urlsplit(target).query))
        payload: dict[str, Any] = {}
        if body:
            try:
                loaded = json.loads(body)
            except ValueError:
                return _error("A0400", "body is not JSON")
            if not isinstance(loaded, dict):
                return _error("A0400", "body is not an object")
            payload = loaded
        purpose = query.get("purpose") if request.method == "GET" else payload.get("purpose")
        self.use_causes.append(purpose if isinstance(purpose, str) else None)
        if request.method == "GET" and path == "/api/v2/licences":
            holder_type = SH_HOLDER_TYPES.get(query.get("holderIdType", ""))
            cert = self.find(query.get("holderId", ""), query.get("licenceType", ""))
            if holder_type is None:
                return _error("A0400", "holderIdType unknown")
            if cert is None or cert.holder_type.value != holder_type:
                return _error("A0410", "no such licence")
            return self._licence_answer(cert, "")
        match = _LICENCE.fullmatch(path)
        if match is not None:
            cert = self.certificate(match["id"])
            if cert is None:
                return _error("A0410", "no such licence")
            rest = match["rest"] or ""
            if (request.method, rest) in (("GET", ""), ("GET", "/status")):
                return self._licence_answer(cert, rest)
            if (request.method, rest) == ("POST", "/extract"):
                fields = payload.get("fields")
                if not isinstance(fields, list):
                    return _error("A0400", "fields must be a list")
                if cert.type_code in self.denied_types:
                    return _error("A0301", "access denied")
                values = {f: cert.data[f] for f in fields if isinstance(f, str) and f in cert.data}
                return _ok({"licenceId": cert.certificate_id, "fields": values})
            if (request.method, rest) == ("POST", "/corrections"):
                return self._correct(cert, payload)
            if (request.method, rest) == ("POST", "/revocation"):
                if not str(payload.get("reason", "")).strip():
                    return _error("A0400", "reason is required")
                self.revoke(cert.certificate_id)
                return _ok({"licenceId": cert.certificate_id, "status": _STATUS_NAME["03"]})
            return _error("A0400", "unsupported method", 405)
        if request.method == "GET" and path == "/api/v2/licence-events":
            after, limit = query.get("after", "0"), query.get("limit", "100")
            if not after.isdigit() or not limit.isdigit() or not 0 < int(limit) <= 1000:
                return _error("A0400", "after and limit must be numbers")
            holder = {v: k for k, v in SH_HOLDER_TYPES.items()}
            events = [
                self._change_event(seq, kind, item, at, holder)
                for seq, kind, item, at in self.changes_after(int(after), int(limit))
            ]
            return _ok({"events": events, "next": events[-1]["id"] if events else int(after)})
        record_match = _RECORD.fullmatch(path)
        if record_match is not None and request.method == "POST":
            return self._record(record_match["type"], payload)
        count_match = _COUNT.fullmatch(path)
        if count_match is not None and request.method == "POST":
            field = payload.get("field")
            if not isinstance(field, str):
                return _error("A0400", "field must be a string")
            total = self.count_records(count_match["type"], field, payload.get("value"))
            return _ok({"recordType": count_match["type"], "count": total})
        return _error("A0400", "unknown resource", 404)

    @staticmethod
    def _change_event(
        seq: int,
        kind: str,
        item: SyntheticCertificate | SyntheticRecord,
        at: datetime,
        holder: dict[str, str],
    ) -> dict[str, Any]:
        when = at.astimezone(_SHANGHAI).isoformat()
        if isinstance(item, SyntheticRecord):
            return {
                "id": seq,
                "type": "record.changed",
                "recordType": item.record_type,
                "subjectId": item.subject_code,
                "subjectIdType": holder[item.subject_type.value],
                "at": when,
            }
        return {
            "id": seq,
            "type": f"licence.{kind}",
            "licenceId": item.certificate_id,
            "licenceType": item.type_code,
            "holderId": item.holder_code,
            "holderIdType": holder[item.holder_type.value],
            "at": when,
        }

    def _correct(self, cert: SyntheticCertificate, payload: dict[str, Any]) -> NativeReply:
        fields = payload.get("fields")
        if not isinstance(fields, dict) or not str(payload.get("reason", "")).strip():
            return _error("A0400", "fields (an object) and reason are required")
        if not all(isinstance(v, str) and k in cert.data for k, v in fields.items()):
            return _error("A0400", "unknown field or value that is not text")
        new = self.correct(cert.certificate_id, fields)
        return _ok(licence_json(new, self.status_of(new).value))

    def _licence_answer(self, cert: SyntheticCertificate, rest: str) -> NativeReply:
        if cert.type_code in self.denied_types:
            return _error("A0301", "access denied")
        status = self.status_of(cert).value
        if rest == "/status":
            return _ok({"licenceId": cert.certificate_id, "status": _STATUS_NAME[status]})
        return _ok(licence_json(cert, status))

    def _record(self, record_type: str, payload: dict[str, Any]) -> NativeReply:
        record = self.record(record_type, str(payload.get("subjectId")))
        subject_type = SH_HOLDER_TYPES.get(str(payload.get("subjectIdType")))
        if record is None or record.subject_type.value != subject_type:
            return _error("A0410", "no such record")
        fields = payload.get("fields")
        if not isinstance(fields, list):
            return _error("A0400", "fields must be a list")
        return _ok(
            {
                "recordType": record.record_type,
                "asOf": record.as_of.astimezone(_SHANGHAI).isoformat(),
                "fields": {f: record.fields[f] for f in fields if f in record.fields},
            }
        )

    def _token(self, request: httpx.Request, body: bytes) -> NativeReply:
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        if form.get("grant_type") != "client_credentials":
            return NativeReply(400, {"error": "unsupported_grant_type"})
        client_id = form.get("client_id", "")
        expected = self.clients.get(client_id)
        if expected is None or not hmac.compare_digest(
            expected.encode(), form.get("client_secret", "").encode()
        ):
            return NativeReply(401, {"error": "invalid_client"})
        if self.faults.take("quota_exceeded"):
            return NativeReply(429, {"error": "slow_down"})
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (client_id, self.clock().timestamp() + TOKEN_LIFETIME_S)
        return NativeReply(
            200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S}
        )

    def _authenticate(self, request: httpx.Request, target: str, body: bytes) -> NativeReply | None:
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ") if auth.startswith("Bearer ") else ""
        client_id = request.headers.get("x-sh-client-id", "")
        timestamp = request.headers.get("x-sh-timestamp", "")
        nonce = request.headers.get("x-sh-nonce", "")
        entry = self._tokens.get(token)
        if entry is None or entry[0] != client_id:
            return _error("A0231", "token invalid", 401)
        now = self.clock().timestamp()
        if entry[1] <= now:
            return _error("A0230", "token expired", 401)
        try:
            sent = datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            return _error("A0341", "bad timestamp")
        if abs(sent.timestamp() - now) > self.window_s or not nonce or nonce in self._nonces:
            return _error("A0341", "timestamp outside window or nonce reused")
        canonical = canonical_request(request.method, target, timestamp, nonce, body)
        expected = sh_signature(self.clients[client_id], canonical)
        given = request.headers.get("x-sh-signature", "")
        if self.faults.take("bad_signature") or not hmac.compare_digest(expected, given):
            return _error("A0340", "signature invalid", 401)
        self._nonces.add(nonce)
        if self.faults.take("expired_token"):
            self._tokens[token] = (client_id, 0.0)
            return _error("A0230", "token expired", 401)
        if self.faults.take("quota_exceeded"):
            return _error("A0501", "quota exceeded", 429)
        return None
