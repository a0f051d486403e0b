"""Deterministic synthetic residents, companies, certificates and records.

Every sandbox, the demo and the tests draw their data from :func:`synthetic_population`. The
same seed gives the same data in every region and on every run, so a Jiangsu resident's
certificates found by the Jiangsu sandbox can be verified from Shanghai.

The rules that keep the data from ever looking like a real person's or company's:

* **Residents.** Names are ``测试`` followed by the region's one-character abbreviation and two
  characters of the heavenly stems / earthly branches (``测试苏甲子``), never a real name shape.
  Birth dates fall in the years 1850-1869: nobody born then was alive when resident identity
  numbers were introduced (1984), so no number can belong to a real person. Sequence numbers
  are 900-999. The division code is a real city or district of the region and the check
  character is computed (ISO 7064 MOD 11-2), so every number passes validation.
* **Companies.** Credit codes use registration authority ``9`` / type ``1`` and an organisation
  code starting ``YY`` (a prefix not issued) with its GB 11714 check character, then the
  GB 32100 check character. Names follow ``测试样例<stem>科技有限公司``.
* **Agencies.** Issuing and type-defining agencies have credit codes ``11`` + division code +
  an organisation code starting ``YG``; their names end with ``（测试）``.
* **Certificates.** Identifiers follow GB/T 36904 with serials starting ``T`` and a computed
  MOD 37,36 check character; type codes are a synthetic national agency's credit code plus
  three digits, the same in every region.

Randomness comes from :class:`random.Random` seeded with the text
``deltafed-synthetic:<seed>:<region>``: it is reproducible, not secret, and never used for
anything but test data.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from types import MappingProxyType
from typing import Final

from deltafed._errors import ConfigurationError
from deltafed.schemas.catalogue import Catalogue, CertificateType, FieldSpec, RecordType
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.identifiers import (
    DIVISIONS,
    compute_certificate_check,
    compute_credit_check,
    compute_organisation_check,
    compute_resident_check,
)

__all__ = [
    "CERTIFICATE_TYPES",
    "DEFAULT_SEED",
    "RECORD_TYPES",
    "REGIONS",
    "Agency",
    "Population",
    "RegionData",
    "SyntheticCertificate",
    "SyntheticCertificateType",
    "SyntheticCompany",
    "SyntheticRecord",
    "SyntheticRecordType",
    "SyntheticResident",
    "agency_credit_code",
    "certificate_identifier",
    "company_credit_code",
    "corrected_certificate",
    "synthetic_catalogue",
    "synthetic_metadata",
    "synthetic_population",
]

#: The seed used when none is given.
DEFAULT_SEED: Final = 2019

#: Region code -> one-character abbreviation used in synthetic names.
REGIONS: Final[Mapping[str, str]] = MappingProxyType(
    {"310000": "沪", "320000": "苏", "330000": "浙", "340000": "皖"}
)

_STEMS: Final = "甲乙丙丁戊己庚辛壬癸"
_BRANCHES: Final = "子丑寅卯辰巳午未申酉戌亥"
#: Every record is stated as of this instant, so records are reproducible.
_RECORDS_AS_OF: Final = datetime(2026, 1, 1, tzinfo=UTC)

Value = str | int | bool | None


def _org_code(prefix: str, number: int) -> str:
    body = f"{prefix}{number:06d}"
    return body + compute_organisation_check(body)


def agency_credit_code(division: str, number: int) -> str:
    """A synthetic government agency's credit code (``11`` + division + ``YG`` org code)."""
    first17 = "11" + division + _org_code("YG", number)
    return first17 + compute_credit_check(first17)


def company_credit_code(division: str, number: int) -> str:
    """A synthetic enterprise's credit code (``91`` + division + ``YY`` org code)."""
    first17 = "91" + division + _org_code("YY", number)
    return first17 + compute_credit_check(first17)


