"""A dict-backed adapter: for node tests, demos and as the simplest example of the contract.

It speaks no native protocol; everything it holds is given to the constructor (or drawn from
the synthetic population with :meth:`InMemoryAdapter.synthetic`). Status can be changed at
runtime with :meth:`InMemoryAdapter.revoke` / :meth:`InMemoryAdapter.set_status`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, ClassVar, Self

from deltafed._clock import Clock, system_clock
from deltafed._errors import AdapterUnavailableError, ConfigurationError, NotFoundError
from deltafed.adapters._base import (
    DEFAULT_TIMEOUT,
    Change,
    ChangeBatch,
    ProvinceAdapter,
    RecordData,
    RecordValue,
)
from deltafed.adapters._synthetic import (
    DEFAULT_SEED,
    certificate_identifier,
    synthetic_catalogue,
    synthetic_metadata,
    synthetic_population,
)
from deltafed.schemas.catalogue import Catalogue
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.matching import Predicate, compare

__all__ = ["InMemoryAdapter", "MemoryCertificate", "MemoryRecord"]


@dataclass(frozen=True)
class MemoryCertificate:
    """A certificate held in memory: its metadata and its field values."""

    metadata: CertificateMetadata
    data: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "data", MappingProxyType(dict(self.data)))


@dataclass(frozen=True)
class MemoryRecord:
    """A record held in memory, about one subject."""

    record_type: str
    subject_code: str
    subject_type: HolderType
    as_of: datetime
    fields: Mapping[str, RecordValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


class InMemoryAdapter(ProvinceAdapter):
    """An adapter over plain Python data.

    ``certificates`` and ``records`` are checked against ``catalogue`` when they are added,
    so a test cannot seed data the catalogue does not describe.
    """

    name: ClassVar[str] = "memory"

    def __init__(
        self,
        region: str,
        catalogue: Catalogue,
        certificates: Iterable[MemoryCertificate] = (),
        records: Iterable[MemoryRecord] = (),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = system_clock,
    ) -> None:
        super().__init__(region=region, timeout=timeout)
        #: Dates the changes made without an explicit time.
        self.clock = clock
        if not isinstance(catalogue, Catalogue):
            raise ConfigurationError("catalogue must be a deltafed.schemas.Catalogue")
        self._the_catalogue = catalogue
        self._certificates: dict[str, MemoryCertificate] = {}
        self._status: dict[str, CertificateStatus] = {}
        self._records: dict[tuple[str, str], MemoryRecord] = {}
        for cert in certificates:
            self.add_certificate(cert)
        for rec in records:
            self.add_record(rec)
        #: The change log (the change feed reads it; a cursor is a position in it).
        self.change_log: list[Change] = []
        self.calls: list[str] = []
        #: The use cause each hook call was made with, in the order of :attr:`calls`.
        self.use_causes: list[str | None] = []
        #: While true the "platform" is down: every hook and the health probe fail with
        #: ``adapter_unavailable`` (for tests of a node's behaviour and health).
        self.down = False

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def synthetic(
        cls,
        region: str,
        *,
        seed: int = DEFAULT_SEED,
        timeout: float = DEFAULT_TIMEOUT,
        clock: Clock = system_clock,
    ) -> Self:
        """An adapter holding the synthetic population of ``region`` for ``seed``."""
        if region not in synthetic_population(seed).regions:
            raise ConfigurationError(f"no synthetic data for region {region!r}")
        data = synthetic_population(seed).region(region)
        return cls(
            region,
            synthetic_catalogue(region),
            (MemoryCertificate(synthetic_metadata(c), c.data) for c in data.certificates),
            (
                MemoryRecord(r.record_type, r.subject_code, r.subject_type, r.as_of, r.fields)
                for r in data.records
            ),
            timeout=timeout,
            clock=clock,
        )

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """``{"region": "320000", "seed": 2019, "timeout": 5}``: the synthetic population."""
        unknown = set(config) - {"region", "seed", "timeout", "sandbox", "faults"}
        if unknown:
            raise ConfigurationError(f"memory adapter: unknown settings {sorted(unknown)}")
        if config.get("faults"):
            raise ConfigurationError("memory adapter: faults need a province sandbox")
        region = config.get("region")
        seed = config.get("seed", DEFAULT_SEED)
        timeout = config.get("timeout", DEFAULT_TIMEOUT)
        if not isinstance(region, str):
            raise ConfigurationError("memory adapter: 'region' is required")
        if not isinstance(seed, int) or isinstance(seed, bool):
            raise ConfigurationError("memory adapter: 'seed' must be an integer")
        if not isinstance(timeout, int | float) or isinstance(timeout, bool):
            raise ConfigurationError("memory adapter: 'timeout' must be a number")
        return cls.synthetic(region, seed=seed, timeout=float(timeout))

    # --- data management --------------------------------------------------------------------

    def add_certificate(self, cert: MemoryCertificate) -> None:
        meta = cert.metadata
        ctype = self._the_catalogue.certificate_type(meta.type_code)
        if ctype is None:
            raise ConfigurationError(f"certificate type {meta.type_code} is not in the catalogue")
        extra = set(cert.data) - {f.name for f in ctype.fields}
        if extra:
            raise ConfigurationError(f"fields {sorted(extra)} are not in the catalogue")
        self._certificates[meta.identifier] = cert
        self._status.pop(meta.identifier, None)

    def add_record(self, rec: MemoryRecord) -> None:
        rtype = self._the_catalogue.record_type(rec.record_type)
        if rtype is None:
            raise ConfigurationError(f"record type {rec.record_type} is not in the catalogue")
        extra = set(rec.fields) - {f.name for f in rtype.fields}
        if extra:
            raise ConfigurationError(f"record fields {sorted(extra)} are not in the catalogue")
        self._records[(rec.record_type, rec.subject_code)] = rec

    def revoke(self, certificate_id: str, *, at: datetime | None = None) -> None:
        """Revoke a certificate from now on."""
        self.set_status(certificate_id, CertificateStatus.REVOKED, at=at)

    def set_status(
        self, certificate_id: str, status: CertificateStatus, *, at: datetime | None = None
    ) -> None:
        if certificate_id not in self._certificates:
            raise NotFoundError(f"no certificate {certificate_id} in memory")
        self._status[certificate_id] = CertificateStatus(status)
        revoked = status == CertificateStatus.REVOKED
        kind = "certificate.revoked" if revoked else "certificate.changed"
        self._log_change(kind, self._certificates[certificate_id].metadata, at)

    def renew(self, certificate_id: str, *, valid_until: date | None, at: datetime) -> str:
        """Issue the next version of a certificate (valid from ``at``'s date); its new id."""
        old = self._get(certificate_id)
        meta = old.metadata
        version = f"{int(meta.identifier.split('.')[-2]) + 1:03d}"
        serial = meta.identifier.split(".")[-3]
        new_id = certificate_identifier(meta.type_code, meta.issuer_code, serial, version)
        renewed = meta.model_copy(
            update={
                "identifier": new_id,
                "issued_on": at.date(),
                "valid_from": at.date(),
                "valid_until": valid_until,
                "status": CertificateStatus.VALID,
            }
        )
        self._certificates[new_id] = MemoryCertificate(renewed, old.data)
        self._log_change("certificate.renewed", renewed, at)
        return new_id

    def update_record(
        self,
        record_type: str,
        subject_code: str,
        fields: Mapping[str, RecordValue],
        *,
        at: datetime | None = None,
    ) -> None:
        """Change fields of a record (the change feed reports ``record.changed``)."""
        rec = self._records.get((record_type, subject_code))
        if rec is None:
            raise NotFoundError(f"no {record_type} record for that subject in memory")
        when = at if at is not None else self.clock()
        self.add_record(
            MemoryRecord(
                record_type, subject_code, rec.subject_type, when, {**rec.fields, **fields}
            )
        )
        self.change_log.append(
            Change(
                kind="record.changed",
                holder_code=subject_code,
                holder_type=rec.subject_type,
                occurred_at=when,
                record_type=record_type,
            )
        )

    def _log_change(self, kind: str, meta: CertificateMetadata, at: datetime | None) -> None:
        self.change_log.append(
            Change(
                kind=kind,
                certificate_id=meta.identifier,
                type_code=meta.type_code,
                holder_code=meta.holder_code,
                holder_type=meta.holder_type,
                occurred_at=at if at is not None else self.clock(),
            )
        )

    def _get(self, certificate_id: str) -> MemoryCertificate:
        cert = self._certificates.get(certificate_id)
        if cert is None:
            raise NotFoundError(f"no certificate {certificate_id}", field="certificate_id")
        return cert

    def _current(self, cert: MemoryCertificate) -> CertificateMetadata:
        status = self._status.get(cert.metadata.identifier)
        if status is None or status is cert.metadata.status:
            return cert.metadata
        return cert.metadata.model_copy(update={"status": status})

    # --- optional hooks: an upheld objection ------------------------------------------------

    async def _correct_certificate(
        self, certificate_id: str, fields: dict[str, str], reason: str
    ) -> CertificateMetadata:
        self._called("correct_certificate")
        old = self._get(certificate_id)
        parts = certificate_id.split(".")
        new_id = certificate_identifier(parts[5], parts[6], parts[7], f"{int(parts[8]) + 1:03d}")
        meta = old.metadata.model_copy(
            update={
                "identifier": new_id,
                "status": CertificateStatus.VALID,
                "holder_name": fields.get("name", old.metadata.holder_name),
            }
        )
        self.add_certificate(MemoryCertificate(meta, {**old.data, **fields}))
        # The old version is cancelled; the feed reports the change with the new version.
        self._status[certificate_id] = CertificateStatus.CANCELLED
        self._log_change("certificate.changed", meta, None)
        return meta

    async def _revoke_certificate(self, certificate_id: str, reason: str) -> CertificateStatus:
        self._called("revoke_certificate")
        self._get(certificate_id)
        self.revoke(certificate_id)
        return CertificateStatus.REVOKED

    # --- hooks ------------------------------------------------------------------------------

    def _called(self, hook: str) -> None:
        if self.down:
            raise AdapterUnavailableError(f"{self._label}: the platform is down (simulated)")
        self.calls.append(hook)
        self.use_causes.append(self.call_context.use_cause)

    async def _probe(self) -> None:
        if self.down:
            raise AdapterUnavailableError(f"{self._label}: the platform is down (simulated)")

    def _catalogue(self) -> Catalogue:
        return self._the_catalogue

    async def _find_certificate(
        self,
        *,
        certificate_id: str | None,
        holder_code: str | None,
        holder_type: HolderType | None,
        type_code: str | None,
    ) -> CertificateMetadata:
        self._called("find_certificate")
        if certificate_id is not None:
            return self._current(self._get(certificate_id))
        matches = [
            self._current(c)
            for c in self._certificates.values()
            if c.metadata.holder_code == holder_code
            and c.metadata.holder_type == holder_type
            and c.metadata.type_code == type_code
        ]
        if not matches:
            raise NotFoundError("no certificate of that type for that holder")
        # Prefer a valid certificate, then the most recently issued.
        matches.sort(key=lambda m: (m.status is CertificateStatus.VALID, m.issued_on))
        return matches[-1]

    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        self._called("certificate_data")
        cert = self._get(certificate_id)
        missing = [f for f in fields if f not in cert.data]
        if missing:
            raise NotFoundError(f"the certificate holds no value for {', '.join(missing)}")
        return {f: cert.data[f] for f in fields}

    async def _certificate_status(self, certificate_id: str) -> CertificateStatus:
        self._called("certificate_status")
        return self._current(self._get(certificate_id)).status

    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        self._called("fetch_record")
        rec = self._records.get((record_type, subject_code))
        if rec is None or rec.subject_type != subject_type:
            raise NotFoundError(f"no {record_type} record for that subject")
        return RecordData(
            record_type=record_type,
            as_of=rec.as_of,
            fields={f: rec.fields.get(f) for f in fields},
        )

    async def _evaluate_predicate(
        self, record_type: str, subject_code: str, subject_type: HolderType, predicate: Predicate
    ) -> bool | None:
        self._called("evaluate_predicate")
        rec = self._records.get((record_type, subject_code))
        if rec is None or rec.subject_type != subject_type:
            return False
        return compare(rec.fields.get(predicate.field), predicate.comparison, predicate.threshold)

    async def _count_subjects(self, record_type: str, field: str, value: str) -> int:
        self._called("count_subjects")
        return sum(
            1
            for (kind, _), rec in self._records.items()
            if kind == record_type and rec.fields.get(field) == value
        )

    async def _changes(self, since: str | None, limit: int) -> ChangeBatch:
        self._called("changes")
        start = int(since) if since is not None else 0
        end = min(len(self.change_log), start + limit)
        return ChangeBatch(tuple(self.change_log[start:end]), str(end))
