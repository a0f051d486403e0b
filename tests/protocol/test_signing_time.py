"""Which time a key must be valid at (protocol §1): the signing time the message states."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from deltafed import FixedClock, KeyNotValidError, MalformedMessageError
from deltafed.keys import PrivateKey, StaticKeyResolver, Verifier
from deltafed.protocol import ProtocolVerifier, new_request, sign_request

from .conftest import JIANGSU, SHANGHAI, seeded

WINDOW_END = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)


class WindowedResolver:
    """Shanghai's key is valid until WINDOW_END; records the times it was asked about."""

    def __init__(self, key: PrivateKey) -> None:
        self.inner = StaticKeyResolver({SHANGHAI: [key.public_key]})
        self.asked: list[datetime] = []

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier:
        self.asked.append(at)
        if at >= WINDOW_END:
            raise KeyNotValidError(f"key {kid} is valid until {WINDOW_END.isoformat()}")
        return self.inner.resolve(member, kid, at)


def _request(key: PrivateKey, issued: datetime) -> bytes:
    claims = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="certificate.verify",
        target="11100000000013338W032",
        scenario="kuasheng",
        body={"use_cause": "rotation"},
        now=issued,
    )
    return sign_request(claims, key)


def test_a_message_signed_inside_the_window_verifies_after_it_closed() -> None:
    key = seeded("shanghai")
    resolver = WindowedResolver(key)
    signed = WINDOW_END - timedelta(seconds=10)
    verifier = ProtocolVerifier(
        resolver, JIANGSU, clock=FixedClock(WINDOW_END + timedelta(seconds=20)), replay=None
    )
    verifier.verify_request(_request(key, signed))
    assert resolver.asked == [signed]  # the stated iat, not the verifier's clock


def test_a_message_signed_after_the_window_is_refused_whatever_the_clock() -> None:
    key = seeded("shanghai")
    signed = WINDOW_END + timedelta(seconds=1)
    verifier = ProtocolVerifier(
        WindowedResolver(key),
        JIANGSU,
        clock=FixedClock(WINDOW_END - timedelta(seconds=30)),
        replay=None,
    )
    with pytest.raises(KeyNotValidError):
        verifier.verify_request(_request(key, signed))


def test_an_iat_that_is_not_epoch_seconds_is_refused_before_the_key_lookup() -> None:
    key = seeded("shanghai")
    resolver = WindowedResolver(key)
    verifier = ProtocolVerifier(resolver, JIANGSU, clock=FixedClock(WINDOW_END), replay=None)
    from deltafed.protocol._json import canonical_bytes
    from deltafed.protocol._jws import encode_compact

    wire = new_request(
        issuer=SHANGHAI,
        audience=JIANGSU,
        operation="certificate.verify",
        target="11100000000013338W032",
        scenario="kuasheng",
        body={"use_cause": "rotation"},
        now=WINDOW_END,
    ).to_wire()
    raw = encode_compact("deltafed-request+jws", canonical_bytes({**wire, "iat": -5}), key)
    with pytest.raises(MalformedMessageError) as caught:
        verifier.verify_request(raw)
    assert caught.value.field == "iat"
    assert resolver.asked == []