def certificate_identifier(type_code: str, issuer: str, serial: str, version: str = "001") -> str:
    """A GB/T 36904 certificate identifier with its MOD 37,36 check character."""
    check = compute_certificate_check(type_code, issuer, serial, version)
    return f"1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version}.{check}"


def corrected_certificate(
    cert: SyntheticCertificate, fields: Mapping[str, str]
) -> SyntheticCertificate:
    """The next version of ``cert`` (same serial, version + 1) with ``fields`` changed, valid.

    Correcting ``name`` also corrects the holder's name in the metadata. The sandboxes and the
    in-memory adapter serve an upheld objection with it.
    """
    parts = cert.certificate_id.split(".")
    new_id = certificate_identifier(parts[5], parts[6], parts[7], f"{int(parts[8]) + 1:03d}")
    return replace(
        cert,
        certificate_id=new_id,
        holder_name=fields.get("name", cert.holder_name),
        status=CertificateStatus.VALID,
        data=MappingProxyType({**cert.data, **fields}),
    )


@dataclass(frozen=True)
class Agency:
    """A synthetic government agency."""

    name: str
    credit_code: str


# --- national type-defining agencies and the certificate types they define ------------------

_PUBLIC_SECURITY: Final = Agency("公安部（测试）", agency_credit_code("100000", 1))
_CIVIL_AFFAIRS: Final = Agency("民政部（测试）", agency_credit_code("100000", 2))
_MARKET_REGULATION: Final = Agency("市场监督管理总局（测试）", agency_credit_code("100000", 3))


@dataclass(frozen=True)
class SyntheticCertificateType:
    """A certificate type: ``fields`` are ``(name, title, personal)`` triples."""

    type_code: str
    name: str
    holder_type: HolderType
    fields: tuple[tuple[str, str, bool], ...]
    validity_years: int | None
    #: Which kind of regional agency issues it: "public_security", "civil_affairs", "market".
    issuer_kind: str


IDENTITY_CARD: Final = SyntheticCertificateType(
    type_code=_PUBLIC_SECURITY.credit_code + "001",
    name="居民身份证",
    holder_type=HolderType.RESIDENT,
    fields=(
        ("name", "姓名", True),
        ("gender", "性别", True),
        ("birth_date", "出生日期", True),
        ("address", "住址", True),
    ),
    validity_years=20,
    issuer_kind="public_security",
)
HOUSEHOLD_REGISTER: Final = SyntheticCertificateType(
    type_code=_PUBLIC_SECURITY.credit_code + "002",
    name="居民户口簿",
    holder_type=HolderType.RESIDENT,
    fields=(
        ("name", "姓名", True),
        ("household_head", "户主姓名", True),
        ("relation", "与户主关系", True),
        ("address", "住址", True),
    ),
    validity_years=None,
    issuer_kind="public_security",
)
DRIVING_LICENCE: Final = SyntheticCertificateType(
    type_code=_PUBLIC_SECURITY.credit_code + "003",
    name="机动车驾驶证",
    holder_type=HolderType.RESIDENT,
    fields=(
        ("name", "姓名", True),
        ("licence_class", "准驾车型", True),
        ("first_issued_on", "初次领证日期", True),
    ),
    validity_years=6,
    issuer_kind="public_security",
)
MARRIAGE_CERTIFICATE: Final = SyntheticCertificateType(
    type_code=_CIVIL_AFFAIRS.credit_code + "001",
    name="结婚证",
    holder_type=HolderType.RESIDENT,
    fields=(
        ("name", "姓名", True),
        ("spouse_name", "配偶姓名", True),
        ("registered_on", "登记日期", True),
    ),
    validity_years=None,
    issuer_kind="civil_affairs",
)
BUSINESS_LICENCE: Final = SyntheticCertificateType(
    type_code=_MARKET_REGULATION.credit_code + "001",
    name="营业执照",
    holder_type=HolderType.ORGANISATION,
    fields=(
        ("company_name", "名称", False),
        ("legal_representative", "法定代表人", True),
        ("registered_capital", "注册资本", False),
        ("established_on", "成立日期", False),
        ("address", "住所", False),
    ),
    validity_years=None,
    issuer_kind="market",
)

