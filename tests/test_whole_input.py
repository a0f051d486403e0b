"""Every parser of wire or user input reads its WHOLE input (issue 12, section 1).

A valid value with anything before or after it (whitespace, a line ending, NUL, a second
value) is refused with the typed error that parser gives for malformed input: a regex anchored
with ``$`` also matches before a final newline, and base64 decoders skip foreign characters.
Each parser below is checked with its valid value unchanged (accepted) and with generated
prefixes and suffixes (refused, right code).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deltafed import DeltafedError, FixedClock
from deltafed._errors import (
    AdapterDataError,
    AlgorithmNotAllowedError,
    ConfigurationError,
    IdentifierError,
    InvalidInputError,
    MalformedMessageError,
    SchemaValidationError,
)
from deltafed.adapters import load_adapter
from deltafed.adapters.shanghai._native import parse_iso_instant
from deltafed.audit import parse_checkpoint, sign_checkpoint
from deltafed.keys import PrivateKey, PublicKey, StaticKeyResolver, b64url_decode
from deltafed.protocol import (
    REQUEST_TYP,
    RESPONSE_TYP,
    MemoryReplayStore,
    ProtocolVerifier,
    new_request,
    new_response,
    sign_document,
    sign_request,
    sign_response,
)
from deltafed.protocol._json import canonical_bytes
from deltafed.protocol._jws import encode_compact
from deltafed.registry import PublicJwk, RegistryDocument
from deltafed.schemas.certificates import parse_yyyymmdd
from deltafed.schemas.consent import Consent
from deltafed.schemas.identifiers import (
    parse_certificate_id,
    parse_certificate_type_code,
    parse_credit_code,
    parse_division_code,
    parse_holder_code,
    parse_member_id,
    parse_resident_id,
)
from deltafed.schemas.messages import VerificationRequest
from deltafed.schemas.problem import Problem

SHANGHAI, JIANGSU = "310000/shzwfw/yitongban", "320000/gongan/hukou"
NOW = datetime(2026, 1, 15, 8, 0, tzinfo=UTC)
SH = PrivateKey.from_seed(b"\x11" * 32)
JS = PrivateKey.from_seed(b"\x12" * 32)
RESOLVER = StaticKeyResolver({SHANGHAI: [SH.public_key], JIANGSU: [JS.public_key]})
CERT_ID = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
CLAIMS = new_request(
    issuer=SHANGHAI,
    audience=JIANGSU,
    operation="certificate.verify",
    target=CERT_ID,
    scenario="kuasheng-hukou-qianyi",
    body={"certificate_id": CERT_ID, "use_cause": "whole input"},
    now=NOW,
    jti="whole-input-000000001",
)
REQUEST = sign_request(CLAIMS, SH)
_ANSWERING = ProtocolVerifier(RESOLVER, JIANGSU, clock=FixedClock(NOW), replay=None)
RESPONSE = sign_response(
    new_response(_ANSWERING.verify_request(REQUEST), status="ok", body={"ok": True}, now=NOW), JS
)
DOCUMENT = sign_document({"iss": SHANGHAI, "note": "x"}, typ="deltafed-consent+jws", signer=SH)

#: What may surround a value: whitespace of every kind, line endings, NUL, a BOM.
JUNK = [" ", "\n", "\r\n", "\r", "\t", "\x0b", "\x0c", "\x00", "\u00a0", "\u3000", "\ufeff"]
PROPERTY = settings(max_examples=15, deadline=None)


@st.composite
def wrapped(draw: st.DrawFn, value: str) -> str:
    """``value`` with a prefix, a suffix, or a second value after a separator."""
    junk = draw(st.lists(st.sampled_from(JUNK), min_size=1, max_size=3).map("".join))
    where = draw(st.sampled_from(["prefix", "suffix", "both", "second"]))
    if where == "prefix":
        return junk + value
    if where == "suffix":
        return value + junk
    if where == "both":
        return junk + value + junk
    return value + junk + value


def every_single(value: str) -> list[str]:
    """Each junk character alone before and after ``value``, and a second value after a line
    ending: the cases a ``$``-anchored regex lets through are always tried, not left to luck."""
    return [
        *(junk + value for junk in JUNK),
        *(value + junk for junk in JUNK),
        value + "\n" + value,
    ]


def _refused(parse: Callable[[Any], object], value: Any, error: type[DeltafedError]) -> None:
    with pytest.raises(error) as caught:
        parse(value)
    assert caught.value.code == error.code, caught.value


# --- identifiers and small values --------------------------------------------------------------

_RESIDENT = "11010519491231002X"
_CREDIT = "91350100M000100Y43"
_TYPE_CODE = "11100000000013338W032"

#: (name, parser, valid input, typed error for malformed input)
STRING_PARSERS: list[tuple[str, Callable[[str], object], str, type[DeltafedError]]] = [
    ("parse_member_id", parse_member_id, JIANGSU, IdentifierError),
    ("parse_member_id (2 parts)", parse_member_id, "330000/zjzwfw", IdentifierError),
    ("parse_certificate_id", parse_certificate_id, CERT_ID, IdentifierError),
    ("parse_credit_code", parse_credit_code, _CREDIT, IdentifierError),
    ("parse_resident_id", parse_resident_id, _RESIDENT, IdentifierError),
    ("parse_certificate_type_code", parse_certificate_type_code, _TYPE_CODE, IdentifierError),
    ("parse_division_code", parse_division_code, "320500", IdentifierError),
    ("parse_holder_code 111", lambda v: parse_holder_code(v, "111"), _RESIDENT, IdentifierError),
    ("parse_holder_code 001", lambda v: parse_holder_code(v, "001"), _CREDIT, IdentifierError),
    (
        "parse_yyyymmdd",
        lambda v: parse_yyyymmdd(v, field="ZZBFRQ"),
        "20240101",
        SchemaValidationError,
    ),
    ("b64url_decode", b64url_decode, "AQIDBA", InvalidInputError),
    (
        "shanghai parse_iso_instant",
        parse_iso_instant,
        "2026-01-15T08:00:00+08:00",
        AdapterDataError,
    ),
    ("load_adapter", load_adapter, "memory", ConfigurationError),
]


def _model(model: Any, document: dict[str, Any], field: str) -> Callable[[str], object]:
    """A parser of one field of a wire model: the value is put in an otherwise valid document."""

    def parse(value: str) -> object:
        item: Any = document
        *path, last = field.split(".")
        item = json.loads(json.dumps(document))
        target = item
        for part in path:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value
        return model.parse(item)

    return parse


_CONSENT = {
    "id": "consent-1",
    "holder_type": "111",
    "holder_code": _RESIDENT,
    "scenario": "kuasheng-hukou-qianyi",
    "requester": SHANGHAI,
    "scope": ["name"],
    "operations": ["certificate.release"],
    "issued_at": "2026-01-15T08:00:00Z",
    "expires_at": "2026-01-16T08:00:00Z",
    "explicit_request": True,
    "issuer": SHANGHAI,
}
_VERIFY_BODY = {"certificate_id": CERT_ID, "use_cause": "check"}
_PROBLEM = {"code": "not_found", "title": "not found", "status": 404}
_JWK = JS.public_key.to_jwk()
_REGISTRY = {
    "federation": "yrd-test",
    "anchor": {"keys": [SH.public_key.to_jwk()], "threshold": 1},
    "version": 1,
    "issued_at": "2026-01-01T00:00:00Z",
    "expires_at": "2026-02-01T00:00:00Z",
    "members": [
        {
            "id": JIANGSU,
            "name": "Jiangsu",
            "endpoint": "https://320000.deltafed.test",
            "keys": [{"jwk": _JWK, "not_before": "2026-01-01T00:00:00Z"}],
        }
    ],
}

MODEL_FIELDS: list[tuple[str, Callable[[str], object], str, type[DeltafedError]]] = [
    ("Consent.requester", _model(Consent, _CONSENT, "requester"), SHANGHAI, IdentifierError),
    ("Consent.issuer", _model(Consent, _CONSENT, "issuer"), SHANGHAI, IdentifierError),
    (
        "Consent.scenario",
        _model(Consent, _CONSENT, "scenario"),
        "kuasheng-hukou-qianyi",
        SchemaValidationError,
    ),
    (
        "Consent.holder_code",
        _model(Consent, _CONSENT, "holder_code"),
        _RESIDENT,
        SchemaValidationError,
    ),
    (
        "Consent.issued_at",
        _model(Consent, _CONSENT, "issued_at"),
        "2026-01-15T08:00:00Z",
        SchemaValidationError,
    ),
    ("Consent.holder_type", _model(Consent, _CONSENT, "holder_type"), "111", SchemaValidationError),
    (
        "VerificationRequest.certificate_id",
        _model(VerificationRequest, _VERIFY_BODY, "certificate_id"),
        CERT_ID,
        IdentifierError,
    ),
    ("Problem.code", _model(Problem, _PROBLEM, "code"), "not_found", SchemaValidationError),
    (
        "Registry member id",
        _model(RegistryDocument, _REGISTRY, "members.0.id"),
        JIANGSU,
        IdentifierError,
    ),
    (
        "Registry endpoint",
        _model(RegistryDocument, _REGISTRY, "members.0.endpoint"),
        "https://320000.deltafed.test",
        SchemaValidationError,
    ),
    (
        "Registry expires_at",
        _model(RegistryDocument, _REGISTRY, "expires_at"),
        "2026-02-01T00:00:00Z",
        SchemaValidationError,
    ),
    ("PublicJwk.kid", _model(PublicJwk, _JWK, "kid"), _JWK["kid"], SchemaValidationError),
    ("PublicJwk.x", _model(PublicJwk, _JWK, "x"), _JWK["x"], SchemaValidationError),
]


# --- messages: the bytes, the header values and every claim -------------------------------------


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def _with_header(message: bytes, **header: str) -> bytes:
    _, payload, signature = message.split(b".")
    text = json.dumps(header, separators=(",", ":"), sort_keys=True)
    return _b64(text.encode()) + b"." + payload + b"." + signature


def _resign(claims: dict[str, Any], key: PrivateKey, typ: str) -> bytes:
    return encode_compact(typ, canonical_bytes(claims), key)


def _node() -> ProtocolVerifier:
    return ProtocolVerifier(RESOLVER, JIANGSU, clock=FixedClock(NOW), replay=MemoryReplayStore())


def _client() -> ProtocolVerifier:
    return ProtocolVerifier(RESOLVER, SHANGHAI, clock=FixedClock(NOW), replay=None)


def _header_case(member: str) -> Callable[[str], object]:
    good = {"alg": SH.alg, "kid": SH.kid, "typ": REQUEST_TYP}
    return lambda value: _node().verify_request(_with_header(REQUEST, **{**good, member: value}))


def _request_claim(name: str) -> Callable[[str], object]:
    wire = CLAIMS.to_wire()

    def parse(value: str) -> object:
        try:
            return _node().verify_request(_resign({**wire, name: value}, SH, REQUEST_TYP))
        except MalformedMessageError as exc:
            if not str(exc.field).startswith(name):  # the offending claim is named
                pytest.fail(f"field {exc.field!r} does not name the claim {name!r}")
            raise

    return parse


_RESPONSE_WIRE = _client().verify_response(RESPONSE, request_raw=REQUEST).claims.to_wire()


def _response_claim(name: str) -> Callable[[str], object]:
    def parse(value: str) -> object:
        if name == "body.code":
            claims = {**_RESPONSE_WIRE, "sts": "problem", "body": {**_PROBLEM, "code": value}}
        else:
            claims = {**_RESPONSE_WIRE, name: value}
        raw = _resign(claims, JS, RESPONSE_TYP)
        return _client().verify_response(raw, request_raw=REQUEST)

    return parse


_CHECKPOINT = sign_checkpoint(JS, log=JIANGSU, size=3, root=bytes(32), issued_at=NOW)

MESSAGE_PARSERS: list[tuple[str, Callable[[str], object], str, type[DeltafedError]]] = [
    (
        "node verify_request",
        lambda s: _node().verify_request(s.encode("utf-8")),
        REQUEST.decode(),
        MalformedMessageError,
    ),
    (
        "client verify_response",
        lambda s: _client().verify_response(s.encode("utf-8"), request_raw=REQUEST),
        RESPONSE.decode(),
        MalformedMessageError,
    ),
    (
        "verify_document",
        lambda s: _client().verify_document(s.encode("utf-8"), typ="deltafed-consent+jws"),
        DOCUMENT.decode(),
        MalformedMessageError,
    ),
    # An alg that is not exactly an allowed name fails step 3; kid and typ fail step 4.
    ("header alg", _header_case("alg"), SH.alg, AlgorithmNotAllowedError),
    ("header kid", _header_case("kid"), SH.kid, MalformedMessageError),
    ("header typ", _header_case("typ"), REQUEST_TYP, MalformedMessageError),
    *(
        (f"request claim {name}", _request_claim(name), value, MalformedMessageError)
        for name, value in [
            *((n, CLAIMS.to_wire()[n]) for n in ["iss", "aud", "jti", "op", "tgt", "scn"]),
            ("cns", DOCUMENT.decode()),
        ]
    ),
    *(
        (f"response claim {name}", _response_claim(name), value, MalformedMessageError)
        for name, value in [
            *((n, _RESPONSE_WIRE[n]) for n in ["iss", "aud", "jti", "req", "rid", "sts"]),
            ("body.code", "not_found"),
        ]
    ),
    ("parse_checkpoint", parse_checkpoint, _CHECKPOINT, MalformedMessageError),
    (
        "parse_checkpoint bytes",
        lambda s: parse_checkpoint(s.encode("utf-8")),
        _CHECKPOINT,
        MalformedMessageError,
    ),
    *(
        (
            f"PublicKey.from_jwk {member}",
            lambda s, m=member: PublicKey.from_jwk({**_JWK, m: s}),
            _JWK[member],
            InvalidInputError,
        )
        for member in ["x", "kid"]
    ),
]

ALL_PARSERS = [*STRING_PARSERS, *MODEL_FIELDS, *MESSAGE_PARSERS]
_IDS = [p[0] for p in ALL_PARSERS]
_ARGS = [p[1:] for p in ALL_PARSERS]


@pytest.mark.parametrize(("parse", "valid", "error"), _ARGS, ids=_IDS)
def test_every_single_junk_character_and_a_second_value_are_refused(
    parse: Callable[[str], object], valid: str, error: type[DeltafedError]
) -> None:
    parse(valid)  # the value itself is accepted
    for value in every_single(valid):
        _refused(parse, value, error)


@pytest.mark.parametrize(("parse", "valid", "error"), _ARGS, ids=_IDS)
@PROPERTY
@given(data=st.data())
def test_any_prefix_or_suffix_is_refused(
    parse: Callable[[str], object], valid: str, error: type[DeltafedError], data: st.DataObject
) -> None:
    _refused(parse, data.draw(wrapped(valid)), error)


def test_refused_bytes_leave_no_trace_in_the_replay_store() -> None:
    node = _node()
    for value in every_single(REQUEST.decode()):
        _refused(node.verify_request, value.encode("utf-8"), MalformedMessageError)
    assert node.verify_request(REQUEST).duplicate_of is None  # the genuine request is new
