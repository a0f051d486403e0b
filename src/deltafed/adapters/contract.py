"""A contract check any adapter can be run through: the built-in ones and third-party ones.

:func:`check_adapter` drives an adapter through the public API with a :class:`ContractSample`
(data the adapter is known to hold) and returns a :class:`ContractReport` naming every check
that passed or failed. It asks only for what the sample names; a ``revoke`` callable, if
given, lets it check that a revocation is seen on the next status call.

    report = await check_adapter(adapter, sample_for(adapter.region))
    assert report.ok, report.failed
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from deltafed._errors import (
    AdapterUnavailableError,
    DeltafedError,
    IdentifierError,
    InvalidInputError,
    NotFoundError,
)
from deltafed.adapters._base import ProvinceAdapter
from deltafed.adapters._synthetic import (
    DEFAULT_SEED,
    certificate_identifier,
    synthetic_population,
)
from deltafed.schemas.common import CertificateStatus, HolderType

__all__ = ["ContractReport", "ContractSample", "check_adapter", "sample_for"]


@dataclass(frozen=True)
class ContractSample:
    """Data an adapter under test is known to hold."""

    certificate_id: str
    holder_code: str
    holder_type: HolderType
    type_code: str
    fields: tuple[str, ...]
    record_type: str
    subject_code: str
    subject_type: HolderType
    record_fields: tuple[str, ...]
    #: A well-formed identifier of a listed type that the adapter does not hold.
    absent_certificate_id: str


@dataclass
class ContractReport:
    passed: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and bool(self.passed)


def sample_for(region: str, seed: int = DEFAULT_SEED) -> ContractSample:
    """A sample from the synthetic population of ``region``."""
    data = synthetic_population(seed).region(region)
    cert = data.certificates[0]
    person = next(r for r in data.residents if r.resident_id == cert.holder_code)
    issuer = cert.issuer_code
    return ContractSample(
        certificate_id=cert.certificate_id,
        holder_code=cert.holder_code,
        holder_type=cert.holder_type,
        type_code=cert.type_code,
        fields=tuple(list(cert.data)[:2]),
        record_type="household_registration",
        subject_code=person.resident_id,
        subject_type=HolderType.RESIDENT,
        record_fields=("registered_division", "is_household_head"),
        absent_certificate_id=certificate_identifier(cert.type_code, issuer, "TNOSUCH0"),
    )


async def check_adapter(
    adapter: ProvinceAdapter,
    sample: ContractSample,
    *,
    revoke: Callable[[str], object] | None = None,
) -> ContractReport:
    """Run every contract check against ``adapter``; closes it at the end."""
    report = ContractReport()

    async def check(name: str, body: Callable[[], Awaitable[None]]) -> None:
        try:
            await body()
        except AssertionError as exc:
            report.failed.append((name, str(exc) or "assertion failed"))
        except DeltafedError as exc:
            report.failed.append((name, f"unexpected {exc!r}"))
        else:
            report.passed.append(name)

    async def catalogue() -> None:
        cat = adapter.catalogue()
        assert cat.region == adapter.region, "catalogue region differs from the adapter's"
        assert cat.certificate_type(sample.type_code) is not None, "sample type not listed"
        assert cat.record_type(sample.record_type) is not None, "sample record type not listed"

    async def find_by_id() -> None:
        meta = await adapter.find_certificate(certificate_id=sample.certificate_id)
        assert meta.identifier == sample.certificate_id, "wrong certificate"
        assert meta.holder_code == sample.holder_code, "wrong holder"

    async def find_by_holder() -> None:
        meta = await adapter.find_certificate(
            holder_code=sample.holder_code,
            holder_type=sample.holder_type,
            type_code=sample.type_code,
        )
        assert meta.type_code == sample.type_code, "wrong type"
        assert meta.holder_code == sample.holder_code, "wrong holder"

    async def absent_is_not_found() -> None:
        try:
            await adapter.find_certificate(certificate_id=sample.absent_certificate_id)
        except NotFoundError:
            return
        raise AssertionError("an absent certificate was found")

    async def malformed_id_refused() -> None:
        try:
            await adapter.find_certificate(certificate_id=sample.certificate_id + "0")
        except IdentifierError:
            return
        raise AssertionError("a malformed identifier was accepted")

    async def data_exact() -> None:
        out = await adapter.certificate_data(sample.certificate_id, sample.fields)
        assert list(out) == list(sample.fields), f"released {sorted(out)}"
        assert all(isinstance(v, str) for v in out.values()), "values must be strings"

    async def unknown_field_refused() -> None:
        try:
            await adapter.certificate_data(sample.certificate_id, ["no_such_field"])
        except InvalidInputError:
            return
        raise AssertionError("an unknown field was accepted")

    async def status() -> None:
        value = await adapter.certificate_status(sample.certificate_id)
        assert isinstance(value, CertificateStatus), "status is not a CertificateStatus"

    async def use_cause_accepted() -> None:
        value = await adapter.certificate_status(
            sample.certificate_id, use_cause="deltafed contract check"
        )
        assert isinstance(value, CertificateStatus), "status with a use cause failed"
        meta = await adapter.find_certificate(
            certificate_id=sample.certificate_id, use_cause="deltafed contract check"
        )
        assert meta.identifier == sample.certificate_id, "wrong certificate with a use cause"

    async def record() -> None:
        rec = await adapter.fetch_record(
            sample.record_type, sample.subject_code, sample.subject_type, sample.record_fields
        )
        assert rec.record_type == sample.record_type, "wrong record type"
        assert list(rec.fields) == list(sample.record_fields), f"released {sorted(rec.fields)}"
        assert isinstance(rec.as_of, datetime), "as_of is not a datetime"
        assert rec.as_of.utcoffset() is not None, "as_of is naive"

    async def unknown_record_type() -> None:
        try:
            await adapter.fetch_record(
                "no_such_record", sample.subject_code, sample.subject_type, ["x"]
            )
        except NotFoundError:
            return
        raise AssertionError("an unknown record type was accepted")

    async def revocation_seen() -> None:
        assert revoke is not None
        revoke(sample.certificate_id)
        value = await adapter.certificate_status(sample.certificate_id)
        assert value is CertificateStatus.REVOKED, f"status after revocation is {value}"
        meta = await adapter.find_certificate(certificate_id=sample.certificate_id)
        assert meta.status is CertificateStatus.REVOKED, "metadata still shows the old status"

    async def closed_refuses() -> None:
        await adapter.aclose()
        await adapter.aclose()  # idempotent
        try:
            await adapter.certificate_status(sample.certificate_id)
        except AdapterUnavailableError:
            return
        raise AssertionError("a closed adapter still answered")

    await check("catalogue", catalogue)
    await check("find_by_id", find_by_id)
    await check("find_by_holder", find_by_holder)
    await check("absent_is_not_found", absent_is_not_found)
    await check("malformed_id_refused", malformed_id_refused)
    await check("data_exact", data_exact)
    await check("unknown_field_refused", unknown_field_refused)
    await check("status", status)
    await check("use_cause_accepted", use_cause_accepted)
    await check("record", record)
    await check("unknown_record_type", unknown_record_type)
    if revoke is not None:
        await check("revocation_seen", revocation_seen)
    await check("closed_refuses", closed_refuses)
    return report