#: The certificate types every synthetic region issues.
CERTIFICATE_TYPES: Final[tuple[SyntheticCertificateType, ...]] = (
    IDENTITY_CARD,
    HOUSEHOLD_REGISTER,
    DRIVING_LICENCE,
    MARRIAGE_CERTIFICATE,
    BUSINESS_LICENCE,
)


@dataclass(frozen=True)
class SyntheticRecordType:
    """A record type: ``fields`` are ``(name, title, personal)`` triples."""

    code: str
    name: str
    subject_type: HolderType
    fields: tuple[tuple[str, str, bool], ...]


HOUSEHOLD_REGISTRATION: Final = SyntheticRecordType(
    code="household_registration",
    name="户籍登记信息",
    subject_type=HolderType.RESIDENT,
    fields=(
        ("registered_division", "户籍地区划代码", True),
        ("registered_since", "户籍登记日期", True),
        ("is_household_head", "是否户主", True),
        ("household_size", "户内人数", True),
    ),
)
SOCIAL_INSURANCE: Final = SyntheticRecordType(
    code="social_insurance",
    name="社会保险参保信息",
    subject_type=HolderType.RESIDENT,
    fields=(
        ("insured", "是否参保", True),
        ("months_paid", "累计缴费月数", True),
        ("last_paid_month", "最近缴费年月", True),
        ("employer_credit_code", "参保单位统一社会信用代码", True),
    ),
)
ENTERPRISE_STANDING: Final = SyntheticRecordType(
    code="enterprise_standing",
    name="企业经营状态",
    subject_type=HolderType.ORGANISATION,
    fields=(
        ("in_operation", "是否存续", False),
        ("abnormal_operation", "是否列入经营异常名录", False),
        ("employees", "参保职工人数", False),
    ),
)

#: The record types every synthetic region serves.
RECORD_TYPES: Final[tuple[SyntheticRecordType, ...]] = (
    HOUSEHOLD_REGISTRATION,
    SOCIAL_INSURANCE,
    ENTERPRISE_STANDING,
)


# --- population -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SyntheticResident:
    resident_id: str
    name: str
    gender: str  # "男" / "女", from the parity of the sequence number
    birth_date: date
    division: str
    address: str


@dataclass(frozen=True)
class SyntheticCompany:
    credit_code: str
    name: str
    division: str
    legal_representative: str  # a resident id of the same region
    established_on: date
    address: str


@dataclass(frozen=True)
class SyntheticCertificate:
    """One certificate in the shared vocabulary; each sandbox renders it natively."""

    certificate_id: str
    type_code: str
    type_name: str
    number: str
    issuer_name: str
    issuer_code: str
    issued_on: date
    holder_name: str
    holder_code: str
    holder_type: HolderType
    valid_from: date
    valid_until: date | None
    status: CertificateStatus
    data: Mapping[str, str]


@dataclass(frozen=True)
class SyntheticRecord:
    record_type: str
    subject_code: str
    subject_type: HolderType
    as_of: datetime
    fields: Mapping[str, Value]


