"""A small, slow, variable-time SM2 (GM/T 0003.2) in pure Python. TEST AND VECTORS ONLY.

It exists for two reasons: to reproduce the published examples of the standard with their
fixed nonce ``k`` (no compiled library takes a caller's ``k``), and to make the ``gm`` test
vectors reproducible byte for byte (a deterministic nonce, derived below). deltafed never
signs or verifies a message with it: the exchange path uses the ``gm`` extra (ADR 0004).
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes, hmac

__all__ = ["SM2_CURVE", "Curve", "deterministic_k", "public_point", "sign", "verify", "z_value"]

DEFAULT_ID = b"1234567812345678"


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


@dataclass(frozen=True)
class Curve:
    """A short Weierstrass curve y^2 = x^3 + ax + b over GF(p) with base point (gx, gy)."""

    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int


#: The SM2 recommended curve (GM/T 0003.5, GB/T 32918.5).
SM2_CURVE = Curve(
    p=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF,
    a=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC,
    b=0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93,
    gx=0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7,
    gy=0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0,
    n=0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123,
)

Point = tuple[int, int] | None


def _add(c: Curve, p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    x1, y1 = p1
    x2, y2 = p2
    if x1 == x2 and (y1 + y2) % c.p == 0:
        return None
    if p1 == p2:
        lam = (3 * x1 * x1 + c.a) * pow(2 * y1, -1, c.p) % c.p
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, c.p) % c.p
    x3 = (lam * lam - x1 - x2) % c.p
    return x3, (lam * (x1 - x3) - y1) % c.p


def _mul(c: Curve, k: int, point: Point) -> Point:
    result: Point = None
    addend = point
    while k:
        if k & 1:
            result = _add(c, result, addend)
        addend = _add(c, addend, addend)
        k >>= 1
    return result


def _b32(value: int) -> bytes:
    return value.to_bytes(32, "big")


def public_point(c: Curve, d: int) -> tuple[int, int]:
    point = _mul(c, d, (c.gx, c.gy))
    if point is None:
        raise ValueError("d is not a valid private key")
    return point


def z_value(c: Curve, public: tuple[int, int], ident: bytes = DEFAULT_ID) -> bytes:
    """Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA) (GM/T 0003.2, 5.5)."""
    entl = (len(ident) * 8).to_bytes(2, "big")
    parts = (c.a, c.b, c.gx, c.gy, public[0], public[1])
    return sm3(entl + ident + b"".join(_b32(v) for v in parts))


def _e(c: Curve, public: tuple[int, int], message: bytes, ident: bytes) -> int:
    return int.from_bytes(sm3(z_value(c, public, ident) + message), "big")


def sign(c: Curve, d: int, message: bytes, k: int, ident: bytes = DEFAULT_ID) -> tuple[int, int]:
    """The SM2 signature (r, s) of ``message`` with the nonce ``k`` (GM/T 0003.2, 6.1)."""
    e = _e(c, public_point(c, d), message, ident)
    point = _mul(c, k, (c.gx, c.gy))
    if point is None:
        raise ValueError("bad k")
    r = (e + point[0]) % c.n
    if r == 0 or r + k == c.n:
        raise ValueError("bad k: r is degenerate")
    s = pow(1 + d, -1, c.n) * (k - r * d) % c.n
    if s == 0:
        raise ValueError("bad k: s is 0")
    return r, s


def verify(
    c: Curve,
    public: tuple[int, int],
    message: bytes,
    signature: tuple[int, int],
    ident: bytes = DEFAULT_ID,
) -> bool:
    """GM/T 0003.2, 7.1."""
    r, s = signature
    if not (0 < r < c.n and 0 < s < c.n):
        return False
    t = (r + s) % c.n
    if t == 0:
        return False
    point = _add(c, _mul(c, s, (c.gx, c.gy)), _mul(c, t, public))
    if point is None:
        return False
    return (_e(c, public, message, ident) + point[0]) % c.n == r


def deterministic_k(c: Curve, d: int, message: bytes, label: bytes = b"") -> int:
    """A nonce from HMAC-SM3 of the key and the message: the same inputs, the same vector.

    Secret and unpredictable to anyone without ``d``, but a TEST device: production signing
    takes its nonce from the implementation's random generator."""
    counter = 0
    while True:
        mac = hmac.HMAC(_b32(d), hashes.SM3())
        mac.update(label + message + counter.to_bytes(4, "big"))
        k = int.from_bytes(mac.finalize(), "big") % (c.n - 1) + 1
        try:
            sign(c, d, message, k)
        except ValueError:
            counter += 1
            continue
        return k
