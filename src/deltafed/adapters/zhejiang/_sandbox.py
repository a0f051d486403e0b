"""An in-process Zhejiang gateway speaking the modelled native protocol (see ``_native``).

It issues real request and refresh secrets with their lifetimes measured on the sandbox's
clock, checks every signature and the request-time window, and answers from the synthetic
population of region 330000 (or any region it is given).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Final
from urllib.parse import parse_qsl

import httpx

from deltafed._clock import Clock, system_clock
from deltafed.adapters._sandboxkit import Faults, NativeReply, SandboxTransport
from deltafed.adapters._synthetic import RegionData, SyntheticCertificate, SyntheticRecord
from deltafed.adapters.zhejiang._native import (
    API_PATH,
    KEY_PATH,
    REFRESH_SECRET_LIFETIME_MS,
    REQUEST_SECRET_LIFETIME_MS,
    SEC_PATH,
    ZJ_DATE_FORMAT,
    ZJ_HOLDER_TYPES,
    ZJ_LONG_TERM,
    ZJ_STATUS,
    ZJ_TIME_FORMAT,
    epoch_ms,
    zhejiang_sign,
)

__all__ = ["SANDBOX_APP_KEY", "SANDBOX_APP_SECRET", "ZhejiangSandbox"]

SANDBOX_APP_KEY: Final = "zj-sandbox-app"
SANDBOX_APP_SECRET: Final = "zj-sandbox-app-secret-not-for-production"  # noqa: S105 - sandbox

_BEIJING: Final = timezone(timedelta(hours=8))
_API_PREFIX, _API_SUFFIX = API_PATH.split("{service}")
_STATUS_CODE: Final = {shared: native for native, shared in ZJ_STATUS.items()}
_HOLDER_CODE: Final = {shared: native for native, shared in ZJ_HOLDER_TYPES.items()}


@dataclass
class _Secret:
    app_key: str
    end_ms: int


def _reply(code: str, datas: Any = None, msg: str | None = None) -> NativeReply:
    messages = {"00": "成功", "20": "查无数据"}
    return NativeReply(
        200, {"code": code, "msg": msg or messages.get(code, "失败"), "datas": datas}
    )


class ZhejiangSandbox(SandboxTransport):
    """The Zhejiang gateway in process. ``apps`` maps appKey -> appSecret."""

    def __init__(
        self,
        data: RegionData,
        *,
        clock: Clock = system_clock,
        faults: Faults | None = None,
        apps: Mapping[str, str] | None = None,
        window_ms: int = 300_000,
    ) -> None:
        super().__init__(data, clock=clock, faults=faults)
        self.apps = dict(apps) if apps is not None else {SANDBOX_APP_KEY: SANDBOX_APP_SECRET}
        self.window_ms = window_ms
        self._request: dict[str, _Secret] = {}
        self._refresh: dict[str, _Secret] = {}

    def expire_request_secrets(self) -> None:
        """Let every request secret run out, as if 15 minutes had passed."""
        for item in self._request.values():
            item.end_ms = 0

    def expire_refresh_secrets(self) -> None:
        """Let every refresh secret run out, as if 48 hours had passed."""
        for item in self._refresh.values():
            item.end_ms = 0

    # --- protocol ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request, body: bytes) -> NativeReply:
        if request.method != "POST":
            return NativeReply(405, {"code": "19", "msg": "只支持POST", "datas": None})
        try:
            form = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return _reply("19")
        app_key = form.get("appKey", "")
        request_time = form.get("requestTime", "")
        sign = form.get("sign", "")
        if app_key not in self.apps:
            return _reply("15")
        now = epoch_ms(self.clock)
        if not request_time.isdigit() or abs(int(request_time) - now) > self.window_ms:
            return _reply("13")
        if self.faults.take("quota_exceeded"):
            return _reply("18", msg="调用次数超限")
        path = request.url.path
        if path == KEY_PATH:
            expected = zhejiang_sign(app_key, self.apps[app_key], request_time)
            if self.faults.take("bad_signature") or sign != expected:
                return _reply("14")
            return self._issue(app_key, now, refresh_secret=None)
        if path == SEC_PATH:
            matched = self._match(self._refresh, app_key, sign, request_time)
            if matched is None or self.faults.take("bad_signature"):
                return _reply("14")
            if self._refresh[matched].end_ms <= now:
                return _reply("12")
            return self._issue(app_key, now, refresh_secret=matched)
        if path.startswith(_API_PREFIX) and path.endswith(_API_SUFFIX):
            matched = self._match(self._request, app_key, sign, request_time)
            if matched is None or self.faults.take("bad_signature"):
                return _reply("14")
            found = self._request[matched]
            if found.end_ms <= now:
                return _reply("11")
            if self.faults.take("expired_token"):
                found.end_ms = 0
                return _reply("11")
            service = path[len(_API_PREFIX) : -len(_API_SUFFIX)]
            return self._service(service, form)
        if service == "license/changes":
            start, size = form.get("startSeq", "0"), form.get("pageSize", "100")
            if not start.isdigit() or not size.isdigit() or not 0 < int(size) <= 1000:
                return _reply("19", msg="参数错误")
            holder = {v: k for k, v in ZJ_HOLDER_TYPES.items()}
            rows = [
                self._change_row(seq, kind, item, at, holder)
                for seq, kind, item, at in self.changes_after(int(start), int(size))
            ]
            page = {"list": rows, "next": rows[-1]["seq"] if rows else int(start)}
            return _reply("00", json.dumps(page, ensure_ascii=False))
        if service == "record/count":
            total = self.count_records(
                form.get("recordCode", ""), form.get("itemCode", ""), form.get("itemValue")
            )
            return _reply("00", json.dumps({"recordCode": form.get("recordCode"), "total": total}))
        return _reply("19", msg="未知服务")

    def _match(
        self, table: dict[str, _Secret], app_key: str, sign: str, request_time: str
    ) -> str | None:
        for secret, item in table.items():
            if item.app_key == app_key and zhejiang_sign(app_key, secret, request_time) == sign:
                return secret
        return None

    def _issue(self, app_key: str, now: int, *, refresh_secret: str | None) -> NativeReply:
        request_secret = secrets.token_hex(16)
        self._request[request_secret] = _Secret(app_key, now + REQUEST_SECRET_LIFETIME_MS)
        if refresh_secret is None:
            refresh_secret = secrets.token_hex(16)
            self._refresh[refresh_secret] = _Secret(app_key, now + REFRESH_SECRET_LIFETIME_MS)
        refresh = self._refresh[refresh_secret]
        datas = {
            "requestSecret": request_secret,
            "requestSecretEndTime": now + REQUEST_SECRET_LIFETIME_MS,
            "refreshSecret": refresh_secret,
            "refreshSecretEndTime": refresh.end_ms,
        }
        return _reply("00", json.dumps(datas))

    # --- services ---------------------------------------------------------------------------

    def _service(self, service: str, form: Mapping[str, str]) -> NativeReply:
        self.use_causes.append(form.get("useReason"))
        if service == "license/queryById":
            cert = self.certificate(form.get("licenseCode", ""))
            return _reply("20") if cert is None else _reply("00", self._licence_json(cert))
        if service == "license/queryByHolder":
            holder_type = ZJ_HOLDER_TYPES.get(form.get("holderIdType", ""))
            if holder_type is None:
                return _reply("19", msg="证件类型错误")
            cert = self.find(form.get("holderIdCode", ""), form.get("licenseTypeCode", ""))
            if cert is None or cert.holder_type.value != holder_type:
                return _reply("20")
            return _reply("00", self._licence_json(cert))
        if service == "license/items":
            cert = self.certificate(form.get("licenseCode", ""))
            if cert is None:
                return _reply("20")
            wanted = [c for c in form.get("itemCodes", "").split(",") if c]
            items = [
                {"itemCode": code, "itemValue": cert.data[code]}
                for code in wanted
                if code in cert.data
            ]
            return _reply("00", json.dumps({"licenseCode": cert.certificate_id, "items": items}))
        if service == "license/status":
            cert = self.certificate(form.get("licenseCode", ""))
            if cert is None:
                return _reply("20")
            status = _STATUS_CODE[self.status_of(cert).value]
            # This service answers datas as an object, not a string: clients must take both.
            return _reply("00", {"licenseCode": cert.certificate_id, "licenseStatus": status})
        if service in ("license/correct", "license/revoke"):
            return self._amend(service, form)
        if service == "record/query":
            record = self.record(form.get("recordCode", ""), form.get("subjectIdCode", ""))
            subject_type = ZJ_HOLDER_TYPES.get(form.get("subjectIdType", ""))
            if record is None or record.subject_type.value != subject_type:
                return _reply("20")
            wanted = [c for c in form.get("itemCodes", "").split(",") if c]
            values = {c: record.fields[c] for c in wanted if c in record.fields}
            as_of = record.as_of.astimezone(_BEIJING).strftime(ZJ_TIME_FORMAT)
            return _reply(
                "00",
                json.dumps(
                    {"recordCode": record.record_type, "asOf": as_of, "items": values},
                    ensure_ascii=False,
                ),
            )
        if service == "license/changes":
            start, size = form.get("startSeq", "0"), form.get("pageSize", "100")
            if not start.isdigit() or not size.isdigit() or not 0 < int(size) <= 1000:
                return _reply("19", msg="参数错误")
            holder = {v: k for k, v in ZJ_HOLDER_TYPES.items()}
            rows = [
                self._change_row(seq, kind, item, at, holder)
                for seq, kind, item, at in self.changes_after(int(start), int(size))
            ]
            page = {"list": rows, "next": rows[-1]["seq"] if rows else int(start)}
            return _reply("00", json.dumps(page, ensure_ascii=False))
        if service == "record/count":
            total = self.count_records(
                form.get("recordCode", ""), form.get("itemCode", ""), form.get("itemValue")
            )
            return _reply("00", json.dumps({"recordCode": form.get("recordCode"), "total": total}))
        return _reply("19", msg="未知服务")

    def _amend(self, service: str, form: Mapping[str, str]) -> NativeReply:
        cert = self.certificate(form.get("licenseCode", ""))
        if cert is None:
            return _reply("20")
        if not form.get("reason", "").strip():
            return _reply("19", msg="缺少更正理由")
        if service == "license/revoke":
            self.revoke(cert.certificate_id)
            status = _STATUS_CODE[self.status_of(cert).value]
            return _reply("00", {"licenseCode": cert.certificate_id, "licenseStatus": status})
        try:
            items = json.loads(form.get("items", ""))
        except ValueError:
            return _reply("19", msg="items 不是 JSON")
        if not isinstance(items, dict) or not all(
            isinstance(v, str) and k in cert.data for k, v in items.items()
        ):
            return _reply("19", msg="更正项错误")
        return _reply("00", self._licence_json(self.correct(cert.certificate_id, items)))

    @staticmethod
    def _change_row(
        seq: int,
        kind: str,
        item: SyntheticCertificate | SyntheticRecord,
        at: datetime,
        holder: Mapping[str, str],
    ) -> dict[str, Any]:
        when = at.astimezone(_BEIJING).strftime(ZJ_TIME_FORMAT)
        if isinstance(item, SyntheticRecord):
            return {
                "seq": seq,
                "opType": "record",
                "recordCode": item.record_type,
                "subjectIdCode": item.subject_code,
                "subjectIdType": holder[item.subject_type.value],
                "opTime": when,
            }
        return {
            "seq": seq,
            "opType": kind,
            "licenseCode": item.certificate_id,
            "licenseTypeCode": item.type_code,
            "holderIdCode": item.holder_code,
            "holderIdType": holder[item.holder_type.value],
            "opTime": when,
        }

    def _licence_json(self, cert: SyntheticCertificate) -> str:
        doc = {
            "licenseCode": cert.certificate_id,
            "licenseNo": cert.number,
            "licenseName": cert.type_name,
            "licenseTypeCode": cert.type_code,
            "issueOrgName": cert.issuer_name,
            "issueOrgCode": cert.issuer_code,
            "issueDate": cert.issued_on.strftime(ZJ_DATE_FORMAT),
            "holderName": cert.holder_name,
            "holderIdCode": cert.holder_code,
            "holderIdType": _HOLDER_CODE[cert.holder_type.value],
            "validFrom": cert.valid_from.strftime(ZJ_DATE_FORMAT),
            "validTo": cert.valid_until.strftime(ZJ_DATE_FORMAT)
            if cert.valid_until
            else ZJ_LONG_TERM,
            "licenseStatus": _STATUS_CODE[self.status_of(cert).value],
        }
        return json.dumps(doc, ensure_ascii=False)
