"""A sandbox of the modelled Anhui API: an httpx.MockTransport over synthetic data."""

from __future__ import annotations

import json
from datetime import date, timedelta, timezone
from typing import Any

import httpx

from deltafed.schemas import CertificateStatus
from deltafed.testing import RegionData

SANDBOX_API_KEY = "ah-sandbox-key-not-for-production"
_BEIJING = timezone(timedelta(hours=8))


def _yyyymmdd(day: date) -> str:
    return day.strftime("%Y%m%d")


class AnhuiSandbox(httpx.MockTransport):
    """Answers ``/open/v1/...`` from one region's synthetic data."""

    def __init__(self, data: RegionData) -> None:
        super().__init__(self._handle)
        self.data = data
        self.revoked: set[str] = set()
        self.calls = 0

    def revoke(self, certificate_id: str) -> None:
        self.revoked.add(certificate_id)

    def _answer(self, code: str, body: Any = None) -> httpx.Response:
        return httpx.Response(200, json={"rtnCode": code, "rtnMsg": "", "body": body})

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if request.headers.get("x-ah-api-key") != SANDBOX_API_KEY:
            return self._answer("100401")
        parts = request.url.path.strip("/").split("/")
        query = request.url.params
        if parts[:3] == ["open", "v1", "zz"] and len(parts) == 4:
            cert = self.data.certificate(parts[3])
        elif parts == ["open", "v1", "zz"]:
            cert = self.data.find(query.get("czztdm", ""), query.get("zzlxdm", ""))
        elif parts == ["open", "v1", "jl", query.get("lx", "")]:
            rec = self.data.record(query.get("lx", ""), query.get("dm", ""))
            if rec is None:
                return self._answer("100404")
            wanted = query.get("xm", "").split(",")
            values = {k: rec.fields[k] for k in wanted if k in rec.fields}
            as_of = rec.as_of.astimezone(_BEIJING).isoformat()
            return self._answer("000000", {"lx": rec.record_type, "sj": as_of, "xm": values})
        elif parts == ["open", "v1", "tj", query.get("lx", "")]:
            # Native count: how many subjects' records of type lx have field xm equal to z.
            lx, xm, z = query.get("lx", ""), query.get("xm", ""), query.get("z", "")
            subjects = {r.subject_code for r in self.data.records if r.record_type == lx}
            total = 0
            for code in sorted(subjects):
                found = self.data.record(lx, code)
                if found is not None and str(found.fields.get(xm)) == z:
                    total += 1
            return self._answer("000000", {"lx": lx, "zs": total})
        else:
            return self._answer("100400")
        if cert is None:
            return self._answer("100404")
        status = CertificateStatus.REVOKED if cert.certificate_id in self.revoked else cert.status
        doc = {
            "zzmc": cert.type_name,
            "zzlxdm": cert.type_code,
            "zzbh": cert.number,
            "zzbs": cert.certificate_id,
            "zzbfjg": cert.issuer_name,
            "zzbfjgdm": cert.issuer_code,
            "zzbfrq": _yyyymmdd(cert.issued_on),
            "czzt": cert.holder_name,
            "czztdm": cert.holder_code,
            "czztdmlxdm": cert.holder_type.value,
            "zzyxqqsrq": _yyyymmdd(cert.valid_from),
            "zzyxqjzrq": _yyyymmdd(cert.valid_until) if cert.valid_until else "",
            "zzzt": status.value,
            "zzxx": dict(cert.data),
        }
        return httpx.Response(
            200,
            content=json.dumps({"rtnCode": "000000", "rtnMsg": "", "body": doc}).encode(),
            headers={"content-type": "application/json"},
        )
