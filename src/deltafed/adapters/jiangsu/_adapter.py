"""Jiangsu: the shared contract mapped onto the modelled Jiangsu certificate-sharing API."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta, timezone
from typing import Any, ClassVar, Final

from deltafed._clock import Clock
from deltafed._errors import AdapterDataError, InvalidInputError
from deltafed.adapters._base import Change, ChangeBatch, RecordData
from deltafed.adapters._province import HttpProvinceAdapter, native_str, native_time
from deltafed.adapters._sandboxkit import SandboxTransport
from deltafed.adapters._synthetic import RegionData, synthetic_catalogue
from deltafed.adapters.jiangsu._native import (
    CHANGES_PATH,
    CORRECT_PATH,
    COUNT_PATH,
    DATA_PATH,
    JS_CHANGE_TYPES,
    JS_RECORD_TIME_FORMAT,
    QUERY_PATH,
    RECORD_PATH,
    REVOKE_PATH,
    STATUS_PATH,
    JiangsuCertShareClient,
    JiangsuCredentials,
)
from deltafed.adapters.jiangsu._sandbox import (
    SANDBOX_ACCESS_ID,
    SANDBOX_ACCESS_KEY,
    SANDBOX_PAAS_ID,
    SANDBOX_PAAS_TOKEN,
    JiangsuSandbox,
)
from deltafed.schemas.catalogue import Catalogue
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType

__all__ = ["DEFAULT_USE_CAUSE", "JiangsuAdapter"]

#: The use cause (用证事由) sent when the caller gives none; the API requires one.
DEFAULT_USE_CAUSE: Final = "长三角一网通办跨省业务办理核验"
_BEIJING: Final = timezone(timedelta(hours=8))
_WHERE: Final = "Jiangsu certificate"


class JiangsuAdapter(HttpProvinceAdapter):
    """Jiangsu (320000) through its signed gateway and certificate-sharing API (modelled).

    Credentials: ``paas_id``, ``paas_token`` (gateway) and ``access_id``, ``access_key``
    (certificate-sharing API).
    """

    name: ClassVar[str] = "jiangsu"
    default_region: ClassVar[str] = "320000"
    sandbox_base_url: ClassVar[str] = "https://js-gateway.sandbox.invalid"
    credential_keys: ClassVar[tuple[str, ...]] = (
        "paas_id",
        "paas_token",
        "access_id",
        "access_key",
    )

    #: Sent as ``useCause`` when the caller states no use cause (the API requires one).
    use_cause: str = DEFAULT_USE_CAUSE

    @property
    def _use_cause(self) -> str:
        """The caller's use cause for this call, else the adapter's default."""
        return self.call_context.use_cause or self.use_cause

    def _setup(self, credentials: Mapping[str, str]) -> None:
        self.native = JiangsuCertShareClient(
            self._http,
            JiangsuCredentials(
                credentials["paas_id"],
                credentials["paas_token"],
                credentials["access_id"],
                credentials["access_key"],
            ),
            clock=self._clock,
            retry=self._retry,
        )

    @classmethod
    def _make_sandbox(cls, data: RegionData, *, clock: Clock) -> SandboxTransport:
        return JiangsuSandbox(data, clock=clock)

    @classmethod
    def _sandbox_credentials(cls) -> dict[str, str]:
        return {
            "paas_id": SANDBOX_PAAS_ID,
            "paas_token": SANDBOX_PAAS_TOKEN,
            "access_id": SANDBOX_ACCESS_ID,
            "access_key": SANDBOX_ACCESS_KEY,
        }

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
        query: dict[str, Any]
        if certificate_id is not None:
            query = {"certIdentifier": certificate_id}
        else:
            if holder_type is None:  # the base class passes both ways of asking or neither
                raise InvalidInputError("holder_type is required", field="holder_type")
            query = {
                "holderCode": holder_code,
                "holderTypeCode": holder_type.value,
                "certTypeCode": type_code,
            }
        data = await self.native.call(QUERY_PATH, {**query, "useCause": self._use_cause})
        if not isinstance(data, dict):
            raise AdapterDataError(f"{_WHERE}: data is not an object")
        # The native record is GB/T 36903 with yyyyMMdd dates: the schema maps it directly.
        return CertificateMetadata.from_gbt36903(data)

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        data = await self.native.call(
            DATA_PATH,
            {"certIdentifier": certificate_id, "items": list(fields), "useCause": self._use_cause},
        )
        if not isinstance(data, dict) or data.get("ZZBS") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: data answer is not for {certificate_id}")
        items = data.get("items")
        if not isinstance(items, dict):
            raise AdapterDataError(f"{_WHERE}: items missing")
        return {str(k): native_str(items, k, where=_WHERE) for k in items}

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        data = await self.native.call(
            STATUS_PATH, {"certIdentifier": certificate_id, "useCause": self._use_cause}
        )
        if not isinstance(data, dict) or data.get("ZZBS") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: status answer is not for {certificate_id}")
        return CertificateStatus(native_str(data, "ZZZT", where=_WHERE))

    async def _correct_certificate(
        self, certificate_id: str, fields: dict[str, str], reason: str
    ) -> CertificateMetadata:
        data = await self.native.call(
            CORRECT_PATH,
            {
                "certIdentifier": certificate_id,
                "items": fields,
                "reason": reason,
                "useCause": self._use_cause,
            },
            idempotent=False,
        )
        if not isinstance(data, dict):
            raise AdapterDataError(f"{_WHERE}: data is not an object")
        return CertificateMetadata.from_gbt36903(data)

    async def _revoke_certificate(self, certificate_id: str, reason: str) -> CertificateStatus:
        data = await self.native.call(
            REVOKE_PATH,
            {"certIdentifier": certificate_id, "reason": reason, "useCause": self._use_cause},
            idempotent=False,
        )
        if not isinstance(data, dict) or data.get("ZZBS") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: revocation answer is not for {certificate_id}")
        return CertificateStatus(native_str(data, "ZZZT", where=_WHERE))

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        data = await self.native.call(
            RECORD_PATH,
            {
                "recordCode": record_type,
                "subjectCode": subject_code,
                "subjectTypeCode": subject_type.value,
                "items": list(fields),
                "useCause": self._use_cause,
            },
        )
        where = "Jiangsu record"
        if not isinstance(data, dict) or not isinstance(data.get("items"), dict):
            raise AdapterDataError(f"{where}: expected an object with items")
        as_of = native_time(
            native_str(data, "asOf", where=where),
            JS_RECORD_TIME_FORMAT,
            _BEIJING,
            where=where,
            key="asOf",
        )
        return RecordData(
            record_type=native_str(data, "recordCode", where=where),
            as_of=as_of,
            fields=data["items"],
        )

    async def _count_subjects(self, record_type: str, field: str, value: str) -> int:
        data = await self.native.call(
            COUNT_PATH,
            {
                "recordCode": record_type,
                "itemCode": field,
                "itemValue": value,
                "useCause": self._use_cause,
            },
        )
        if not isinstance(data, dict) or data.get("recordCode") != record_type:
            raise AdapterDataError(f"{_WHERE}: count answer is not for {record_type}")
        total = data.get("total")
        if type(total) is not int:
            raise AdapterDataError(f"{_WHERE}: total is not a whole number")
        return total

    async def _changes(self, since: str | None, limit: int) -> ChangeBatch:
        start = int(since) if since is not None and since.isdigit() else 0
        data = await self.native.call(
            CHANGES_PATH, {"fromSeq": start, "limit": limit, "useCause": self._use_cause}
        )
        where = "Jiangsu change log"
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise AdapterDataError(f"{where}: expected an object with items")
        changes = []
        for item in data["items"]:
            if not isinstance(item, dict):
                raise AdapterDataError(f"{where}: an item is not an object")
            when = native_time(
                native_str(item, "changeTime", where=where),
                JS_RECORD_TIME_FORMAT,
                _BEIJING,
                where=where,
                key="changeTime",
            )
            if item.get("changeType") == "RECORD":
                changes.append(
                    Change(
                        kind="record.changed",
                        holder_code=native_str(item, "subjectCode", where=where),
                        holder_type=HolderType(native_str(item, "subjectTypeCode", where=where)),
                        occurred_at=when,
                        record_type=native_str(item, "recordCode", where=where),
                    )
                )
                continue
            kind = JS_CHANGE_TYPES.get(native_str(item, "changeType", where=where))
            if kind is None:
                raise AdapterDataError(f"{where}: unknown changeType")
            changes.append(
                Change(
                    kind=kind,
                    certificate_id=native_str(item, "ZZBS", where=where),
                    type_code=native_str(item, "ZZLXDM", where=where),
                    holder_code=native_str(item, "CZZTDM", where=where),
                    holder_type=HolderType(native_str(item, "CZZTDMLXDM", where=where)),
                    occurred_at=when,
                )
            )
        next_seq = data.get("nextSeq")
        if type(next_seq) is not int or next_seq < start:
            raise AdapterDataError(f"{where}: nextSeq is not a sequence number after {start}")
        return ChangeBatch(tuple(changes), str(next_seq))
