"""sign_registry / verify_registry: thresholds, malformed files, interoperability."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from deltafed import (
    DeltafedError,
    RegistryInvalidError,
    SchemaValidationError,
    SizeLimitError,
    ThresholdNotMetError,
    TrustError,
)
from deltafed.keys import b64url_decode, b64url_encode
from deltafed.registry import (
    REGISTRY_TYP,
    AnchorKeys,
    RegistryDocument,
    TrustedRegistry,
    add_signatures,
    parse_signed_registry,
    sign_registry,
    verify_registry,
)


def test_round_trip(world: Any) -> None:
    doc = world.doc()
    data = world.signed(doc)
    assert verify_registry(data, world.anchor()) == doc


def test_payload_is_canonical_and_headers_exact(world: Any) -> None:
    data = world.signed(world.doc(), (0, 1))
    outer = json.loads(data)
    assert set(outer) == {"payload", "signatures"}
    for sig in outer["signatures"]:
        header = json.loads(b64url_decode(sig["protected"]))
        assert header == {"alg": "EdDSA", "kid": header["kid"], "typ": REGISTRY_TYP}
    kids = [json.loads(b64url_decode(s["protected"]))["kid"] for s in outer["signatures"]]
    assert kids == [world.anchor_keys[0].kid, world.anchor_keys[1].kid]


# Each row: name, anchor key indices, threshold, signer indices, expected outcome, why.
THRESHOLD_CASES = [
    ("1of1", (0,), 1, (0,), None, "the single anchor key signed"),
    ("2of3-two", (0, 1, 2), 2, (0, 2), None, "two distinct anchor keys reach 2"),
    ("2of3-all", (0, 1, 2), 2, (0, 1, 2), None, "more signatures than needed is fine"),
    ("2of3-one", (0, 1, 2), 2, (1,), ThresholdNotMetError, "one signature is below 2"),
    ("3of3-two", (0, 1, 2), 3, (0, 1), ThresholdNotMetError, "threshold increase not met"),
    ("unknown-only", (0,), 1, (3,), ThresholdNotMetError, "a key outside the anchor counts 0"),
    ("unknown-plus-one", (0, 1), 2, (0, 3), ThresholdNotMetError, "unknown kid is ignored"),
    ("unknown-ignored", (0,), 1, (4, 0), None, "an extra unknown signature does not hurt"),
]


@pytest.mark.parametrize(
    ("anchor_idx", "threshold", "signer_idx", "expected", "why"),
    [row[1:] for row in THRESHOLD_CASES],
    ids=[row[0] for row in THRESHOLD_CASES],
)
def test_threshold(
    world: Any,
    anchor_idx: tuple[int, ...],
    threshold: int,
    signer_idx: tuple[int, ...],
    expected: type[Exception] | None,
    why: str,
) -> None:
    anchor = world.anchor(anchor_idx, threshold)
    data = world.signed(world.doc(anchor=anchor), signer_idx)
    if expected is None:
        assert verify_registry(data, anchor).anchor == anchor, why
    else:
        with pytest.raises(expected):
            verify_registry(data, anchor)


def test_duplicate_signatures_by_one_key_count_once(world: Any) -> None:
    anchor = world.anchor((0, 1), 2)
    data = world.signed(world.doc(anchor=anchor), (0,))
    outer = json.loads(data)
    outer["signatures"] = outer["signatures"] * 2
    with pytest.raises(ThresholdNotMetError):
        verify_registry(json.dumps(outer).encode(), anchor)


def test_sign_refuses_the_same_key_twice(world: Any) -> None:
    with pytest.raises(RegistryInvalidError):
        sign_registry(world.doc(), world.signers((0, 0)))


def test_add_signatures_reaches_threshold(world: Any) -> None:
    anchor = world.anchor((0, 1, 2), 2)
    first = world.signed(world.doc(anchor=anchor), (0,))
    with pytest.raises(ThresholdNotMetError):
        verify_registry(first, anchor)
    both = add_signatures(first, world.signers((0, 2)))  # 0 already signed: skipped
    assert parse_signed_registry(both).kids == (world.anchor_keys[0].kid, world.anchor_keys[2].kid)
    assert verify_registry(both, anchor).version == 1


def _mutate_json(data: bytes, change: Callable[[dict[str, Any]], None]) -> bytes:
    outer = json.loads(data)
    change(outer)
    return json.dumps(outer).encode()


def _flip(text: str, at: int) -> str:
    c = text[at]
    return text[:at] + ("A" if c != "A" else "B") + text[at + 1 :]


def _resign_payload(world: Any, payload: bytes) -> bytes:
    """A file whose (bad) payload carries a perfectly valid anchor signature."""
    payload_b64 = b64url_encode(payload)
    header = b64url_encode(
        json.dumps(
            {"alg": "EdDSA", "kid": world.anchor_keys[0].kid, "typ": REGISTRY_TYP},
            separators=(",", ":"),
        ).encode()
    )
    sig = world.anchor_keys[0].sign(f"{header}.{payload_b64}".encode())
    body = {"payload": payload_b64, "signatures": [{"protected": header, "signature": ""}]}
    body["signatures"][0]["signature"] = b64url_encode(sig)
    return json.dumps(body).encode()


def _resign_header(world: Any, data: bytes, header: dict[str, Any]) -> bytes:
    outer = json.loads(data)
    protected = b64url_encode(json.dumps(header).encode())
    sig = world.anchor_keys[0].sign(f"{protected}.{outer['payload']}".encode())
    outer["signatures"] = [{"protected": protected, "signature": b64url_encode(sig)}]
    return json.dumps(outer).encode()


def _payload_doc(data: bytes) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(b64url_decode(json.loads(data)["payload"]))
    return result


def _canon(value: Any) -> bytes:
    from deltafed._canonical import canonicalize

    return canonicalize(value)


# Each row: name, how to damage a good file (world, data) -> bytes, expected error.
TAMPER_CASES: list[tuple[str, Callable[[Any, bytes], bytes], type[DeltafedError]]] = [
    ("empty", lambda w, d: b"", RegistryInvalidError),
    ("whitespace", lambda w, d: b"  \n", RegistryInvalidError),
    ("not-json", lambda w, d: b"registry v1", RegistryInvalidError),
    ("json-array", lambda w, d: b"[]", RegistryInvalidError),
    ("json-null", lambda w, d: b"null", RegistryInvalidError),
    ("binary", lambda w, d: bytes(range(256)), RegistryInvalidError),
    (
        "payload-byte-flipped",
        lambda w, d: _mutate_json(d, lambda o: o.update(payload=_flip(o["payload"], 40))),
        ThresholdNotMetError,
    ),
    (
        "signature-byte-flipped",
        lambda w, d: _mutate_json(
            d,
            lambda o: o["signatures"][0].update(
                signature=_flip(o["signatures"][0]["signature"], 5)
            ),
        ),
        ThresholdNotMetError,
    ),
    (
        "header-byte-flipped",
        lambda w, d: _mutate_json(
            d,
            lambda o: o["signatures"][0].update(
                protected=_flip(o["signatures"][0]["protected"], 3)
            ),
        ),
        RegistryInvalidError,
    ),
    (
        "signature-truncated",
        lambda w, d: _mutate_json(
            d,
            lambda o: o["signatures"][0].update(
                signature=b64url_encode(b64url_decode(o["signatures"][0]["signature"])[:-3])
            ),
        ),
        ThresholdNotMetError,
    ),
    (
        "signature-non-canonical-base64",
        lambda w, d: _mutate_json(
            d,
            lambda o: o["signatures"][0].update(
                signature=o["signatures"][0]["signature"][:-1] + "B"
            ),
        ),
        RegistryInvalidError,
    ),
    (
        "no-signatures",
        lambda w, d: _mutate_json(d, lambda o: o.update(signatures=[])),
        RegistryInvalidError,
    ),
    (
        "signatures-missing",
        lambda w, d: _mutate_json(d, lambda o: o.pop("signatures")),
        RegistryInvalidError,
    ),
    (
        "payload-missing",
        lambda w, d: _mutate_json(d, lambda o: o.pop("payload")),
        RegistryInvalidError,
    ),
    (
        "extra-member",
        lambda w, d: _mutate_json(d, lambda o: o.update(extra=1)),
        RegistryInvalidError,
    ),
    (
        "unprotected-header",
        lambda w, d: _mutate_json(d, lambda o: o["signatures"][0].update(header={"kid": "x"})),
        RegistryInvalidError,
    ),
    (
        "flattened-form",
        lambda w, d: _mutate_json(d, lambda o: o.update(o.pop("signatures")[0])),
        RegistryInvalidError,
    ),
    (
        "payload-padded-base64",
        lambda w, d: _mutate_json(d, lambda o: o.update(payload=o["payload"] + "==")),
        RegistryInvalidError,
    ),
    (
        "signature-not-string",
        lambda w, d: _mutate_json(d, lambda o: o["signatures"][0].update(signature=12)),
        RegistryInvalidError,
    ),
    (
        "wrong-typ",
        lambda w, d: _resign_header(
            w, d, {"alg": "EdDSA", "kid": w.anchor_keys[0].kid, "typ": "JWT"}
        ),
        RegistryInvalidError,
    ),
    (
        "alg-none",
        lambda w, d: _resign_header(
            w, d, {"alg": "none", "kid": w.anchor_keys[0].kid, "typ": REGISTRY_TYP}
        ),
        RegistryInvalidError,
    ),
    (
        "alg-mismatch",
        lambda w, d: _resign_header(
            w, d, {"alg": "ES256", "kid": w.anchor_keys[0].kid, "typ": REGISTRY_TYP}
        ),
        ThresholdNotMetError,
    ),
    (
        "header-extra-crit",
        lambda w, d: _resign_header(
            w, d, {"alg": "EdDSA", "kid": w.anchor_keys[0].kid, "typ": REGISTRY_TYP, "crit": ["x"]}
        ),
        RegistryInvalidError,
    ),
    (
        "duplicate-json-member",
        lambda w, d: b'{"payload": "AA", ' + d.lstrip()[1:],
        RegistryInvalidError,
    ),
    ("signed-not-json-payload", lambda w, d: _resign_payload(w, b"not json"), RegistryInvalidError),
    (
        "signed-float-payload",
        lambda w, d: _resign_payload(w, b'{"version":1.5}'),
        RegistryInvalidError,
    ),
    (
        "signed-non-canonical-payload",
        lambda w, d: _resign_payload(w, json.dumps(_payload_doc(d), indent=1).encode()),
        RegistryInvalidError,
    ),
    (
        "signed-schema-violation",
        lambda w, d: _resign_payload(w, _canon({**_payload_doc(d), "version": 0})),
        RegistryInvalidError,
    ),
    (
        "signed-unknown-field",
        lambda w, d: _resign_payload(w, _canon({**_payload_doc(d), "admin": True})),
        RegistryInvalidError,
    ),
    ("oversized", lambda w, d: d + b" " * (4 * 1024 * 1024), SizeLimitError),
]


@pytest.mark.parametrize(
    ("damage", "expected"), [row[1:] for row in TAMPER_CASES], ids=[row[0] for row in TAMPER_CASES]
)
def test_tampered_file_gets_typed_error(
    world: Any, damage: Callable[[Any, bytes], bytes], expected: type[DeltafedError]
) -> None:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    trusted.update(world.signed(world.doc(1)))
    before = trusted.current
    data = world.signed(world.doc(2))
    bad = damage(world, data)
    assert bad != data
    with pytest.raises(expected):
        verify_registry(bad, world.anchor())
    # The same damage through the client state: typed error, previous state in force.
    with pytest.raises(expected):
        trusted.update(bad)
    assert trusted.version == 1
    assert trusted.current is before


def test_truncated_at_every_offset_gets_typed_error(world: Any) -> None:
    data = world.signed(world.doc(), (0, 1))
    anchor = world.anchor((0, 1), 2)
    for cut in range(len(data) - 1):
        chunk = data[:cut]
        # Only the final newline may go without changing the JSON.
        with pytest.raises((RegistryInvalidError, ThresholdNotMetError, SizeLimitError)):
            verify_registry(chunk, anchor)


def test_schema_error_is_translated_not_leaked(world: Any) -> None:
    data = _resign_payload(world, _canon({**_payload_doc(world.signed(world.doc())), "version": 0}))
    with pytest.raises(RegistryInvalidError) as info:
        verify_registry(data, world.anchor())
    assert isinstance(info.value.__cause__, SchemaValidationError)
    assert info.value.field == "version"
    assert isinstance(info.value, TrustError)


def test_signature_over_other_payload_does_not_count(world: Any) -> None:
    one = json.loads(world.signed(world.doc(1)))
    two = json.loads(world.signed(world.doc(2)))
    one["signatures"] = two["signatures"]
    with pytest.raises(ThresholdNotMetError):
        verify_registry(json.dumps(one).encode(), world.anchor())


def test_interop_joserfc_reads_a_single_signature_registry(world: Any) -> None:
    # joserfc 1.8 warns that "EdDSA" is deprecated by RFC 9864, so check interop with ES256.
    from joserfc import jws
    from joserfc.jwk import ECKey

    from deltafed.keys import PrivateKey

    ec_key = PrivateKey.generate("ES256")
    doc = world.doc(anchor=AnchorKeys.of([ec_key.public_key], 1))
    data = sign_registry(doc, [ec_key])
    key = ECKey.import_key(ec_key.public_jwk())
    result = jws.deserialize_json(json.loads(data), key, algorithms=["ES256"])
    assert RegistryDocument.parse_json(result.payload) == doc


def test_interop_jwcrypto_reads_a_multi_signature_registry(world: Any) -> None:
    from jwcrypto import jwk, jws

    data = world.signed(world.doc(), (0, 1))
    for index in (0, 1):
        token = jws.JWS()
        token.deserialize(data.decode())
        token.verify(jwk.JWK(**world.anchor_keys[index].public_jwk()))
        assert json.loads(token.payload)["version"] == 1
