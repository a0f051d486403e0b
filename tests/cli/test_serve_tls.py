"""TLS for ``deltafed serve``: configuration, the plain-HTTP refusal, and real (mutual) TLS.

The certificates are made here, for 127.0.0.1, by a throwaway test CA.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from deltafed import ConfigurationError
from deltafed.cli import main
from deltafed.node import build_node, load_config
from deltafed.testing import LoopbackServer

from .test_serve_cli import write_node_files

NOW = dt.datetime.now(dt.UTC)


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_pki(folder: Path, *, key_identifiers: bool = True) -> dict[str, Path]:
    """A test CA, a server certificate for 127.0.0.1 and a client certificate.

    The profile passes strict X.509 verification (``ssl.VERIFY_X509_STRICT``, which Python
    3.13's default context sets): every certificate has a Subject and an Authority Key
    Identifier, basic constraints marked critical, and a critical key usage that fits its role.
    ``key_identifiers=False`` leaves the key identifiers out, to show that strict checking bites.
    """
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca_builder = (
        x509.CertificateBuilder()
        .subject_name(_name("deltafed TEST CA"))
        .issuer_name(_name("deltafed TEST CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(minutes=5))
        .not_valid_after(NOW + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
    )
    if key_identifiers:
        ca_builder = ca_builder.add_extension(ca_ski, critical=False).add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
    ca = ca_builder.sign(ca_key, hashes.SHA256())
    paths = {"ca": folder / "ca.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for role, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(f"deltafed TEST {role}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - dt.timedelta(minutes=5))
            .not_valid_after(NOW + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if key_identifiers:
            builder = builder.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            ).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
        if role == "server":
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
        cert = builder.sign(ca_key, hashes.SHA256())
        paths[f"{role}_cert"] = folder / f"{role}.crt"
        paths[f"{role}_key"] = folder / f"{role}.key"
        paths[f"{role}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, paths[f"{role}_key"])
    return paths


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    """A CA signs certificates (and CRLs); an end entity signs TLS handshakes."""
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def tls_section(pki: dict[str, Path], *, mutual: bool) -> str:
    lines = [
        "[tls]",
        f'cert_file = "{pki["server_cert"]}"',
        f'key_file = "{pki["server_key"]}"',
    ]
    if mutual:
        lines.append(f'client_ca_file = "{pki["ca"]}"')
    return "\n".join(lines) + "\n"


def with_tls(tmp_path: Path, section: str, extra: str = "") -> Path:
    config = write_node_files(tmp_path, extra=extra)
    config.write_text(config.read_text() + "\n" + section)
    return config


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ('[tls]\ncert_file = "server.crt"\n', "needs both cert_file and key_file"),
        ('[tls]\nkey_file = "server.key"\n', "needs both cert_file and key_file"),
        ('[tls]\nclient_ca_file = "ca.pem"\n', "client_ca_file needs cert_file"),
        ('[tls]\ncert_file = "nope.crt"\nkey_file = "server.key"\n', "cert_file: no file"),
        ('[tls]\ncipher = "rc4"\n', "unknown keys ['cipher']"),
    ],
)
def test_bad_tls_sections_are_refused(tmp_path: Path, section: str, message: str) -> None:
    make_pki(tmp_path)
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_config(with_tls(tmp_path, section))


def test_allow_plain_http_must_be_a_boolean(tmp_path: Path) -> None:
    config = write_node_files(tmp_path, extra='allow_plain_http = "yes"')
    with pytest.raises(ConfigurationError, match="allow_plain_http must be true or false"):
        load_config(config)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_plain_http_on_loopback_is_allowed(tmp_path: Path, host: str) -> None:
    load_config(write_node_files(tmp_path)).check_transport(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.7", "::", "node.example"])
def test_plain_http_elsewhere_is_refused(tmp_path: Path, host: str) -> None:
    config = load_config(write_node_files(tmp_path))
    with pytest.raises(ConfigurationError, match="refusing to serve plain HTTP") as refused:
        config.check_transport(host)
    assert refused.value.remediation is not None
    assert "[tls]" in refused.value.remediation


def test_plain_http_elsewhere_when_explicitly_allowed(tmp_path: Path) -> None:
    config = load_config(write_node_files(tmp_path, extra="allow_plain_http = true"))
    config.check_transport("0.0.0.0")


def test_tls_allows_any_address(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = load_config(with_tls(tmp_path, tls_section(pki, mutual=False)))
    config.check_transport("0.0.0.0")
    assert config.uvicorn_tls_options() == {
        "ssl_certfile": str(pki["server_cert"]),
        "ssl_keyfile": str(pki["server_key"]),
    }


def test_serve_refuses_plain_http_on_all_interfaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_node_files(tmp_path)
    assert main(["serve", "--config", str(config), "--host", "0.0.0.0", "--check"]) == 2
    err = capsys.readouterr().err
    assert "refusing to serve plain HTTP on 0.0.0.0" in err
    assert not (tmp_path / "audit.db").exists()  # refused before anything was opened


def test_serve_hands_tls_options_to_uvicorn(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from deltafed.cli import _serve

    pki = make_pki(tmp_path)
    config = with_tls(tmp_path, tls_section(pki, mutual=True))
    seen: dict[str, Any] = {}

    def fake_run(app: Any, *, host: str, port: int, **tls: Any) -> None:
        seen.update(tls)

    monkeypatch.setattr(_serve, "run_uvicorn", fake_run)
    assert main(["serve", "--config", str(config), "--port", "9443"]) == 0
    assert seen["ssl_cert_reqs"] == ssl.CERT_REQUIRED
    assert seen["ssl_ca_certs"] == str(pki["ca"])
    assert "listening on https://127.0.0.1:9443 (client certificates required)" in (
        capsys.readouterr().out
    )


def _context(pki: dict[str, Path], *, client_cert: bool) -> ssl.SSLContext:
    """A client context that verifies strictly on every Python (3.13's default; set here)."""
    context = ssl.create_default_context(cafile=str(pki["ca"]))
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    if client_cert:
        context.load_cert_chain(str(pki["client_cert"]), str(pki["client_key"]))
    return context


def _strict_server(pki: dict[str, Path]) -> ssl.SSLContext:
    """A server context that requires a client certificate and verifies it strictly."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pki["server_cert"]), str(pki["server_key"]))
    context.load_verify_locations(cafile=str(pki["ca"]))
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def _handshake(client: ssl.SSLContext, server: ssl.SSLContext) -> None:
    """One TLS handshake in memory (no socket); raises ``ssl.SSLError`` when a side refuses."""
    to_server, to_client = ssl.MemoryBIO(), ssl.MemoryBIO()
    c = client.wrap_bio(to_client, to_server, server_hostname="127.0.0.1")
    s = server.wrap_bio(to_server, to_client, server_side=True)
    pending = {c, s}
    for _ in range(20):
        for side in list(pending):
            try:
                side.do_handshake()
            except ssl.SSLWantReadError:
                continue
            pending.discard(side)
        if not pending:
            # TLS 1.3: the server sees the client certificate when it reads the client's Finished.
            s.write(b"ping")
            c.read(4)
            return
    raise AssertionError("the handshake did not finish")


def test_test_pki_passes_strict_x509_verification_both_ways(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    _handshake(_context(pki, client_cert=True), _strict_server(pki))


@pytest.mark.parametrize("verifier", ["client", "server", None])
def test_strict_verification_refuses_certificates_without_key_identifiers(
    tmp_path: Path, verifier: str | None
) -> None:
    pki = make_pki(tmp_path, key_identifiers=False)
    client = _context(pki, client_cert=True)
    server = _strict_server(pki)
    # Only the side under test verifies strictly; with neither, the same certificates pass.
    for name, context in (("client", client), ("server", server)):
        if name != verifier:
            context.verify_flags &= ~ssl.VERIFY_X509_STRICT
    if verifier is None:
        _handshake(client, server)
        return
    with pytest.raises(ssl.SSLCertVerificationError, match="Missing Authority Key Identifier"):
        _handshake(client, server)


def test_a_node_served_over_tls(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = load_config(with_tls(tmp_path, tls_section(pki, mutual=False)))
    server = LoopbackServer()
    server.start(build_node(config), **config.uvicorn_tls_options())
    try:
        assert server.url.startswith("https://")
        url = f"{server.url}/deltafed/v1/health"
        with httpx.Client(verify=_context(pki, client_cert=False)) as http:
            assert http.get(url).status_code == 200
        # A client that does not trust the test CA refuses the connection.
        with (
            httpx.Client(verify=ssl.create_default_context()) as http,
            pytest.raises(httpx.ConnectError),
        ):
            http.get(url)
    finally:
        server.stop()


def test_mutual_tls_requires_a_client_certificate(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    config = load_config(with_tls(tmp_path, tls_section(pki, mutual=True)))
    server = LoopbackServer()
    server.start(build_node(config), **config.uvicorn_tls_options())
    try:
        assert server.url.startswith("https://")
        url = f"{server.url}/deltafed/v1/health"
        with httpx.Client(verify=_context(pki, client_cert=True)) as http:
            assert http.get(url).status_code == 200
        with (
            httpx.Client(verify=_context(pki, client_cert=False)) as http,
            pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)),
        ):
            http.get(url)
    finally:
        server.stop()
