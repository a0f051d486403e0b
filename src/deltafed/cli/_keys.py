"""``deltafed keys``: make a node's signing key and read its public half.

* ``generate --out FILE [--alg EdDSA|ES256|SM2]`` writes a new private key as PKCS#8 PEM, readable
  by its owner only (mode 0600), never over an existing file, and prints its key id (the
  RFC 7638 thumbprint).
* ``show FILE`` prints the algorithm, the key id and the public JWK - never the private part.
* ``export-public FILE [--format jwk|pem]`` prints the public key, for the trust registry.

``--password-env VAR`` encrypts (``generate``) or decrypts (the others) the PEM with the
passphrase held in the environment variable ``VAR``, so it never appears in a process list.
Private key files may also hold a private JWK (JSON) when read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

from deltafed._errors import ConfigurationError
from deltafed.keys import SUPPORTED_ALGORITHMS, PrivateKey

__all__ = ["register"]


def _password(args: argparse.Namespace) -> bytes | None:
    name = args.password_env
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set or empty")
    return value.encode("utf-8")


def _run_generate(args: argparse.Namespace) -> int:
    key = PrivateKey.generate(args.alg)
    path = key.save(args.out, _password(args))
    print(key.kid)
    print(f"wrote {key.alg} private key to {path} (mode 0600)", file=sys.stderr)
    return 0


def _run_show(args: argparse.Namespace) -> int:
    key = PrivateKey.load(args.file, _password(args))
    print(f"alg: {key.alg}")
    print(f"kid: {key.kid}")
    print("public_jwk: " + json.dumps(key.public_jwk(), sort_keys=True))
    return 0


def _run_export_public(args: argparse.Namespace) -> int:
    key = PrivateKey.load(args.file, _password(args))
    if args.format == "pem":
        sys.stdout.write(key.public_key.to_pem().decode("ascii"))
    else:
        print(json.dumps(key.public_jwk(), indent=2, sort_keys=True))
    return 0


def _add_password(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-env",
        metavar="VAR",
        help="environment variable holding the PEM passphrase",
    )


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "keys", help="generate a signing key, show it, export its public half"
    )
    actions = parser.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    generate = actions.add_parser("generate", help="write a new private key (mode 0600)")
    generate.add_argument("--out", required=True, metavar="FILE", help="where to write it")
    generate.add_argument(
        "--alg",
        choices=(*SUPPORTED_ALGORITHMS, "SM2"),
        default="EdDSA",
        help="default: EdDSA (Ed25519); SM2 (= SM2SM3) for a gm federation, needs deltafed[gm]",
    )
    _add_password(generate)
    generate.set_defaults(func=_run_generate)

    show = actions.add_parser("show", help="print alg, kid and public JWK of a key file")
    show.add_argument("file", metavar="FILE")
    _add_password(show)
    show.set_defaults(func=_run_show)

    export = actions.add_parser("export-public", help="print the public key as JWK or PEM")
    export.add_argument("file", metavar="FILE")
    export.add_argument("--format", choices=("jwk", "pem"), default="jwk")
    _add_password(export)
    export.set_defaults(func=_run_export_public)
