"""deltafed._canonical: the fast encoder gives exactly the RFC 8785 bytes, and refuses what the
wire does not allow."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from deltafed import InvalidInputError
from deltafed._canonical import canonicalize, sha256_digest

# Strings that cross the interesting boundaries: ASCII, controls, CJK, full-width punctuation,
# the private use area at U+E000 and characters beyond the BMP (surrogate pairs in UTF-16).
_text = st.text(
    alphabet=st.one_of(
        st.characters(min_codepoint=0, max_codepoint=0x7F),
        st.sampled_from("测试（）〇、。\u2028\u2029\ue000\uffef😀𠀀"),
    ),
    max_size=8,
)
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
    ],
)
def test_what_the_wire_refuses(value: Any) -> None:
    with pytest.raises(InvalidInputError):
        canonicalize(value)


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
