"""Shanghai: the shared contract mapped onto the modelled Shanghai licence platform."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Final
from urllib.parse import quote

from deltafed._clock import Clock
from deltafed._errors import AdapterDataError, InvalidInputError
from deltafed.adapters._base import Change, ChangeBatch, RecordData
from deltafed.adapters._province import HttpProvinceAdapter, native_str
from deltafed.adapters._sandboxkit import SandboxTransport
from deltafed.adapters._synthetic import RegionData, synthetic_catalogue
from deltafed.adapters.shanghai._native import (
    SH_HOLDER_TYPES,
    SH_STATUS,
    ShanghaiCredentials,
    ShanghaiLicenceClient,
    parse_iso_instant,
)
from deltafed.adapters.shanghai._sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    ShanghaiSandbox,
)
from deltafed.schemas.catalogue import Catalogue
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType

__all__ = ["ShanghaiAdapter", "licence_to_metadata"]

_NATIVE_HOLDER: Final = {shared: native for native, shared in SH_HOLDER_TYPES.items()}
#: The licence events' type -> the shared change kinds.
_SH_CHANGES: Final = {
    "licence.issued": "certificate.issued",
    "licence.renewed": "certificate.renewed",
    "licence.changed": "certificate.changed",
    "licence.revoked": "certificate.revoked",
}
_WHERE: Final = "Shanghai licence"


def _part(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise AdapterDataError(f"{_WHERE}: {key!r} missing or not an object")
    return value


def licence_to_metadata(doc: Any) -> CertificateMetadata:
    """Map a native Shanghai licence document to the shared metadata."""
    if not isinstance(doc, dict):
        raise AdapterDataError(f"{_WHERE}: expected an object")
    licence, issuer = _part(doc, "licence"), _part(doc, "issuer")
    holder, validity = _part(doc, "holder"), _part(doc, "validity")
    status = SH_STATUS.get(native_str(doc, "status", where=_WHERE))
    holder_type = SH_HOLDER_TYPES.get(native_str(holder, "idType", where=_WHERE))
    if status is None or holder_type is None:
        raise AdapterDataError(f"{_WHERE}: unknown status or holder idType")
    until = validity.get("until")
    if until is not None and not isinstance(until, str):
        raise AdapterDataError(f"{_WHERE}: validity.until is not a date")
    # Dates are ISO already; the schema validates them.
    return CertificateMetadata.parse(
        {
            "name": native_str(licence, "name", where=_WHERE),
            "type_code": native_str(licence, "typeCode", where=_WHERE),
            "number": native_str(licence, "number", where=_WHERE),
            "identifier": native_str(licence, "id", where=_WHERE),
            "issuer_name": native_str(issuer, "name", where=_WHERE),
            "issuer_code": native_str(issuer, "creditCode", where=_WHERE),
            "issued_on": native_str(doc, "issueDate", where=_WHERE),
            "holder_name": native_str(holder, "name", where=_WHERE),
            "holder_type": holder_type,
            "holder_code": native_str(holder, "id", where=_WHERE),
            "valid_from": native_str(validity, "from", where=_WHERE),
            "valid_until": until,
            "status": status,
        }
    )


class ShanghaiAdapter(HttpProvinceAdapter):
    """Shanghai (310000) through its licence platform (an invented, modelled convention).

    Credentials: ``client_id`` and ``client_secret`` (OAuth client credentials; the secret
    also keys the request signature).
    """

    name: ClassVar[str] = "shanghai"
    default_region: ClassVar[str] = "310000"
    sandbox_base_url: ClassVar[str] = "https://sh-licence.sandbox.invalid"
    credential_keys: ClassVar[tuple[str, ...]] = ("client_id", "client_secret")

    def _setup(self, credentials: Mapping[str, str]) -> None:
        self.native = ShanghaiLicenceClient(
            self._http,
            ShanghaiCredentials(credentials["client_id"], credentials["client_secret"]),
            clock=self._clock,
            retry=self._retry,
        )

    @classmethod
    def _make_sandbox(cls, data: RegionData, *, clock: Clock) -> SandboxTransport:
        return ShanghaiSandbox(data, clock=clock)

    @classmethod
    def _sandbox_credentials(cls) -> dict[str, str]:
        return {"client_id": SANDBOX_CLIENT_ID, "client_secret": SANDBOX_CLIENT_SECRET}

    def _purpose(self) -> dict[str, str]:
        """``purpose``: the caller's use cause, as a query parameter or body member."""
        cause = self.call_context.use_cause
        return {} if cause is None else {"purpose": cause}

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
            doc = await self.native.call(
                "GET", f"/api/v2/licences/{quote(certificate_id)}", params=self._purpose()
            )
        else:
            if holder_code is None or holder_type is None or type_code is None:
                raise InvalidInputError("holder_code, holder_type and type_code go together")
            doc = await self.native.call(
                "GET",
                "/api/v2/licences",
                params={
                    "holderId": holder_code,
                    "holderIdType": _NATIVE_HOLDER[holder_type.value],
                    "licenceType": type_code,
                    **self._purpose(),
                },
            )
        return licence_to_metadata(doc)

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        result = await self.native.call(
            "POST",
            f"/api/v2/licences/{quote(certificate_id)}/extract",
            body={"fields": fields, **self._purpose()},
        )
        if not isinstance(result, dict) or result.get("licenceId") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: extract answer is not for {certificate_id}")
        values = result.get("fields")
        if not isinstance(values, dict):
            raise AdapterDataError(f"{_WHERE}: fields missing")
        return {str(k): native_str(values, k, where=_WHERE) for k in values}

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        result = await self.native.call(
            "GET", f"/api/v2/licences/{quote(certificate_id)}/status", params=self._purpose()
        )
        if not isinstance(result, dict) or result.get("licenceId") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: status answer is not for {certificate_id}")
        status = SH_STATUS.get(native_str(result, "status", where=_WHERE))
        if status is None:
            raise AdapterDataError(f"{_WHERE}: unknown status")
        return CertificateStatus(status)

    async def _correct_certificate(
        self, certificate_id: str, fields: dict[str, str], reason: str
    ) -> CertificateMetadata:
        doc = await self.native.call(
            "POST",
            f"/api/v2/licences/{quote(certificate_id)}/corrections",
            body={"fields": fields, "reason": reason},
            idempotent=False,
        )
        return licence_to_metadata(doc)

    async def _revoke_certificate(self, certificate_id: str, reason: str) -> CertificateStatus:
        result = await self.native.call(
            "POST",
            f"/api/v2/licences/{quote(certificate_id)}/revocation",
            body={"reason": reason},
            idempotent=False,
        )
        if not isinstance(result, dict) or result.get("licenceId") != certificate_id:
            raise AdapterDataError(f"{_WHERE}: revocation answer is not for {certificate_id}")
        status = SH_STATUS.get(native_str(result, "status", where=_WHERE))
        if status is None:
            raise AdapterDataError(f"{_WHERE}: unknown status")
        return CertificateStatus(status)

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        result = await self.native.call(
            "POST",
            f"/api/v2/records/{quote(record_type)}/query",
            body={
                "subjectId": subject_code,
                "subjectIdType": _NATIVE_HOLDER[subject_type.value],
                "fields": fields,
                **self._purpose(),
            },
        )
        if not isinstance(result, dict) or not isinstance(result.get("fields"), dict):
            raise AdapterDataError("Shanghai record: expected an object with fields")
        return RecordData(
            record_type=native_str(result, "recordType", where="Shanghai record"),
            as_of=parse_iso_instant(native_str(result, "asOf", where="Shanghai record")),
            fields=result["fields"],
        )

    async def _count_subjects(self, record_type: str, field: str, value: str) -> int:
        result = await self.native.call(
            "POST",
            f"/api/v2/records/{quote(record_type)}/count",
            body={"field": field, "value": value, **self._purpose()},
        )
        if not isinstance(result, dict) or result.get("recordType") != record_type:
            raise AdapterDataError(f"Shanghai count: answer is not for {record_type}")
        total = result.get("count")
        if type(total) is not int:
            raise AdapterDataError("Shanghai count: count is not a whole number")
        return total

    async def _changes(self, since: str | None, limit: int) -> ChangeBatch:
        after = int(since) if since is not None and since.isdigit() else 0
        result = await self.native.call(
            "GET",
            "/api/v2/licence-events",
            params={"after": str(after), "limit": str(limit), **self._purpose()},
        )
        where = "Shanghai licence events"
        if not isinstance(result, dict) or not isinstance(result.get("events"), list):
            raise AdapterDataError(f"{where}: expected an object with events")
        changes = []
        for item in result["events"]:
            if not isinstance(item, dict):
                raise AdapterDataError(f"{where}: an event is not an object")
            when = parse_iso_instant(native_str(item, "at", where=where))
            if item.get("type") == "record.changed":
                subject_type = SH_HOLDER_TYPES.get(native_str(item, "subjectIdType", where=where))
                if subject_type is None:
                    raise AdapterDataError(f"{where}: unknown subjectIdType")
                changes.append(
                    Change(
                        kind="record.changed",
                        holder_code=native_str(item, "subjectId", where=where),
                        holder_type=HolderType(subject_type),
                        occurred_at=when,
                        record_type=native_str(item, "recordType", where=where),
                    )
                )
                continue
            kind = _SH_CHANGES.get(native_str(item, "type", where=where))
            holder_type = SH_HOLDER_TYPES.get(native_str(item, "holderIdType", where=where))
            if kind is None or holder_type is None:
                raise AdapterDataError(f"{where}: unknown type or holderIdType")
            changes.append(
                Change(
                    kind=kind,
                    certificate_id=native_str(item, "licenceId", where=where),
                    type_code=native_str(item, "licenceType", where=where),
                    holder_code=native_str(item, "holderId", where=where),
                    holder_type=HolderType(holder_type),
                    occurred_at=when,
                )
            )
        following = result.get("next")
        if type(following) is not int or following < after:
            raise AdapterDataError(f"{where}: next is not a position after {after}")
        return ChangeBatch(tuple(changes), str(following))
