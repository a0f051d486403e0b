"""The Anhui adapter: five hooks, a catalogue, and construction from configuration."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Self

import httpx

from deltafed import (
    AdapterAuthError,
    AdapterDataError,
    AdapterError,
    AdapterQuotaError,
    ConfigurationError,
    NotFoundError,
)
from deltafed.adapters import ProvinceAdapter, RecordData
from deltafed.schemas import Catalogue, CertificateMetadata, CertificateStatus, HolderType
from deltafed.testing import DEFAULT_SEED, synthetic_catalogue, synthetic_population
from deltafed_anhui._sandbox import SANDBOX_API_KEY, AnhuiSandbox

_ERRORS: dict[str, type[AdapterError] | type[NotFoundError]] = {
    "100401": AdapterAuthError,
    "100404": NotFoundError,
    "100429": AdapterQuotaError,
    "100400": AdapterError,
}


class AnhuiAdapter(ProvinceAdapter):
    name: ClassVar[str] = "anhui"

    def __init__(
        self, *, base_url: str, api_key: str, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        super().__init__(region="340000")
        self._client = httpx.AsyncClient(
            base_url=base_url,
            headers={"x-ah-api-key": api_key},
            timeout=10.0,
            transport=transport,
        )
        self.sandbox: AnhuiSandbox | None = None

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        if config.get("sandbox") is True:
            sandbox = AnhuiSandbox(
                synthetic_population(config.get("seed", DEFAULT_SEED)).region("340000")
            )
            adapter = cls(
                base_url="https://ah.sandbox.invalid", api_key=SANDBOX_API_KEY, transport=sandbox
            )
            adapter.sandbox = sandbox
            return adapter
        if not isinstance(config.get("base_url"), str) or not isinstance(
            config.get("api_key"), str
        ):
            raise ConfigurationError("anhui adapter needs base_url and api_key, or sandbox: true")
        return cls(base_url=config["base_url"], api_key=config["api_key"])

    async def _get(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        response = await self._client.get(path, params=params)
        answer = response.json()  # a ValueError here becomes AdapterDataError in the base
        code = answer.get("rtnCode")
        if code == "000000":
            return answer["body"]
        raise _ERRORS.get(code, AdapterError)(f"Anhui rtnCode {code}")

    # --- the hooks ---------------------------------------------------------------------------

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
            doc = await self._get(f"/open/v1/zz/{certificate_id}")
        else:
            doc = await self._get(
                "/open/v1/zz", {"czztdm": holder_code or "", "zzlxdm": type_code or ""}
            )
        pinyin = {k.upper(): v for k, v in doc.items() if k != "zzxx"}
        return CertificateMetadata.from_gbt36903(pinyin)

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        doc = await self._get(f"/open/v1/zz/{certificate_id}")
        values = doc.get("zzxx")
        if not isinstance(values, dict):
            raise AdapterDataError("Anhui: zzxx missing")
        # This API returns every field: release only those asked for.
        return {f: values[f] for f in fields if f in values}

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        doc = await self._get(f"/open/v1/zz/{certificate_id}")
        return CertificateStatus(doc["zzzt"])

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        body = await self._get(
            f"/open/v1/jl/{record_type}",
            {"lx": record_type, "dm": subject_code, "xm": ",".join(fields)},
        )
        return RecordData(
            record_type=body["lx"], as_of=datetime.fromisoformat(body["sj"]), fields=body["xm"]
        )

    async def _count_subjects(self, record_type: str, field: str, value: str) -> int:
        body = await self._get(
            f"/open/v1/tj/{record_type}", {"lx": record_type, "xm": field, "z": value}
        )
        if not isinstance(body, dict) or body.get("lx") != record_type:
            raise AdapterDataError(f"Anhui: count answer is not a count of {record_type}")
        total = body.get("zs")
        if type(total) is not int:
            raise AdapterDataError(f"Anhui: count answer is not a count of {record_type}")
        return total

    async def _aclose(self) -> None:
        await self._client.aclose()
