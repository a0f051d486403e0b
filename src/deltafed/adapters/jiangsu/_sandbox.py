"""An in-process Jiangsu gateway and certificate-sharing API (modelled; see ``_native``).

The gateway checks the PaaS id, the timestamp window, the signature and refuses a nonce seen
before; the API issues access tokens that expire on the sandbox's clock and answers in GB/T
36903 pinyin fields. ``denied_types`` lists certificate types the caller may not use
(``head.status`` 100).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, Final

import httpx

from deltafed._clock import Clock, system_clock
from deltafed.adapters._sandboxkit import Faults, NativeReply, SandboxTransport
from deltafed.adapters._synthetic import RegionData, SyntheticCertificate, SyntheticRecord
from deltafed.adapters.jiangsu._native import (
    CHANGES_PATH,
    CORRECT_PATH,
    COUNT_PATH,
    DATA_PATH,
    JS_RECORD_TIME_FORMAT,
    QUERY_PATH,
    RECORD_PATH,
    REVOKE_PATH,
    STATUS_PATH,
    TOKEN_PATH,
    tif_signature,
)
from deltafed.schemas.certificates import format_yyyymmdd

__all__ = [
    "SANDBOX_ACCESS_ID",
    "SANDBOX_ACCESS_KEY",
    "SANDBOX_PAAS_ID",
    "SANDBOX_PAAS_TOKEN",
    "TOKEN_LIFETIME_S",
    "JiangsuSandbox",
]

SANDBOX_PAAS_ID: Final = "js-sandbox-paas"
SANDBOX_PAAS_TOKEN: Final = "js-sandbox-paas-token-not-for-production"  # noqa: S105 - sandbox
SANDBOX_ACCESS_ID: Final = "js-sandbox-access"
SANDBOX_ACCESS_KEY: Final = "js-sandbox-access-key-not-for-production"
TOKEN_LIFETIME_S: Final = 7200

_BEIJING: Final = timezone(timedelta(hours=8))
_MESSAGES: Final = {0: "成功", 10: "无匹配证照", 11: "认证失败", 20: "参数错误", 100: "无权限"}


def _head(status: int, data: Any = None) -> NativeReply:
    return NativeReply(
        200, {"head": {"status": status, "message": _MESSAGES[status]}, "data": data}
    )


def _gateway(status: int, errcode: str, errmsg: str) -> NativeReply:
    return NativeReply(status, {"errcode": errcode, "errmsg": errmsg})


def pinyin_record(cert: SyntheticCertificate, status: str) -> dict[str, str]:
    """A synthetic certificate as the Jiangsu platform writes it (GB/T 36903 pinyin)."""
    record = {
        "ZZMC": cert.type_name,
        "ZZLXDM": cert.type_code,
        "ZZBH": cert.number,
        "ZZBS": cert.certificate_id,
        "ZZBFJG": cert.issuer_name,
        "ZZBFJGDM": cert.issuer_code,
        "ZZBFRQ": format_yyyymmdd(cert.issued_on),
        "CZZT": cert.holder_name,
        "CZZTDM": cert.holder_code,
        "CZZTDMLXDM": cert.holder_type.value,
        "ZZYXQQSRQ": format_yyyymmdd(cert.valid_from),
        "ZZZT": status,
    }
    if cert.valid_until is not None:
        record["ZZYXQJZRQ"] = format_yyyymmdd(cert.valid_until)
    return record


class JiangsuSandbox(SandboxTransport):
    """The Jiangsu gateway and certificate-sharing API in process."""

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
        self.paas = {SANDBOX_PAAS_ID: SANDBOX_PAAS_TOKEN}
        self.access = {SANDBOX_ACCESS_ID: SANDBOX_ACCESS_KEY}
        self.denied_types: set[str] = set(denied_types)
        self.window_s = window_s
        self._tokens: dict[str, int] = {}  # access token -> end (epoch s)
        self._nonces: set[str] = set()

    def handle(self, request: httpx.Request, body: bytes) -> NativeReply:
        refused = self._gateway_check(request)
        if refused is not None:
            return refused
        try:
            payload = json.loads(body)
        except ValueError:
            return _head(20)
        if not isinstance(payload, dict) or request.method != "POST":
            return _head(20)
        path = request.url.path
        now = int(self.clock().timestamp())
        if path == TOKEN_PATH:
            if self.access.get(str(payload.get("accessId"))) != payload.get("accessKey"):
                return _head(11)
            issued = secrets.token_hex(16)
            self._tokens[issued] = now + TOKEN_LIFETIME_S
            return _head(0, {"accessToken": issued, "expiresIn": TOKEN_LIFETIME_S})
        presented = payload.get("accessToken")
        if payload.get("accessId") not in self.access or not isinstance(presented, str):
            return _head(11)
        if self._tokens.get(presented, 0) <= now:
            return _head(11)
        if self.faults.take("expired_token"):
            self._tokens[presented] = 0
            return _head(11)
        data = payload.get("data")
        cause = data.get("useCause") if isinstance(data, dict) else None
        self.use_causes.append(cause if isinstance(cause, str) else None)
        if not isinstance(data, dict) or not str(data.get("useCause", "")).strip():
            return _head(20)
        return self._business(path, data)

    def _gateway_check(self, request: httpx.Request) -> NativeReply | None:
        paas_id = request.headers.get("x-tif-paasid", "")
        timestamp = request.headers.get("x-tif-timestamp", "")
        nonce = request.headers.get("x-tif-nonce", "")
        signature = request.headers.get("x-tif-signature", "")
        if paas_id not in self.paas:
            return _gateway(401, "1003", "unknown paasid")
        now = int(self.clock().timestamp())
        if not timestamp.isdigit() or abs(int(timestamp) - now) > self.window_s:
            return _gateway(401, "1002", "timestamp out of window")
        expected = tif_signature(timestamp, self.paas[paas_id], nonce)
        if self.faults.take("bad_signature") or not nonce or signature != expected:
            return _gateway(401, "1001", "signature invalid")
        if nonce in self._nonces:
            return _gateway(401, "1001", "nonce replayed")
        self._nonces.add(nonce)
        if self.faults.take("quota_exceeded"):
            return _gateway(429, "1004", "rate limited")
        return None

    def _business(self, path: str, data: Mapping[str, Any]) -> NativeReply:
        if path == RECORD_PATH:
            return self._record(data)
        if path in (CORRECT_PATH, REVOKE_PATH):
            return self._amend(path, data)
        if path == CHANGES_PATH:
            start, limit = data.get("fromSeq", 0), data.get("limit", 100)
            if not isinstance(start, int) or not isinstance(limit, int) or not 0 < limit <= 1000:
                return _head(20)
            log = [
                self._change_item(seq, kind, item, at)
                for seq, kind, item, at in self.changes_after(start, limit)
            ]
            return _head(0, {"items": log, "nextSeq": log[-1]["seq"] if log else start})
        if path == COUNT_PATH:
            code, item = data.get("recordCode"), data.get("itemCode")
            if not isinstance(code, str) or not isinstance(item, str):
                return _head(20)
            total = self.count_records(code, item, data.get("itemValue"))
            return _head(0, {"recordCode": code, "total": total})
        if path == QUERY_PATH and "certIdentifier" not in data:
            cert = self.find(str(data.get("holderCode")), str(data.get("certTypeCode")))
            if cert is not None and cert.holder_type.value != data.get("holderTypeCode"):
                cert = None
        else:
            cert = self.certificate(str(data.get("certIdentifier")))
        if path not in (QUERY_PATH, DATA_PATH, STATUS_PATH):
            return _head(20)
        if cert is None:
            return _head(10)
        if cert.type_code in self.denied_types:
            return _head(100)
        status = self.status_of(cert).value
        if path == QUERY_PATH:
            return _head(0, pinyin_record(cert, status))
        if path == STATUS_PATH:
            return _head(0, {"ZZBS": cert.certificate_id, "ZZZT": status})
        items = data.get("items")
        if not isinstance(items, list):
            return _head(20)
        return _head(
            0,
            {
                "ZZBS": cert.certificate_id,
                "items": {i: cert.data[i] for i in items if isinstance(i, str) and i in cert.data},
            },
        )

    def _amend(self, path: str, data: Mapping[str, Any]) -> NativeReply:
        cert = self.certificate(str(data.get("certIdentifier")))
        if cert is None:
            return _head(10)
        if not str(data.get("reason", "")).strip():
            return _head(20)
        if path == REVOKE_PATH:
            self.revoke(cert.certificate_id)
            return _head(0, {"ZZBS": cert.certificate_id, "ZZZT": "03"})
        items = data.get("items")
        if not isinstance(items, dict) or not all(
            isinstance(v, str) and k in cert.data for k, v in items.items()
        ):
            return _head(20)
        new = self.correct(cert.certificate_id, items)
        return _head(0, pinyin_record(new, self.status_of(new).value))

    @staticmethod
    def _change_item(
        seq: int, kind: str, item: SyntheticCertificate | SyntheticRecord, at: datetime
    ) -> dict[str, Any]:
        when = at.astimezone(_BEIJING).strftime(JS_RECORD_TIME_FORMAT)
        if isinstance(item, SyntheticRecord):
            return {
                "seq": seq,
                "changeType": "RECORD",
                "recordCode": item.record_type,
                "subjectCode": item.subject_code,
                "subjectTypeCode": item.subject_type.value,
                "changeTime": when,
            }
        native = {"renewed": "RENEW", "changed": "CHANGE", "revoked": "REVOKE"}
        return {
            "seq": seq,
            "changeType": native.get(kind, "ISSUE"),
            "ZZBS": item.certificate_id,
            "ZZLXDM": item.type_code,
            "CZZTDM": item.holder_code,
            "CZZTDMLXDM": item.holder_type.value,
            "changeTime": when,
        }

    def _record(self, data: Mapping[str, Any]) -> NativeReply:
        record = self.record(str(data.get("recordCode")), str(data.get("subjectCode")))
        if record is None or record.subject_type.value != data.get("subjectTypeCode"):
            return _head(10)
        items = data.get("items")
        if not isinstance(items, list):
            return _head(20)
        return _head(
            0,
            {
                "recordCode": record.record_type,
                "asOf": record.as_of.astimezone(_BEIJING).strftime(JS_RECORD_TIME_FORMAT),
                "items": {i: record.fields[i] for i in items if i in record.fields},
            },
        )
