"""The adapter contract, as checks: what every province adapter must do behind the node.

These checks run in process only (an :class:`~deltafed_conformance.AdapterTarget`): each
builds a fresh adapter with its sandbox, drives it through the public API of
:class:`~deltafed.adapters.ProvinceAdapter` with a sample of the synthetic population of its
region (:func:`contract_sample`), and closes it. They replace ``deltafed.adapters.contract``,
whose verdicts were ``assert`` statements (gone under ``python -O``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from deltafed._errors import (
    AdapterUnavailableError,
    DeltafedError,
    IdentifierError,
    InvalidInputError,
    NotFoundError,
)
from deltafed.adapters import ProvinceAdapter
from deltafed.adapters._synthetic import DEFAULT_SEED, certificate_identifier
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.testing import synthetic_population
from deltafed_conformance._model import Check, CheckFailed, CheckSkipped
from deltafed_conformance._platform import Platform
from deltafed_conformance._session import Session

__all__ = ["ADAPTER_CHECKS", "ContractSample", "contract_sample"]


@dataclass(frozen=True)
class ContractSample:
    """Data the adapter under test holds: the synthetic population of its region."""

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


def contract_sample(region: str, seed: int = DEFAULT_SEED) -> ContractSample:
    """The sample of ``region``: its first certificate, and its holder's household record."""
    data = synthetic_population(seed).region(region)
    cert = data.certificates[0]
    person = next(r for r in data.residents if r.resident_id == cert.holder_code)
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
        absent_certificate_id=certificate_identifier(cert.type_code, cert.issuer_code, "TNOSUCH0"),
    )


Body = Callable[[ProvinceAdapter, ContractSample], Awaitable[None]]


def _fail(condition: bool, reason: str) -> None:
    if condition:
        raise CheckFailed(reason)


def _in_process(body: Body) -> Callable[[Session], Awaitable[None]]:
    async def run(session: Session) -> None:
        if session.adapter_factory is None:
            raise CheckSkipped("the adapter contract runs in process, against an adapter")
        adapter = session.adapter_factory()
        try:
            await body(adapter, contract_sample(adapter.region))
        except DeltafedError as exc:
            raise CheckFailed(f"unexpected {exc.code}: {exc.message}") from exc
        finally:
            await adapter.aclose()

    return run


async def _refused(call: Awaitable[object], error: type[DeltafedError], what: str) -> None:
    try:
        await call
    except error:
        return
    raise CheckFailed(f"{what} was accepted, not refused with {error.__name__}")


