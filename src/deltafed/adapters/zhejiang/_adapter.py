"""Zhejiang: the shared contract mapped onto the modelled Zhejiang gateway."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any, ClassVar, Final

from deltafed._clock import Clock
from deltafed._errors import AdapterDataError, InvalidInputError
from deltafed.adapters._base import Change, ChangeBatch, RecordData
from deltafed.adapters._province import HttpProvinceAdapter, native_date, native_str, native_time
from deltafed.adapters._sandboxkit import SandboxTransport
from deltafed.adapters._synthetic import RegionData, synthetic_catalogue
from deltafed.adapters.zhejiang._native import (
    ZJ_DATE_FORMAT,
    ZJ_HOLDER_TYPES,
    ZJ_LONG_TERM,
    ZJ_STATUS,
    ZJ_TIME_FORMAT,
    ZhejiangCredentials,
    ZhejiangGatewayClient,
)
from deltafed.adapters.zhejiang._sandbox import (
    SANDBOX_APP_KEY,
    SANDBOX_APP_SECRET,
    ZhejiangSandbox,
)
from deltafed.schemas.catalogue import Catalogue
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType

__all__ = ["ZhejiangAdapter"]

_BEIJING: Final = timezone(timedelta(hours=8))
_NATIVE_HOLDER: Final = {shared: native for native, shared in ZJ_HOLDER_TYPES.items()}
#: The change log's opType -> the shared change kinds.
_ZJ_CHANGES: Final = {
    "issued": "certificate.issued",
    "renewed": "certificate.renewed",
    "changed": "certificate.changed",
    "revoked": "certificate.revoked",
}
_WHERE: Final = "Zhejiang licence"


def licence_to_metadata(doc: Any) -> CertificateMetadata:
    """Map a native Zhejiang licence document to the shared metadata."""
    if not isinstance(doc, dict):
        raise AdapterDataError(f"{_WHERE}: expected an object")

    def text(key: str) -> str:
        return native_str(doc, key, where=_WHERE)

    def day(key: str) -> str:
        return native_date(text(key), ZJ_DATE_FORMAT, where=_WHERE, key=key).isoformat()

    status = ZJ_STATUS.get(text("licenseStatus"))
    holder_type = ZJ_HOLDER_TYPES.get(text("holderIdType"))
    if status is None or holder_type is None:
        raise AdapterDataError(f"{_WHERE}: unknown licenseStatus or holderIdType code")
    valid_to = text("validTo")
    return CertificateMetadata.parse(
        {
            "name": text("licenseName"),
            "type_code": text("licenseTypeCode"),
            "number": text("licenseNo"),
            "identifier": text("licenseCode"),
            "issuer_name": text("issueOrgName"),
            "issuer_code": text("issueOrgCode"),
            "issued_on": day("issueDate"),
            "holder_name": text("holderName"),
            "holder_type": holder_type,
            "holder_code": text("holderIdCode"),
            "valid_from": day("validFrom"),
            "valid_until": None if valid_to == ZJ_LONG_TERM else day("validTo"),
            "status": status,
        }
    )


class ZhejiangAdapter(HttpProvinceAdapter):
    """Zhejiang (330000) through its public data gateway (modelled; see ``_native``).

    Credentials: ``app_key`` and ``app_secret``.
    """

    name: ClassVar[str] = "zhejiang"
    default_region: ClassVar[str] = "330000"
    sandbox_base_url: ClassVar[str] = "https://zj-gateway.sandbox.invalid"
    credential_keys: ClassVar[tuple[str, ...]] = ("app_key", "app_secret")

    def _setup(self, credentials: Mapping[str, str]) -> None:
        self.native = ZhejiangGatewayClient(
            self._http,
            ZhejiangCredentials(credentials["app_key"], credentials["app_secret"]),
            clock=self._clock,
            retry=self._retry,
        )

    @classmethod
    def _make_sandbox(cls, data: RegionData, *, clock: Clock) -> SandboxTransport:
        return ZhejiangSandbox(data, clock=clock)

    @classmethod
    def _sandbox_credentials(cls) -> dict[str, str]:
        return {"app_key": SANDBOX_APP_KEY, "app_secret": SANDBOX_APP_SECRET}

    async def _call(
        self, service: str, params: Mapping[str, str], *, idempotent: bool = True
    ) -> Any:
        """Call a gateway service; the caller's use cause travels as ``useReason``."""
        cause = self.call_context.use_cause
        return await self.native.call(
            service,
            params if cause is None else {**params, "useReason": cause},
            idempotent=idempotent,
        )

    def _catalogue(self) -> Catalogue:
        return synthetic_catalogue(self.region)

    async def _find_certificate(
        self,
        *,
        certificate_id: str | None,
        holder_code: str | None,
        holder_type: HolderType | None,
        type_code: str | None,
    ) -> CertificateMetadata:
        if certificate_id is not None:
            doc = await self._call("license/queryById", {"licenseCode": certificate_id})
        else:
            if holder_code is None or holder_type is None or type_code is None:
                raise InvalidInputError("holder_code, holder_type and type_code go together")
            doc = await self._call(
                "license/queryByHolder",
                {
                    "holderIdCode": holder_code,
                    "holderIdType": _NATIVE_HOLDER[holder_type.value],
                    "licenseTypeCode": type_code,
                },
            )
        return licence_to_metadata(doc)

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        datas = await self._call(
            "license/items", {"licenseCode": certificate_id, "itemCodes": ",".join(fields)}
        )
        if not isinstance(datas, dict) or datas.get("licenseCode") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: items answer is not for {certificate_id}")
        items = datas.get("items")
        if not isinstance(items, list):
            raise AdapterDataError(f"{_WHERE}: items missing")
        out: dict[str, str] = {}
        for item in items:
            if not isinstance(item, dict):
                raise AdapterDataError(f"{_WHERE}: item is not an object")
            code = native_str(item, "itemCode", where=_WHERE)
            if code in out:
                raise AdapterDataError(f"{_WHERE}: item {code} given twice")
            out[code] = native_str(item, "itemValue", where=_WHERE)
        return out

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        datas = await self._call("license/status", {"licenseCode": certificate_id})
        if not isinstance(datas, dict) or datas.get("licenseCode") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: status answer is not for {certificate_id}")
        status = ZJ_STATUS.get(native_str(datas, "licenseStatus", where=_WHERE))
        if status is None:
            raise AdapterDataError(f"{_WHERE}: unknown licenseStatus")
        return CertificateStatus(status)

    async def _correct_certificate(
        self, certificate_id: str, fields: dict[str, str], reason: str
    ) -> CertificateMetadata:
        doc = await self._call(
            "license/correct",
            {
                "licenseCode": certificate_id,
                "items": json.dumps(fields, ensure_ascii=False),
                "reason": reason,
            },
            idempotent=False,
        )
        return licence_to_metadata(doc)

    async def _revoke_certificate(self, certificate_id: str, reason: str) -> CertificateStatus:
        datas = await self._call(
            "license/revoke", {"licenseCode": certificate_id, "reason": reason}, idempotent=False
        )
        if not isinstance(datas, dict) or datas.get("licenseCode") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: revocation answer is not for {certificate_id}")
        status = ZJ_STATUS.get(native_str(datas, "licenseStatus", where=_WHERE))
        if status is None:
            raise AdapterDataError(f"{_WHERE}: unknown licenseStatus")
        return CertificateStatus(status)

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        datas = await self._call(
            "record/query",
            {
                "recordCode": record_type,
                "subjectIdCode": subject_code,
                "subjectIdType": _NATIVE_HOLDER[subject_type.value],
                "itemCodes": ",".join(fields),
            },
        )
        if not isinstance(datas, dict) or not isinstance(datas.get("items"), dict):
            raise AdapterDataError("Zhejiang record: expected an object with items")
        as_of = native_time(
            native_str(datas, "asOf", where="Zhejiang record"),
            ZJ_TIME_FORMAT,
            _BEIJING,
            where="Zhejiang record",
            key="asOf",
        )
        return RecordData(
            record_type=native_str(datas, "recordCode", where="Zhejiang record"),
            as_of=as_of,
            fields=datas["items"],
        )

    async def _count_subjects(self, record_type: str, field: str, value: str) -> int:
        datas = await self._call(
            "record/count", {"recordCode": record_type, "itemCode": field, "itemValue": value}
        )
        if not isinstance(datas, dict) or datas.get("recordCode") != record_type:
            raise AdapterDataError(f"Zhejiang count: answer is not for {record_type}")
        total = datas.get("total")
        if type(total) is not int:
            raise AdapterDataError("Zhejiang count: total is not a whole number")
        return total

    async def _changes(self, since: str | None, limit: int) -> ChangeBatch:
        start = int(since) if since is not None and since.isdigit() else 0
        datas = await self._call(
            "license/changes", {"startSeq": str(start), "pageSize": str(limit)}
        )
        where = "Zhejiang change log"
        if not isinstance(datas, dict) or not isinstance(datas.get("list"), list):
            raise AdapterDataError(f"{where}: expected an object with list")
        changes = []
        for row in datas["list"]:
            if not isinstance(row, dict):
                raise AdapterDataError(f"{where}: a row is not an object")
            when = native_time(
                native_str(row, "opTime", where=where),
                ZJ_TIME_FORMAT,
                _BEIJING,
                where=where,
                key="opTime",
            )
            if row.get("opType") == "record":
                subject_type = ZJ_HOLDER_TYPES.get(native_str(row, "subjectIdType", where=where))
                if subject_type is None:
                    raise AdapterDataError(f"{where}: unknown subjectIdType")
                changes.append(
                    Change(
                        kind="record.changed",
                        holder_code=native_str(row, "subjectIdCode", where=where),
                        holder_type=HolderType(subject_type),
                        occurred_at=when,
                        record_type=native_str(row, "recordCode", where=where),
                    )
                )
                continue
            kind = _ZJ_CHANGES.get(native_str(row, "opType", where=where))
            holder_type = ZJ_HOLDER_TYPES.get(native_str(row, "holderIdType", where=where))
            if kind is None or holder_type is None:
                raise AdapterDataError(f"{where}: unknown opType or holderIdType")
            changes.append(
                Change(
                    kind=kind,
                    certificate_id=native_str(row, "licenseCode", where=where),
                    type_code=native_str(row, "licenseTypeCode", where=where),
                    holder_code=native_str(row, "holderIdCode", where=where),
                    holder_type=HolderType(holder_type),
                    occurred_at=when,
                )
            )
        following = datas.get("next")
        if type(following) is not int or following < start:
            raise AdapterDataError(f"{where}: next is not a sequence number after {start}")
        return ChangeBatch(tuple(changes), str(following))
