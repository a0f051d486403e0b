"""The synthetic population: deterministic, valid, and never plausibly a real person."""

from __future__ import annotations

import pytest

from deltafed import ConfigurationError
from deltafed.adapters._synthetic import CERTIFICATE_TYPES, REGIONS, synthetic_metadata
from deltafed.schemas.identifiers import (
    parse_certificate_id,
    parse_certificate_type_code,
    parse_credit_code,
    parse_resident_id,
)
from deltafed.testing import synthetic_catalogue, synthetic_population

POP = synthetic_population()


def test_same_seed_same_data_and_other_seed_other_data() -> None:
    synthetic_population.cache_clear()
    again = synthetic_population()
    assert again is not POP
    assert again == POP
    other = synthetic_population(7)
    assert other.region("320000").residents != POP.region("320000").residents


def test_every_region_is_populated() -> None:
    assert set(POP.regions) == {"310000", "320000", "330000", "340000"}
    for region, data in POP.regions.items():
        assert len(data.residents) == 6
        assert len(data.companies) == 3
        assert {c.type_code for c in data.certificates} == {t.type_code for t in CERTIFICATE_TYPES}
        assert {r.record_type for r in data.records} == {
            "household_registration",
            "social_insurance",
            "enterprise_standing",
        }
        assert synthetic_catalogue(region).region == region


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_identifiers_are_valid_and_follow_the_synthetic_rules(region: str) -> None:
    data = POP.region(region)
    for person in data.residents:
        assert parse_resident_id(person.resident_id) == person.resident_id
        assert person.resident_id[:2] == region[:2]
        assert 1850 <= person.birth_date.year <= 1869
        assert 900 <= int(person.resident_id[14:17]) <= 999
        assert person.name.startswith("测试")
    for company in data.companies:
        assert parse_credit_code(company.credit_code) == company.credit_code
        assert company.credit_code[8:10] == "YY"
        assert company.name.startswith("测试样例")
    for cert in data.certificates:
        assert parse_certificate_id(cert.certificate_id) == cert.certificate_id
        parse_certificate_type_code(cert.type_code)
        assert cert.issuer_code[8:10] == "YG"
        assert cert.issuer_code[2:4] == region[:2]
        assert cert.certificate_id.split(".")[7].startswith("T")
        meta = synthetic_metadata(cert)
        assert meta.identifier == cert.certificate_id
        ctype = synthetic_catalogue(region).certificate_type(cert.type_code)
        assert ctype is not None
        assert set(cert.data) == {f.name for f in ctype.fields}


def test_identifiers_are_unique_across_regions() -> None:
    ids = [c.certificate_id for d in POP.regions.values() for c in d.certificates]
    people = [r.resident_id for d in POP.regions.values() for r in d.residents]
    assert len(ids) == len(set(ids))
    assert len(people) == len(set(people))
    assert POP.certificate(ids[-1]) is not None


def test_size_limits() -> None:
    with pytest.raises(ConfigurationError):
        synthetic_population(residents_per_region=1)
    with pytest.raises(ConfigurationError):
        synthetic_population(companies_per_region=101)
    big = synthetic_population(3, residents_per_region=40, companies_per_region=5)
    assert len(big.region("310000").residents) == 40
