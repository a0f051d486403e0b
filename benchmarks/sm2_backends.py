"""Measure SM2-with-SM3 sign and verify for each candidate implementation on this machine.

The floor is OpenSSL's own SM2 (`openssl speed -seconds 2 sm2`), measured in the same run.
Candidates that are not installed are reported as absent; install them in a scratch
environment to compare (`pip install gmssl-pyx gmssl-fast tongsuopy smcryptopy gmssl`).
Every candidate signs a 200-byte message with the default signer id 1234567812345678 and
verifies its own signature; the printed ratios are candidate ms / openssl-speed ms.

    python benchmarks/sm2_backends.py
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import re
import shutil
import subprocess
import time
from collections.abc import Callable

MESSAGE = b"deltafed " * 22 + b"xy"
SIGNER_ID = b"1234567812345678"


def _per_op_ms(fn: Callable[[], object], min_seconds: float = 1.0) -> float:
    fn()
    count = 0
    start = time.perf_counter()
    while True:
        fn()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds and count >= 3:
            return elapsed * 1000 / count


def openssl_speed() -> tuple[float, float] | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "speed", "-seconds", "2", "sm2"], capture_output=True, text=True, check=False
    ).stdout
    match = re.search(r"^\s*256 bits SM2 \(CurveSM2\)\s+(\S+)s\s+(\S+)s", out, re.MULTILINE)
    if match is None:
        return None
    return float(match.group(1)) * 1000, float(match.group(2)) * 1000


def bench_gmssl_pyx() -> tuple[float, float]:
    import gmssl_pyx  # type: ignore[import-not-found]

    public, private = gmssl_pyx.sm2_key_generate()
    sig = gmssl_pyx.sm2_sign(private, public, MESSAGE, SIGNER_ID)
    if not gmssl_pyx.sm2_verify(public, MESSAGE, sig, SIGNER_ID):
        raise RuntimeError("gmssl-pyx does not verify its own signature")
    return (
        _per_op_ms(lambda: gmssl_pyx.sm2_sign(private, public, MESSAGE, SIGNER_ID)),
        _per_op_ms(lambda: gmssl_pyx.sm2_verify(public, MESSAGE, sig, SIGNER_ID)),
    )


def bench_gmssl_fast() -> tuple[float, float]:
    import gmssl_fast  # type: ignore[import-not-found]

    key = gmssl_fast.SM2.generate()
    sig = key.sign(MESSAGE)
    if not key.verify(MESSAGE, sig):
        raise RuntimeError("gmssl-fast does not verify its own signature")
    return _per_op_ms(lambda: key.sign(MESSAGE)), _per_op_ms(lambda: key.verify(MESSAGE, sig))


def bench_tongsuopy() -> tuple[float, float]:
    from tongsuopy.crypto import hashes  # type: ignore[import-not-found]
    from tongsuopy.crypto.asymciphers import ec  # type: ignore[import-not-found]

    key = ec.generate_private_key(ec.SM2())
    algorithm = ec.ECDSA(hashes.SM3())
    sig = key.sign(MESSAGE, algorithm)
    public = key.public_key()
    public.verify(sig, MESSAGE, algorithm)
    return (
        _per_op_ms(lambda: key.sign(MESSAGE, algorithm)),
        _per_op_ms(lambda: public.verify(sig, MESSAGE, algorithm)),
    )


def bench_smcryptopy() -> tuple[float, float]:
    from smcryptopy import sm2  # type: ignore[import-not-found]

    private, public = sm2.gen_keypair()
    sig = sm2.sign(SIGNER_ID, MESSAGE, private)
    if not sm2.verify(SIGNER_ID, MESSAGE, sig, public):
        raise RuntimeError("smcryptopy does not verify its own signature")
    return (
        _per_op_ms(lambda: sm2.sign(SIGNER_ID, MESSAGE, private)),
        _per_op_ms(lambda: sm2.verify(SIGNER_ID, MESSAGE, sig, public)),
    )


def bench_gmssl_pure() -> tuple[float, float]:
    import secrets

    from gmssl import sm2  # type: ignore[import-not-found]

    private = "3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8"
    public = (
        "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
        "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
    )
    crypt = sm2.CryptSM2(private_key=private, public_key=public)

    def sign() -> str:
        return str(crypt.sign_with_sm3(MESSAGE, secrets.token_hex(32)))

    sig = sign()
    if not crypt.verify_with_sm3(sig, MESSAGE):
        raise RuntimeError("gmssl does not verify its own signature")
    return (
        _per_op_ms(sign, 0.5),
        _per_op_ms(lambda: crypt.verify_with_sm3(sig, MESSAGE), 0.5),
    )


def bench_openssl_ctypes() -> tuple[float, float]:
    """The system libcrypto (OpenSSL 3) through ctypes: EVP_DigestSign with SM3 and an SM2 id."""
    name = ctypes.util.find_library("crypto")
    if name is None:
        raise RuntimeError("no libcrypto")
    lib = ctypes.CDLL(name)
    vp = ctypes.c_void_p
    lib.EVP_PKEY_Q_keygen.restype = vp
    lib.EVP_PKEY_Q_keygen.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p]
    lib.EVP_MD_CTX_new.restype = vp
    lib.EVP_MD_CTX_free.argtypes = [vp]
    lib.EVP_PKEY_CTX_new.restype = vp
    lib.EVP_PKEY_CTX_new.argtypes = [vp, vp]
    lib.EVP_PKEY_CTX_set1_id.argtypes = [vp, ctypes.c_char_p, ctypes.c_int]
    lib.EVP_MD_CTX_set_pkey_ctx.argtypes = [vp, vp]
    lib.EVP_sm3.restype = vp
    lib.EVP_DigestSignInit.argtypes = [vp, vp, vp, vp, vp]
    lib.EVP_DigestVerifyInit.argtypes = [vp, vp, vp, vp, vp]
    size = ctypes.c_size_t
    lib.EVP_DigestSign.argtypes = [vp, ctypes.c_char_p, ctypes.POINTER(size), ctypes.c_char_p, size]
    lib.EVP_DigestVerify.argtypes = [vp, ctypes.c_char_p, size, ctypes.c_char_p, size]
    pkey = lib.EVP_PKEY_Q_keygen(None, None, b"SM2")
    if not pkey:
        raise RuntimeError("libcrypto has no SM2")
    sm3 = lib.EVP_sm3()

    def ctx(init: Callable[..., int]) -> tuple[int, int]:
        md = lib.EVP_MD_CTX_new()
        pctx = lib.EVP_PKEY_CTX_new(pkey, None)
        lib.EVP_PKEY_CTX_set1_id(pctx, SIGNER_ID, len(SIGNER_ID))
        lib.EVP_MD_CTX_set_pkey_ctx(md, pctx)
        if init(md, None, sm3, None, pkey) != 1:
            raise RuntimeError("init failed")
        return md, pctx

    def sign() -> bytes:
        md, pctx = ctx(lib.EVP_DigestSignInit)
        buf = ctypes.create_string_buffer(80)
        n = size(80)
        ok = lib.EVP_DigestSign(md, buf, ctypes.byref(n), MESSAGE, len(MESSAGE))
        lib.EVP_MD_CTX_free(md)
        lib.EVP_PKEY_CTX_free(vp(pctx))
        if ok != 1:
            raise RuntimeError("sign failed")
        return buf.raw[: n.value]

    sig = sign()

    def verify() -> bool:
        md, pctx = ctx(lib.EVP_DigestVerifyInit)
        ok = lib.EVP_DigestVerify(md, sig, len(sig), MESSAGE, len(MESSAGE))
        lib.EVP_MD_CTX_free(md)
        lib.EVP_PKEY_CTX_free(vp(pctx))
        return bool(ok == 1)

    if not verify():
        raise RuntimeError("ctypes openssl does not verify its own signature")
    return _per_op_ms(sign), _per_op_ms(verify)


CANDIDATES: list[tuple[str, str | None, Callable[[], tuple[float, float]]]] = [
    ("gmssl-pyx (GmSSL 3, compiled)", "gmssl_pyx", bench_gmssl_pyx),
    ("gmssl-fast (GmSSL, compiled)", "gmssl_fast", bench_gmssl_fast),
    ("tongsuopy (Tongsuo, compiled)", "tongsuopy", bench_tongsuopy),
    ("smcryptopy (Rust)", "smcryptopy", bench_smcryptopy),
    ("system libcrypto via ctypes", None, bench_openssl_ctypes),
    ("gmssl (pure Python)", "gmssl", bench_gmssl_pure),
]


def main() -> None:
    floor = openssl_speed()
    if floor is None:
        print("openssl speed sm2: unavailable (no openssl or no SM2); ratios omitted")
    else:
        print(f"openssl speed sm2 (floor): sign {floor[0]:.3f} ms  verify {floor[1]:.3f} ms")
    for label, module, bench in CANDIDATES:
        if module is not None and importlib.util.find_spec(module) is None:
            print(f"{label}: not installed")
            continue
        try:
            sign_ms, verify_ms = bench()
        except Exception as exc:  # noqa: BLE001 - a broken candidate is reported, not fatal
            print(f"{label}: failed ({type(exc).__name__}: {exc})")
            continue
        line = f"{label}: sign {sign_ms:.3f} ms  verify {verify_ms:.3f} ms"
        if floor is not None:
            line += f"  ratio sign {sign_ms / floor[0]:.2f}  verify {verify_ms / floor[1]:.2f}"
        print(line)


if __name__ == "__main__":
    main()
