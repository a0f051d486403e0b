"""``deltafed serve --config FILE``: run a node under uvicorn (the ``serve`` extra).

``--check`` builds the node (keys, registry, adapter, audit log, replay store), prints what it
would serve and exits without listening: a dry run for operators and for CI. ``--workers N``
runs N processes (uvicorn's supervisor, which restarts a worker that dies), each building its
own node from the same file; they share the stores, so they answer as one node.
"""

from __future__ import annotations

import argparse
import importlib
import os
from pathlib import Path
from typing import Any

import anyio

from deltafed import _pg
from deltafed._errors import ConfigurationError
from deltafed.node import CONFIG_ENV, build_node, load_config
from deltafed.node._factory import LOG_LEVEL_ENV
from deltafed.node._observe import LOG_LEVELS, configure_logging
from deltafed.protocol import OPERATION_PATHS

__all__ = ["register", "run_uvicorn", "run_uvicorn_workers"]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run a federation node",
        description="Run a deltafed node (ASGI on uvicorn) from a TOML configuration file.",
    )
    parser.add_argument("--config", required=True, metavar="FILE", help="node configuration")
    parser.add_argument("--host", help="override [node] host")
    parser.add_argument("--port", type=int, help="override [node] port")
    parser.add_argument(
        "--check", action="store_true", help="build the node, print a summary, do not serve"
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, help="override [node] log_level (default: info)"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="worker processes sharing the node's stores (needs [replay] db or [store] url)",
    )
    parser.set_defaults(func=_serve)


def _uvicorn() -> Any:
    try:
        return importlib.import_module("uvicorn")
    except ImportError as exc:
        raise ConfigurationError(
            "deltafed serve needs uvicorn",
            remediation="Install the serve extra: pip install 'deltafed[serve]'.",
        ) from exc


def _http_protocol() -> type[Any]:
    """The HTTP protocol class every ``deltafed serve`` process uses: h11 with
    ``TCP_NODELAY`` (see :mod:`deltafed.cli._nodelay`; with ``--workers N`` uvicorn's own
    socket would otherwise leave each answer's body waiting for a delayed ACK)."""
    from deltafed.cli._nodelay import NoDelayH11Protocol

    return NoDelayH11Protocol


def run_uvicorn(
    app: Any,
    *,
    host: str,
    port: int,
    log_level: str = "info",
    json_logs: bool = True,
    **tls: Any,
) -> None:
    """Serve ``app`` with uvicorn until interrupted; ``tls`` are uvicorn's ``ssl_*`` options.

    deltafed's own logs (``deltafed.*``, one line per exchange among them) go to standard
    error at ``log_level``, as JSON lines unless ``json_logs`` is false.
    """
    configure_logging(log_level, json_lines=json_logs)
    _uvicorn().run(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        server_header=False,
        http=_http_protocol(),
        **tls,
    )


def run_uvicorn_workers(
    config: str, *, host: str, port: int, workers: int, log_level: str = "info", **tls: Any
) -> None:
    """Serve ``workers`` processes, each building the node of ``config`` (see
    :func:`deltafed.node.app_from_environment`, which also sets up each worker's logging);
    uvicorn restarts a worker that dies."""
    os.environ[CONFIG_ENV] = str(Path(config).resolve())
    os.environ[LOG_LEVEL_ENV] = log_level
    _uvicorn().run(
        "deltafed.node:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        lifespan="on",
        log_level=log_level,
        server_header=False,
        http=_http_protocol(),
        **tls,
    )


def _serve(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    host = args.host or config.host
    port = args.port if args.port is not None else config.port
    config.check_transport(host)
    if not 1 <= args.workers <= 64:
        raise ConfigurationError("--workers must be 1 to 64")
    if args.workers > 1 and config.store_url is None and config.replay_db is None:
        raise ConfigurationError(
            "--workers needs a replay store the workers share",
            remediation="Set [replay] db (one host) or [store] url (PostgreSQL, any hosts).",
        )
    if not args.check:
        _uvicorn()  # fail before opening anything if the extra is missing
    node = build_node(config)
    print(f"node {node.member} (region {node.member.region}), key {node.signer.kid}")
    print(f"registry version {node.registry.version} ({node.registry.state})")
    if config.store_url is not None:
        print(f"adapter {config.adapter}; store {_pg.redact(config.store_url)}")
    else:
        print(
            f"adapter {config.adapter}; audit {config.audit_db}; "
            f"replay {config.replay_db or 'memory'}"
        )
    for operation, path in sorted(OPERATION_PATHS.items()):
        print(f"  POST {path}  ({operation})")
    if args.check:
        anyio.run(node.aclose)
        return 0
    scheme = "https" if config.tls else "http"
    mutual = " (client certificates required)" if config.tls_client_ca_file else ""
    if args.workers > 1:
        # Each worker builds its own node (and connections); this one only checked the files.
        anyio.run(node.aclose)
        print(f"listening on {scheme}://{host}:{port}{mutual} with {args.workers} workers")
        run_uvicorn_workers(
            args.config,
            host=host,
            port=port,
            workers=args.workers,
            log_level=args.log_level or config.log_level,
            **config.uvicorn_tls_options(),
        )
        return 0
    print(f"listening on {scheme}://{host}:{port}{mutual}")
    try:
        run_uvicorn(
            node,
            host=host,
            port=port,
            log_level=args.log_level or config.log_level,
            json_logs=config.log_format == "json",
            **config.uvicorn_tls_options(),
        )
    finally:
        # uvicorn's lifespan shutdown has closed the node; this covers a server that never
        # started (closing is idempotent).
        anyio.run(node.aclose)
    return 0
