"""deltafed._limits: the one size-limited body reader and the one loopback check."""

from __future__ import annotations

import pytest

from deltafed import AdapterDataError, SizeLimitError
from deltafed._limits import LimitedBody, is_loopback_host


def test_a_body_at_the_limit_is_kept_whole() -> None:
    body = LimitedBody(6)
    for chunk in (b"abc", b"", b"def"):
        body.add(chunk)
    assert body.bytes() == b"abcdef"


def test_one_byte_over_the_limit_is_refused_as_it_arrives() -> None:
    body = LimitedBody(5)
    body.add(b"abc")
    with pytest.raises(SizeLimitError) as info:
        body.add(b"def")
    assert "5 bytes" in info.value.message


def test_the_caller_chooses_the_error() -> None:
    body = LimitedBody(2, too_large=lambda n: AdapterDataError(f"native response exceeds {n}"))
    with pytest.raises(AdapterDataError, match="exceeds 2"):
        body.add(b"abc")


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("10.0.0.1", False),
        ("example.test", False),
        ("localhost.example.test", False),
        ("", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback_host(host) is loopback