@dataclass(frozen=True)
class RegionData:
    """Everything one region's platform holds."""

    region: str
    agencies: Mapping[str, Agency]
    residents: tuple[SyntheticResident, ...]
    companies: tuple[SyntheticCompany, ...]
    certificates: tuple[SyntheticCertificate, ...]
    records: tuple[SyntheticRecord, ...]
    _by_id: Mapping[str, SyntheticCertificate] = field(
        repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        index = {c.certificate_id: c for c in self.certificates}
        object.__setattr__(self, "_by_id", MappingProxyType(index))

    def certificate(self, certificate_id: str) -> SyntheticCertificate | None:
        return self._by_id.get(certificate_id)

    def certificates_of(self, holder_code: str) -> tuple[SyntheticCertificate, ...]:
        return tuple(c for c in self.certificates if c.holder_code == holder_code)

    def find(self, holder_code: str, type_code: str) -> SyntheticCertificate | None:
        for cert in self.certificates:
            if cert.holder_code == holder_code and cert.type_code == type_code:
                return cert
        return None

    def record(self, record_type: str, subject_code: str) -> SyntheticRecord | None:
        for rec in self.records:
            if rec.record_type == record_type and rec.subject_code == subject_code:
                return rec
        return None


@dataclass(frozen=True)
class Population:
    """The synthetic data of all four regions for one seed."""

    seed: int
    regions: Mapping[str, RegionData]

    def region(self, code: str) -> RegionData:
        return self.regions[code]

    def certificate(self, certificate_id: str) -> SyntheticCertificate | None:
        for data in self.regions.values():
            found = data.certificate(certificate_id)
            if found is not None:
                return found
        return None


def _local_divisions(region: str) -> list[str]:
    prefix = region[:2]
    return sorted(c for c in DIVISIONS if c.startswith(prefix) and c != region)


def _random_date(rng: random.Random, first_year: int, last_year: int) -> date:
    start = date(first_year, 1, 1).toordinal()
    end = date(last_year, 12, 31).toordinal()
    return date.fromordinal(rng.randint(start, end))


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _regional_agencies(region: str) -> dict[str, Agency]:
    base = int(region[:2]) * 1000
    short = REGIONS[region]
    return {
        "public_security": Agency(f"{short}公安厅（测试）", agency_credit_code(region, base + 1)),
        "civil_affairs": Agency(f"{short}民政厅（测试）", agency_credit_code(region, base + 2)),
        "market": Agency(f"{short}市场监督管理局（测试）", agency_credit_code(region, base + 3)),
    }


def _residents(rng: random.Random, region: str, count: int) -> list[SyntheticResident]:
    short = REGIONS[region]
    divisions = _local_divisions(region)
    seen: set[str] = set()
    people: list[SyntheticResident] = []
    while len(people) < count:
        division = rng.choice(divisions)
        born = _random_date(rng, 1850, 1869)
        sequence = rng.randint(900, 999)
        first17 = f"{division}{born:%Y%m%d}{sequence:03d}"
        resident_id = first17 + compute_resident_check(first17)
        if resident_id in seen:
            continue
        seen.add(resident_id)
        index = len(people)
        name = f"测试{short}{_STEMS[index % 10]}{_BRANCHES[(index // 10 + index) % 12]}"
        people.append(
            SyntheticResident(
                resident_id=resident_id,
                name=name,
                gender="男" if sequence % 2 else "女",
                birth_date=born,
                division=division,
                address=f"{DIVISIONS[division]}测试路{rng.randint(1, 999)}号",
            )
        )
    return people


def _companies(
    rng: random.Random, region: str, count: int, residents: list[SyntheticResident]
) -> list[SyntheticCompany]:
    divisions = _local_divisions(region)
    companies: list[SyntheticCompany] = []
    for index in range(count):
        division = rng.choice(divisions)
        companies.append(
            SyntheticCompany(
                credit_code=company_credit_code(division, int(region[:2]) * 1000 + index + 1),
                name=f"测试样例{_STEMS[index % 10]}{REGIONS[region]}科技有限公司",
                division=division,
                legal_representative=residents[index % len(residents)].resident_id,
                established_on=_random_date(rng, 2010, 2023),
                address=f"{DIVISIONS[division]}样例大道{rng.randint(1, 999)}号",
            )
        )
    return companies


class _CertificateFactory:
    def __init__(self, rng: random.Random, region: str, agencies: Mapping[str, Agency]) -> None:
        self._rng = rng
        self._region = region
        self._agencies = agencies
        self._serial = 0
        self.made: list[SyntheticCertificate] = []

    def make(
        self,
        ctype: SyntheticCertificateType,
        *,
        number: str,
        holder_name: str,
        holder_code: str,
        data: dict[str, str],
        issued_on: date | None = None,
    ) -> SyntheticCertificate:
        self._serial += 1
        issuer = self._agencies[ctype.issuer_kind]
        serial = f"T{self._region[:2]}{self._serial:06d}"
        issued = issued_on or _random_date(self._rng, 2021, 2025)
        until = _add_years(issued, ctype.validity_years) if ctype.validity_years else None
        if set(data) != {f[0] for f in ctype.fields}:
            raise ValueError(f"synthetic data for {ctype.name} does not match its fields")
        cert = SyntheticCertificate(
            certificate_id=certificate_identifier(ctype.type_code, issuer.credit_code, serial),
            type_code=ctype.type_code,
            type_name=ctype.name,
            number=number,
            issuer_name=issuer.name,
            issuer_code=issuer.credit_code,
            issued_on=issued,
            holder_name=holder_name,
            holder_code=holder_code,
            holder_type=ctype.holder_type,
            valid_from=issued,
            valid_until=until,
            status=CertificateStatus.VALID,
            data=MappingProxyType(data),
        )
        self.made.append(cert)
        return cert


def _region_data(seed: int, region: str, residents_count: int, companies_count: int) -> RegionData:
    rng = random.Random(f"deltafed-synthetic:{seed}:{region}")  # noqa: S311 - test data only
    agencies = _regional_agencies(region)
    residents = _residents(rng, region, residents_count)
    companies = _companies(rng, region, companies_count, residents)
    factory = _CertificateFactory(rng, region, agencies)
    records: list[SyntheticRecord] = []
    for index, person in enumerate(residents):
        factory.make(
            IDENTITY_CARD,
            number=person.resident_id,
            holder_name=person.name,
            holder_code=person.resident_id,
            data={
                "name": person.name,
                "gender": person.gender,
                "birth_date": person.birth_date.isoformat(),
                "address": person.address,
            },
        )
        head = residents[index - index % 2]  # residents live in pairs; the first is the head
        factory.make(
            HOUSEHOLD_REGISTER,
            number=f"HK{region[:2]}{rng.randint(0, 99_999_999):08d}",
            holder_name=person.name,
            holder_code=person.resident_id,
            data={
                "name": person.name,
                "household_head": head.name,
                "relation": "户主" if head is person else "配偶",
                "address": head.address,
            },
        )
        if index % 2 == 0:
            first = _random_date(rng, 2000, 2015)
            factory.make(
                DRIVING_LICENCE,
                number=person.resident_id,
                holder_name=person.name,
                holder_code=person.resident_id,
                data={
                    "name": person.name,
                    "licence_class": rng.choice(("C1", "C2", "B1")),
                    "first_issued_on": first.isoformat(),
                },
            )
        if index % 2 == 1:
            spouse = residents[index - 1]
            married = _random_date(rng, 2021, 2025)
            for one, other in ((person, spouse), (spouse, person)):
                factory.make(
                    MARRIAGE_CERTIFICATE,
                    number=f"J{region[:2]}{rng.randint(0, 9_999_999):07d}",
                    holder_name=one.name,
                    holder_code=one.resident_id,
                    data={
                        "name": one.name,
                        "spouse_name": other.name,
                        "registered_on": married.isoformat(),
                    },
                    issued_on=married,
                )
        employer = companies[index % len(companies)] if companies else None
        records.append(
            SyntheticRecord(
                record_type=HOUSEHOLD_REGISTRATION.code,
                subject_code=person.resident_id,
                subject_type=HolderType.RESIDENT,
                as_of=_RECORDS_AS_OF,
                fields=MappingProxyType(
                    {
                        "registered_division": person.division,
                        "registered_since": _random_date(rng, 1990, 2020).isoformat(),
                        "is_household_head": head is person,
                        "household_size": 2 if index + 1 < len(residents) or index % 2 else 1,
                    }
                ),
            )
        )
        insured = index % 3 != 2
        records.append(
            SyntheticRecord(
                record_type=SOCIAL_INSURANCE.code,
                subject_code=person.resident_id,
                subject_type=HolderType.RESIDENT,
                as_of=_RECORDS_AS_OF,
                fields=MappingProxyType(
                    {
                        "insured": insured,
                        "months_paid": rng.randint(12, 360) if insured else 0,
                        "last_paid_month": "2025-12" if insured else None,
                        "employer_credit_code": employer.credit_code
                        if insured and employer
                        else None,
                    }
                ),
            )
        )
    for index, company in enumerate(companies):
        representative = next(r for r in residents if r.resident_id == company.legal_representative)
        factory.make(
            BUSINESS_LICENCE,
            number=company.credit_code,
            holder_name=company.name,
            holder_code=company.credit_code,
            data={
                "company_name": company.name,
                "legal_representative": representative.name,
                "registered_capital": f"{rng.choice((10, 50, 100, 500))}万元人民币",
                "established_on": company.established_on.isoformat(),
                "address": company.address,
            },
            issued_on=company.established_on,
        )
        records.append(
            SyntheticRecord(
                record_type=ENTERPRISE_STANDING.code,
                subject_code=company.credit_code,
                subject_type=HolderType.ORGANISATION,
                as_of=_RECORDS_AS_OF,
                fields=MappingProxyType(
                    {
                        "in_operation": True,
                        "abnormal_operation": index == 2,
                        "employees": rng.randint(3, 300),
                    }
                ),
            )
        )
    return RegionData(
        region=region,
        agencies=MappingProxyType(agencies),
        residents=tuple(residents),
        companies=tuple(companies),
        certificates=tuple(factory.made),
        records=tuple(records),
    )


@lru_cache(maxsize=16)
def synthetic_population(
    seed: int = DEFAULT_SEED, *, residents_per_region: int = 6, companies_per_region: int = 3
) -> Population:
    """The synthetic data of the four Delta regions for ``seed`` (cached, immutable)."""
    if residents_per_region < 2 or companies_per_region < 1:
        raise ConfigurationError("need at least two residents and one company per region")
    if residents_per_region > 100 or companies_per_region > 100:
        raise ConfigurationError("at most 100 residents and 100 companies per region")
    regions = {
        code: _region_data(seed, code, residents_per_region, companies_per_region)
        for code in REGIONS
    }
    return Population(seed=seed, regions=MappingProxyType(regions))


# --- in the shared schemas ------------------------------------------------------------------


def _field_specs(triples: tuple[tuple[str, str, bool], ...]) -> tuple[FieldSpec, ...]:
    return tuple(FieldSpec(name=n, title=t, personal=p) for n, t, p in triples)


@lru_cache(maxsize=8)
def synthetic_catalogue(region: str) -> Catalogue:
    """The catalogue every synthetic region publishes: :data:`CERTIFICATE_TYPES` and
    :data:`RECORD_TYPES`, in the shared field names."""
    return Catalogue(
        region=region,
        certificate_types=tuple(
            CertificateType(
                type_code=t.type_code,
                name=t.name,
                region=region,
                holder_types=(t.holder_type,),
                fields=_field_specs(t.fields),
            )
            for t in CERTIFICATE_TYPES
        ),
        record_types=tuple(
            RecordType(
                code=t.code,
                name=t.name,
                region=region,
                subject_types=(t.subject_type,),
                fields=_field_specs(t.fields),
            )
            for t in RECORD_TYPES
        ),
    )


def synthetic_metadata(
    cert: SyntheticCertificate, status: CertificateStatus | None = None
) -> CertificateMetadata:
    """A synthetic certificate's metadata in the shared schema."""
    return CertificateMetadata(
        name=cert.type_name,
        type_code=cert.type_code,
        number=cert.number,
        identifier=cert.certificate_id,
        issuer_name=cert.issuer_name,
        issuer_code=cert.issuer_code,
        issued_on=cert.issued_on,
        holder_name=cert.holder_name,
        holder_type=cert.holder_type,
        holder_code=cert.holder_code,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
        status=status if status is not None else cert.status,
    )
