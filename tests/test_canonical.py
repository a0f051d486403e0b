"""deltafed._canonical: the fast encoder gives exactly the RFC 8785 bytes, and refuses what the
wire does not allow."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from deltafed import InvalidInputError
from deltafed._canonical import canonicalize, encode_checked, sha256_digest
from deltafed.schemas.identifiers import MemberId

# Strings that cross the interesting boundaries: ASCII, controls, CJK, full-width punctuation,
# the private use area at U+E000 and characters beyond the BMP (surrogate pairs in UTF-16).
_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x7F),
        st.sampled_from("测试（）〇、。\u2028\u2029\ue000\uffef😀𠀀"),
    ),
    max_size=8,
)


class _Colour(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class _Point:
    x: int
    y: int


_ints = st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
_json = st.recursive(
    st.none() | st.booleans() | _ints | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=600, deadline=None)
@given(_json)
def test_same_bytes_as_the_reference_encoder(value: Any) -> None:
    assert canonicalize(value) == rfc8785.dumps(value)


@settings(max_examples=300, deadline=None)
@given(_json)
def test_the_unchecked_encoder_gives_the_same_bytes(value: Any) -> None:
    assert encode_checked(value) == rfc8785.dumps(value)


def test_str_subclasses_as_member_names_and_values() -> None:
    # orjson takes only exact str keys on its fast path; a MemberId key takes the other one.
    member = MemberId.parse("310000/shzwfw/yitongban")
    value = {member: member, "a": [member]}
    expected = (
        b'{"310000/shzwfw/yitongban":"310000/shzwfw/yitongban","a":["310000/shzwfw/yitongban"]}'
    )
    assert canonicalize(value) == expected
    assert encode_checked(value) == expected


def test_control_characters_are_escaped_as_rfc8785_says() -> None:
    value = {"s": '\x00\x08\t\n\x0b\x0c\r\x1f\x7f"\\/\u2028é'}
    assert encode_checked(value) == rfc8785.dumps(value)
    assert (
        encode_checked(value)
        == b'{"s":"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\x7f\\"\\\\/\xe2\x80\xa8\xc3\xa9"}'
    )


def test_member_names_are_ordered_by_utf16_code_units() -> None:
    # By code point U+E000 sorts before U+1F600; by UTF-16 code unit the surrogate D83D sorts
    # before E000. RFC 8785 wants the latter.
    value = {"\ue000": 1, "😀": 2}
    assert canonicalize(value) == '{"😀":2,"\ue000":1}'.encode()


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        {"a": [1, 2.0]},
        2**53,
        -(2**53),
        {1: "non-string key"},
        "\ud800",  # a lone surrogate cannot be UTF-8
        object(),
        # not JSON values, though a JSON library might write them as text
        uuid.UUID(int=1),
        datetime.date(2026, 1, 1),
        datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC),
        _Colour.RED,
        _Point(1, 2),
        b"bytes",
    ],
)
def test_what_the_wire_refuses(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        canonicalize(value)
    with pytest.raises(InvalidInputError):
        canonicalize({"member": [value]})


@pytest.mark.parametrize(
    "value", ["\ud800", 2**64, datetime.date(2026, 1, 1), _Point(1, 2), object(), {"k": b"x"}]
)
def test_the_unchecked_encoder_refuses_what_it_cannot_write(value: Any) -> None:
    with pytest.raises(InvalidInputError, match="cannot be canonicalised"):
        encode_checked(value)


def test_nesting_is_bounded() -> None:
    value: Any = "leaf"
    for _ in range(40):
        value = [value]
    with pytest.raises(InvalidInputError, match="nested deeper"):
        canonicalize(value)


def test_digest_format() -> None:
    assert sha256_digest(b"") == (
        "sha-256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