async def catalogue(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    cat = adapter.catalogue()
    _fail(cat.region != adapter.region, f"catalogue region {cat.region} is not the adapter's")
    _fail(cat.certificate_type(sample.type_code) is None, f"type {sample.type_code} not listed")
    _fail(cat.record_type(sample.record_type) is None, f"{sample.record_type} not listed")


async def find_by_id(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    meta = await adapter.find_certificate(certificate_id=sample.certificate_id)
    _fail(meta.identifier != sample.certificate_id, f"asked {sample.certificate_id}, got {meta}")
    _fail(meta.holder_code != sample.holder_code, f"wrong holder {meta.holder_code}")


async def find_by_holder(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    meta = await adapter.find_certificate(
        holder_code=sample.holder_code, holder_type=sample.holder_type, type_code=sample.type_code
    )
    _fail(meta.type_code != sample.type_code, f"wrong type {meta.type_code}")
    _fail(meta.holder_code != sample.holder_code, f"wrong holder {meta.holder_code}")


async def absent_is_not_found(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    await _refused(
        adapter.find_certificate(certificate_id=sample.absent_certificate_id),
        NotFoundError,
        "an absent certificate",
    )


async def malformed_id_refused(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    await _refused(
        adapter.find_certificate(certificate_id=sample.certificate_id + "0"),
        IdentifierError,
        "a malformed certificate identifier",
    )


async def data_exact(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    out = await adapter.certificate_data(sample.certificate_id, sample.fields)
    _fail(list(out) != list(sample.fields), f"asked {list(sample.fields)}, released {list(out)}")
    _fail(not all(isinstance(v, str) for v in out.values()), "values must be strings")


async def unknown_field_refused(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    await _refused(
        adapter.certificate_data(sample.certificate_id, ["no_such_field"]),
        InvalidInputError,
        "an unknown field",
    )


async def status(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    value = await adapter.certificate_status(sample.certificate_id)
    _fail(not isinstance(value, CertificateStatus), f"status {value!r} is not a status code")


async def use_cause_accepted(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    cause = "deltafed contract check"
    value = await adapter.certificate_status(sample.certificate_id, use_cause=cause)
    _fail(not isinstance(value, CertificateStatus), "status with a use cause failed")
    meta = await adapter.find_certificate(certificate_id=sample.certificate_id, use_cause=cause)
    _fail(meta.identifier != sample.certificate_id, "wrong certificate with a use cause")


async def record(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    rec = await adapter.fetch_record(
        sample.record_type, sample.subject_code, sample.subject_type, sample.record_fields
    )
    _fail(rec.record_type != sample.record_type, f"wrong record type {rec.record_type}")
    _fail(
        list(rec.fields) != list(sample.record_fields),
        f"asked {list(sample.record_fields)}, released {list(rec.fields)}",
    )
    _fail(not isinstance(rec.as_of, datetime), "as_of is not a datetime")
    _fail(rec.as_of.utcoffset() is None, "as_of has no time zone")


async def unknown_record_type(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    await _refused(
        adapter.fetch_record("no_such_record", sample.subject_code, sample.subject_type, ["x"]),
        NotFoundError,
        "an unknown record type",
    )


async def revocation_seen(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    platform = Platform(adapter)
    if not platform.can_revoke:
        raise CheckSkipped("the adapter offers no way to revoke a certificate (sandbox.revoke)")
    platform.revoke(sample.certificate_id)
    value = await adapter.certificate_status(sample.certificate_id)
    _fail(value is not CertificateStatus.REVOKED, f"status after revocation is {value.value}")
    meta = await adapter.find_certificate(certificate_id=sample.certificate_id)
    _fail(meta.status is not CertificateStatus.REVOKED, "metadata still shows the old status")


async def closed_refuses(adapter: ProvinceAdapter, sample: ContractSample) -> None:
    await adapter.aclose()
    await adapter.aclose()  # idempotent
    await _refused(
        adapter.certificate_status(sample.certificate_id),
        AdapterUnavailableError,
        "a call on a closed adapter",
    )


_WHERE: Final = "docs/adapters.md The contract"

# (id, title, requirement, body)
_TABLE: Final[tuple[tuple[str, str, str, Body], ...]] = (
    ("DF-ADP-001", "Catalogue", "the catalogue is the adapter's region and lists the "
     "synthetic types", catalogue),
    ("DF-ADP-002", "Find by identifier", "find_certificate by identifier answers that "
     "certificate", find_by_id),
    ("DF-ADP-003", "Find by holder", "find_certificate by holder and type answers a "
     "certificate of both", find_by_holder),
    ("DF-ADP-004", "Absent certificate", "a certificate the platform does not hold is "
     "NotFoundError", absent_is_not_found),
    ("DF-ADP-005", "Malformed identifier", "an identifier with a wrong check character is "
     "IdentifierError, before the platform is asked", malformed_id_refused),
    ("DF-ADP-006", "Exactly the fields asked", "certificate_data releases exactly the fields "
     "asked, as strings", data_exact),
    ("DF-ADP-007", "Unknown field", "a field the catalogue does not list is InvalidInputError",
     unknown_field_refused),
    ("DF-ADP-008", "Status", "certificate_status answers a status code", status),
    ("DF-ADP-009", "Use cause", "calls with a use cause are answered like others",
     use_cause_accepted),
    ("DF-ADP-010", "Record", "fetch_record answers the type asked, exactly the fields asked "
     "and a time-zone aware as_of", record),
    ("DF-ADP-011", "Unknown record type", "a record type the catalogue does not list is "
     "NotFoundError", unknown_record_type),
    ("DF-ADP-012", "Revocation seen", "a certificate revoked on the platform is revoked on the "
     "next status and metadata call", revocation_seen),
    ("DF-ADP-013", "Closed adapter", "aclose is idempotent and a closed adapter refuses calls "
     "(AdapterUnavailableError)", closed_refuses),
)  # fmt: skip

#: The adapter contract checks, in run order.
ADAPTER_CHECKS: Final[tuple[Check, ...]] = tuple(
    Check(check_id, title, f"{_WHERE}: {text}", _in_process(body), in_process=True)
    for check_id, title, text, body in _TABLE
)
