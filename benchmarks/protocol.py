"""The full cost of one signed exchange against the floor of its raw signatures.

One exchange is what a requester and a provider do together: build and sign a request,
verify it (with replay protection), build and sign the response, verify the response and its
binding. The floor, measured in the same run over the same bytes, is what no implementation
can avoid: two raw Ed25519 signatures and two verifications with ``cryptography``.

The script prints the floor, the exchange, and their ratio (goal: at most 1.3), each the
median of several repetitions, then the same exchange with the JWS step done by joserfc, for
ADR 0002. With the ``gm`` extra installed it then measures the same exchange in a ``gm``
federation (SM2 with SM3, SM3 request digest) against its own floor: two raw SM2 signatures
and two verifications with the same library (tongsuopy, ADR 0004), printed as
``gm ratio exchange / floor``. Run: ``.venv/bin/python benchmarks/protocol.py [--quick]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from deltafed._clock import FixedClock
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.protocol import (
    MemoryReplayStore,
    ProtocolVerifier,
    SqliteReplayStore,
    new_request,
    new_response,
    sign_request,
    sign_response,
)

REQUESTER = "310000/shzwfw/yitongban"
PROVIDER = "320000/gongan/hukou"
CERT = "1.2.156.3005.2.11100000000013338W032.11220000013544541J.2430599.001.F"
BODY = {"certificate_id": CERT, "use_cause": "跨省户口迁移 benchmark"}
RESULT = {
    "valid": True,
    "certificate_id": CERT,
    "type_code": "11100000000013338W032",
    "status": "01",
    "valid_from": "2020-01-01",
    "issuer_name": "测试发证机关",
    "summary": {"ZZMC": "居民户口簿"},
}


def _keys(label: str) -> tuple[PrivateKey, ed25519.Ed25519PrivateKey]:
    """A deltafed key and the same key as a raw ``cryptography`` object."""
    seed = hashlib.sha256(label.encode()).digest()
    return PrivateKey.from_seed(seed), ed25519.Ed25519PrivateKey.from_private_bytes(seed)


def _median_per_op(func: Callable[[], object], number: int, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number)
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (smoke test)")
    args = parser.parse_args(argv)
    number, repeat = (50, 3) if args.quick else (200, 61)

    (req_key, req_native), (prov_key, prov_native) = _keys("req"), _keys("prov")
    resolver = StaticKeyResolver({REQUESTER: [req_key.public_key], PROVIDER: [prov_key.public_key]})
    clock = FixedClock(datetime(2026, 1, 15, 8, 0, tzinfo=UTC))
    provider = ProtocolVerifier(
        resolver, PROVIDER, clock=clock, replay=MemoryReplayStore(max_entries=10_000_000)
    )
    requester = ProtocolVerifier(resolver, REQUESTER, clock=clock, replay=None)

    exchange_parts = (req_key, prov_key, resolver, clock)

    def exchange() -> None:
        claims = new_request(
            issuer=REQUESTER,
            audience=PROVIDER,
            operation="certificate.verify",
            target=CERT,
            scenario="kuasheng-hukou-qianyi",
            body=BODY,
            now=clock(),
        )
        raw_request = sign_request(claims, req_key)
        request = provider.verify_request(raw_request)
        answer = new_response(request, status="ok", body=RESULT, now=clock())
        raw_response = sign_response(answer, prov_key)
        provider.remember_response(request, raw_response)
        requester.verify_response(raw_response, request_raw=raw_request)

    # The floor: the same signing inputs, signed and verified raw.
    sample_req = sign_request(
        new_request(
            issuer=REQUESTER,
            audience=PROVIDER,
            operation="certificate.verify",
            target=CERT,
            scenario="kuasheng-hukou-qianyi",
            body=BODY,
            now=clock(),
        ),
        req_key,
    )
    sample_resp = sign_response(
        new_response(provider.verify_request(sample_req), status="ok", body=RESULT, now=clock()),
        prov_key,
    )
    req_input = sample_req.rsplit(b".", 1)[0]
    resp_input = sample_resp.rsplit(b".", 1)[0]
    req_pub, prov_pub = req_native.public_key(), prov_native.public_key()
    req_sig, resp_sig = req_native.sign(req_input), prov_native.sign(resp_input)

    def floor() -> None:
        req_native.sign(req_input)
        req_pub.verify(req_sig, req_input)
        prov_native.sign(resp_input)
        prov_pub.verify(resp_sig, resp_input)

    exchange()  # warm up
    floor()
    # Floor and exchange alternate, and the ratio is taken per repetition, so that a noisy
    # neighbour on the machine weighs on both sides of each ratio alike.
    floors, exchanges, ratios = [], [], []
    for _ in range(repeat):
        f = _median_per_op(floor, number, 1)
        e = _median_per_op(exchange, number, 1)
        floors.append(f)
        exchanges.append(e)
        ratios.append(e / f)
    floor_s, exchange_s = statistics.median(floors), statistics.median(exchanges)
    ratio = statistics.median(ratios)

    print(f"python {sys.version.split()[0]}, {number} iterations x {repeat} repetitions, median")
    print(f"request {len(sample_req)} bytes, response {len(sample_resp)} bytes")
    print(f"floor    (2 Ed25519 sign + 2 verify, raw): {floor_s * 1e6:8.1f} us")
    print(f"exchange (deltafed, full)                 : {exchange_s * 1e6:8.1f} us")
    print(f"ratio exchange / floor                    : {ratio:8.2f}  (goal <= 1.3)")
    quart = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio, ratio, ratio]
    print(f"ratio inter-quartile range: {quart[0]:.2f} .. {quart[2]:.2f}")

    sqlite_s = _sqlite_exchange(exchange_parts, number, repeat)
    print(f"exchange with SqliteReplayStore (WAL)     : {sqlite_s * 1e6:8.1f} us")

    jose = _joserfc_jws_step(req_key, req_native, req_input, sample_req, number, repeat)
    if jose is not None:
        ours_s, theirs_s = jose
        print(f"JWS step only, deltafed compact    (sign+verify): {ours_s * 1e6:8.1f} us")
        print(f"JWS step only, joserfc 1.x compact (sign+verify): {theirs_s * 1e6:8.1f} us")

    gm_number, gm_repeat = (5, 3) if args.quick else (20, 21)
    gm = _gm_exchange(gm_number, gm_repeat)
    if gm is None:
        print("gm: the gm extra (tongsuopy) is not installed; not measured")
    else:
        gm_floor, gm_exchange, gm_ratio, gm_quart = gm
        print(f"gm floor    (2 SM2 sign + 2 verify, raw)   : {gm_floor * 1e6:8.1f} us")
        print(f"gm exchange (deltafed, full, SM2/SM3)      : {gm_exchange * 1e6:8.1f} us")
        print(f"gm ratio exchange / floor                  : {gm_ratio:8.2f}")
        print(f"gm ratio inter-quartile range: {gm_quart[0]:.2f} .. {gm_quart[1]:.2f}")
    return 0


def _gm_exchange(
    number: int, repeat: int
) -> tuple[float, float, float, tuple[float, float]] | None:
    """The exchange in a gm federation and its floor: raw tongsuopy SM2 sign/verify, DER."""
    from deltafed._profile import GM
    from deltafed._sm2 import SM2_ORDER, sm2_available
    from deltafed.protocol import Limits

    if not sm2_available():
        return None
    from tongsuopy.crypto import hashes  # type: ignore[import-untyped]
    from tongsuopy.crypto.asymciphers import ec  # type: ignore[import-untyped]

    def scalar(label: str) -> int:
        return int.from_bytes(hashlib.sha256(label.encode()).digest(), "big") % (SM2_ORDER - 2) + 1

    req_key = PrivateKey.from_seed(hashlib.sha256(b"gm-req").digest(), "SM2")
    prov_key = PrivateKey.from_seed(hashlib.sha256(b"gm-prov").digest(), "SM2")
    resolver = StaticKeyResolver({REQUESTER: [req_key.public_key], PROVIDER: [prov_key.public_key]})
    clock = FixedClock(datetime(2026, 1, 15, 8, 0, tzinfo=UTC))
    limits = Limits(crypto=GM)
    provider = ProtocolVerifier(
        resolver, PROVIDER, clock=clock, replay=MemoryReplayStore(max_entries=10_000_000),
        limits=limits,
    )  # fmt: skip
    requester = ProtocolVerifier(resolver, REQUESTER, clock=clock, replay=None, limits=limits)

    def exchange() -> tuple[bytes, bytes]:
        claims = new_request(
            issuer=REQUESTER,
            audience=PROVIDER,
            operation="certificate.verify",
            target=CERT,
            scenario="kuasheng-hukou-qianyi",
            body=BODY,
            now=clock(),
        )
        raw_request = sign_request(claims, req_key)
        request = provider.verify_request(raw_request)
        answer = new_response(request, status="ok", body=RESULT, now=clock())
        raw_response = sign_response(answer, prov_key)
        provider.remember_response(request, raw_response)
        requester.verify_response(raw_response, request_raw=raw_request)
        return raw_request, raw_response

    sample_req, sample_resp = exchange()
    req_input, resp_input = sample_req.rsplit(b".", 1)[0], sample_resp.rsplit(b".", 1)[0]
    # The same keys as raw tongsuopy objects (the library deltafed's gm extra uses).
    algorithm = ec.ECDSA(hashes.SM3())
    req_native = ec.derive_private_key(scalar("gm-req-native"), ec.SM2())
    prov_native = ec.derive_private_key(scalar("gm-prov-native"), ec.SM2())
    req_pub, prov_pub = req_native.public_key(), prov_native.public_key()
    req_sig = req_native.sign(req_input, algorithm)
    resp_sig = prov_native.sign(resp_input, algorithm)

    def floor() -> None:
        req_native.sign(req_input, algorithm)
        req_pub.verify(req_sig, req_input, algorithm)
        prov_native.sign(resp_input, algorithm)
        prov_pub.verify(resp_sig, resp_input, algorithm)

    floor()
    floors, exchanges, ratios = [], [], []
    for _ in range(repeat):
        f = _median_per_op(floor, number, 1)
        e = _median_per_op(exchange, number, 1)
        floors.append(f)
        exchanges.append(e)
        ratios.append(e / f)
    ratio = statistics.median(ratios)
    quart = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else [ratio, ratio, ratio]
    return (
        statistics.median(floors),
        statistics.median(exchanges),
        ratio,
        (quart[0], quart[2]),
    )


def _sqlite_exchange(parts: tuple[Any, ...], number: int, repeat: int) -> float:
    """The same exchange, the provider's replay store a SQLite file (one write per request)."""
    req_key, prov_key, resolver, clock = parts
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteReplayStore(Path(tmp) / "replay.db", max_entries=10_000_000)
        provider = ProtocolVerifier(resolver, PROVIDER, clock=clock, replay=store)
        requester = ProtocolVerifier(resolver, REQUESTER, clock=clock, replay=None)

        def exchange() -> None:
            claims = new_request(
                issuer=REQUESTER,
                audience=PROVIDER,
                operation="certificate.verify",
                target=CERT,
                scenario="kuasheng-hukou-qianyi",
                body=BODY,
                now=clock(),
            )
            raw_request = sign_request(claims, req_key)
            request = provider.verify_request(raw_request)
            answer = new_response(request, status="ok", body=RESULT, now=clock())
            raw_response = sign_response(answer, prov_key)
            provider.remember_response(request, raw_response)
            requester.verify_response(raw_response, request_raw=raw_request)

        try:
            return _median_per_op(exchange, number, max(3, repeat // 10))
        finally:
            store.close()


def _joserfc_jws_step(
    key: PrivateKey,
    native: ed25519.Ed25519PrivateKey,
    signing_input: bytes,
    token: bytes,
    number: int,
    repeat: int,
) -> tuple[float, float] | None:
    """One request's JWS sign + verify through deltafed's code and through joserfc."""
    try:
        from joserfc import jws
        from joserfc.jwk import OKPKey
    except ImportError:
        return None
    from deltafed.protocol._jws import encode_compact, parse_compact

    payload_seg = signing_input.split(b".")[1]
    payload = base64.urlsafe_b64decode(payload_seg + b"=" * (-len(payload_seg) % 4))
    jkey = OKPKey.import_key(native)
    jpub = OKPKey.import_key(native.public_key())
    head = {"alg": "EdDSA", "kid": key.kid, "typ": "deltafed-request+jws"}

    def ours() -> None:
        encode_compact("deltafed-request+jws", payload, key)
        parsed = parse_compact(token, max_bytes=262_144, algorithms=("EdDSA",))
        key.public_key.verify(parsed.signature, parsed.signing_input)

    def theirs() -> None:
        jws.serialize_compact(head, payload, jkey, algorithms=["EdDSA"])
        jws.deserialize_compact(token, jpub, algorithms=["EdDSA"])

    with warnings.catch_warnings():
        # joserfc >= 1.4 warns that RFC 9864 deprecates the "EdDSA" name on every use.
        warnings.simplefilter("ignore")
        return _median_per_op(ours, number, repeat), _median_per_op(theirs, number, repeat)


if __name__ == "__main__":
    raise SystemExit(main())
