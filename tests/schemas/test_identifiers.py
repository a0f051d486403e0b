"""National identifiers: check characters (property tests), DOMAIN.md vectors, member ids."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltafed import IdentifierError
from deltafed.schemas.identifiers import (
    CREDIT_CODE_CHARSET,
    DIVISIONS,
    MemberId,
    certificate_type_of,
    compute_certificate_check,
    compute_credit_check,
    compute_organisation_check,
    compute_resident_check,
    division_name,
    parse_certificate_id,
    parse_certificate_type_code,
    parse_credit_code,
    parse_division_code,
    parse_holder_code,
    parse_member_id,
    parse_resident_id,
    province_of,
)

ALNUM36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
PROPERTY = settings(max_examples=60, deadline=None)

# --- generators: random bodies, check characters computed -------------------------------------

divisions = st.sampled_from(sorted(DIVISIONS))
birth_dates = st.dates(min_value=date(1800, 1, 1), max_value=date(2099, 12, 31))
sequences = st.integers(min_value=0, max_value=999).map(lambda n: f"{n:03d}")


@st.composite
def resident_ids(draw: st.DrawFn) -> str:
    body = draw(divisions) + draw(birth_dates).strftime("%Y%m%d") + draw(sequences)
    return body + compute_resident_check(body)


credit_chars = st.sampled_from(CREDIT_CODE_CHARSET)


@st.composite
def credit_codes(draw: st.DrawFn) -> str:
    head = draw(credit_chars) + draw(credit_chars)
    division = "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=6, max_size=6)))
    org = "".join(draw(st.lists(credit_chars, min_size=8, max_size=8)))
    body = head + division + org + compute_organisation_check(org)
    return body + compute_credit_check(body)


@st.composite
def certificate_ids(draw: st.DrawFn) -> str:
    type_code = draw(credit_codes()) + draw(sequences)
    issuer = draw(credit_codes())
    serial = draw(st.text(alphabet=ALNUM36, min_size=1, max_size=16))
    version = draw(sequences)
    check = compute_certificate_check(type_code, issuer, serial, version)
    return f"1.2.156.3005.2.{type_code}.{issuer}.{serial}.{version}.{check}"


def substitutions(value: str, positions: list[int], alphabet: str) -> list[str]:
    """Every string that differs from ``value`` in exactly one of ``positions``."""
    return [value[:i] + c + value[i + 1 :] for i in positions for c in alphabet if c != value[i]]


# --- resident identity number (ISO 7064 MOD 11-2) ---------------------------------------------


@PROPERTY
@given(resident_ids())
def test_every_generated_resident_id_is_accepted(value: str) -> None:
    assert parse_resident_id(value) == value
    if value.endswith("X"):
        assert parse_resident_id(value.lower()) == value


@PROPERTY
@given(resident_ids())
def test_every_single_substitution_of_a_resident_id_is_rejected(value: str) -> None:
    for bad in substitutions(value, list(range(18)), "0123456789X"):
        with pytest.raises(IdentifierError):
            parse_resident_id(bad)


@pytest.mark.parametrize("value", ["11010519491231002X", "440524188001010014"])
def test_resident_vectors_valid(value: str) -> None:
    assert parse_resident_id(value) == value


def test_resident_vectors_invalid_and_lowercase_x() -> None:
    with pytest.raises(IdentifierError) as info:
        parse_resident_id("110101197608056896")
    assert info.value.field == "resident_id"
    assert "check" in info.value.message
    assert parse_resident_id("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize(
    ("born", "why"),
    [("19990230", "not a real date"), ("20011301", "not a real date"), ("17991231", "1800")],
)
def test_resident_bad_birth_date(born: str, why: str) -> None:
    body = "310104" + born + "123"
    with pytest.raises(IdentifierError, match=why):
        parse_resident_id(body + compute_resident_check(body))


def test_resident_unknown_division_and_shape() -> None:
    body = "990104" + "19900307" + "123"
    with pytest.raises(IdentifierError, match="province"):
        parse_resident_id(body + compute_resident_check(body))
    for bad in ["", "3101041990030712", "31010419900307123XX", "31010419900307123Y", 31010419]:
        with pytest.raises(IdentifierError):
            parse_resident_id(bad)  # type: ignore[arg-type]


# --- unified social credit code (GB 32100, MOD 31) --------------------------------------------


@PROPERTY
@given(credit_codes())
def test_every_generated_credit_code_is_accepted(value: str) -> None:
    assert parse_credit_code(value) == value
    assert parse_credit_code(value.lower()) == value


@PROPERTY
@given(credit_codes())
def test_every_single_substitution_of_a_credit_code_is_rejected(value: str) -> None:
    for bad in substitutions(value, list(range(18)), CREDIT_CODE_CHARSET):
        with pytest.raises(IdentifierError):
            parse_credit_code(bad)


def test_credit_code_vectors() -> None:
    assert parse_credit_code("91350100M000100Y43") == "91350100M000100Y43"
    with pytest.raises(IdentifierError) as info:
        parse_credit_code("91350100M000100Y4Z")
    assert info.value.field == "credit_code"
    for bad in ["91350100M000100Y4", "91350100M000100I43", "9135A100M000100Y43", "", None]:
        with pytest.raises(IdentifierError):
            parse_credit_code(bad)  # type: ignore[arg-type]


# --- electronic certificate identifier (GB/T 36904, MOD 37,36) -------------------------------

DOMAIN_CERT_ID = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"


@settings(max_examples=25, deadline=None)
@given(certificate_ids())
def test_every_generated_certificate_id_is_accepted(value: str) -> None:
    assert parse_certificate_id(value) == value
    assert certificate_type_of(value) == value.split(".")[5]


@settings(max_examples=25, deadline=None)
@given(certificate_ids())
def test_every_single_substitution_of_a_certificate_id_is_rejected(value: str) -> None:
    root = len("1.2.156.3005.2.")
    positions = [i for i, c in enumerate(value) if i >= root and c != "."]
    for bad in substitutions(value, positions, ALNUM36):
        with pytest.raises(IdentifierError):
            parse_certificate_id(bad)


def _mod37_36_reference(body: str) -> str:
    # ISO 7064 MOD 37,36 as the standard writes it, one character at a time.
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    p = 36
    for char in body:
        s = (p + alphabet.index(char)) % 36
        p = (2 * (s if s else 36)) % 37
    return alphabet[(37 - p) % 36]


@settings(max_examples=400)
@given(
    st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=120),
    st.integers(min_value=0, max_value=120),
)
def test_certificate_check_is_iso_7064_mod_37_36(body: str, cut: int) -> None:
    # The parts are concatenated: where they are cut does not matter.
    head, tail = body[:cut], body[cut:]
    assert compute_certificate_check(head, tail, "", "") == _mod37_36_reference(body)


@pytest.mark.parametrize("body", ["", "abc", "A-B", "Ａ1", "12 3"])
def test_certificate_check_refuses_other_characters(body: str) -> None:
    with pytest.raises(IdentifierError):
        compute_certificate_check(body, "", "", "")


def test_certificate_id_vector_and_malformed() -> None:
    assert parse_certificate_id(DOMAIN_CERT_ID) == DOMAIN_CERT_ID
    assert certificate_type_of(DOMAIN_CERT_ID) == "11100000000013338W032"
    for bad in [
        DOMAIN_CERT_ID[:-1] + "G",
        DOMAIN_CERT_ID.replace("1.2.156.3005.2.", "1.2.156.3005.3."),
        DOMAIN_CERT_ID.lower(),
        DOMAIN_CERT_ID.replace(".001.", ".01."),
        DOMAIN_CERT_ID + "0" * 200,
    ]:
        with pytest.raises(IdentifierError) as info:
            parse_certificate_id(bad)
        assert info.value.field == "certificate_id"


def test_certificate_type_code() -> None:
    assert parse_certificate_type_code("11100000000013338w032") == "11100000000013338W032"
    for bad in ["11100000000013338W03", "11100000000013338W0321", "11100000000013338X032"]:
        with pytest.raises(IdentifierError) as info:
            parse_certificate_type_code(bad)
        assert info.value.field == "type_code"


# --- divisions, holder codes, member ids -------------------------------------------------------


def test_division_codes() -> None:
    assert parse_division_code("310104") == "310104"
    assert division_name("320000") == "江苏省"
    assert province_of("330106") == "330000"
    for bad in ["999999", "31010", "abcdef"]:
        with pytest.raises(IdentifierError) as info:
            parse_division_code(bad)
        assert info.value.field == "division_code"
    with pytest.raises(IdentifierError):
        province_of("31x")


def test_holder_codes_follow_their_type() -> None:
    assert parse_holder_code("31010419900307123x", "111") == "31010419900307123X"
    assert parse_holder_code("91350100M000100Y43", "001") == "91350100M000100Y43"
    for value, kind in [("91350100M000100Y43", "111"), ("31010419900307123X", "001"), ("x", "9")]:
        with pytest.raises(IdentifierError) as info:
            parse_holder_code(value, kind)
        assert info.value.field == "holder_code"


def test_member_ids() -> None:
    m = parse_member_id("320000/gongan/hukou")
    assert isinstance(m, MemberId)
    assert (m.region, m.department, m.system) == ("320000", "gongan", "hukou")
    assert m.organisation == "320000/gongan"
    assert m.organisation.system is None
    org = parse_member_id("310000/scjg")
    assert org.system is None
    assert org.organisation == org
    assert MemberId.of("340000", "rsj", "sbk") == "340000/rsj/sbk"
    assert MemberId.of("340000", "rsj") == "340000/rsj"
    for bad in [
        "320000",
        "320100/gongan",  # not a province-level region
        "990000/gongan",
        "320000/GongAn",
        "320000/gongan/",
        "320000/gongan/hukou/extra",
        "320000/-gongan",
        "320000/" + "a" * 130,
        "",
    ]:
        with pytest.raises(IdentifierError) as info:
            parse_member_id(bad)
        assert info.value.field == "member_id"
    with pytest.raises(IdentifierError):
        MemberId.of("320000", "Bad")
