from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deltafed import FixedClock
from deltafed.audit import AuditLog, SqliteAuditStore
from deltafed.keys import PrivateKey, StaticKeyResolver
from deltafed.schemas.identifiers import compute_resident_check

NODE = "310000/gongan/hukou"
PEER = "320000/renshe/shebao"
SUBJECT_KEY = bytes(range(32))


def resident(n: int) -> str:
    """A synthetic, checksum-valid resident identity number (Xuhui, born 1990-01-01)."""
    body = f"31010419900101{n:03d}"
    return body + compute_resident_check(body)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 3, 1, 8, 0, tzinfo=UTC))


@pytest.fixture
def key() -> PrivateKey:
    return PrivateKey.from_seed(b"\x01" * 32)


@pytest.fixture
def resolver(key: PrivateKey) -> StaticKeyResolver:
    return StaticKeyResolver({NODE: [key.public_key]})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


@pytest.fixture
def store(db: Path) -> Iterator[SqliteAuditStore]:
    s = SqliteAuditStore(db)
    yield s
    s.close()


@pytest.fixture
def log(store: SqliteAuditStore, key: PrivateKey, clock: FixedClock) -> AuditLog:
    return AuditLog(store, node=NODE, signer=key, subject_key=SUBJECT_KEY, clock=clock)


Append = Callable[..., None]


@pytest.fixture
def append(clock: FixedClock) -> Append:
    """``append(log, n, subject=None)``: record ``n`` exchanges, one second apart."""
    return lambda log, n, subject=None: _record(log, clock, n, subject)


@pytest.fixture
def rid() -> Callable[[int], str]:
    return resident


def _record(log: AuditLog, clock: FixedClock, n: int, subject: int | None) -> None:
    for _ in range(n):
        i = log.size
        log.record(
            role="responder",
            counterpart=PEER,
            operation="record.request",
            scenario="social-insurance-transfer" if i % 2 else "housing-fund-loan",
            subjects=[resident(i % 5 if subject is None else subject)],
            fields=["name", "insured_months"],
            outcome="ok",
            request_id=f"req-{i:06d}",
            request=f"eyJhbGciOiJFZERTQSJ9.request-{i}.c2ln".encode(),
            response=f"eyJhbGciOiJFZERTQSJ9.response-{i}.c2ln".encode(),
        )
        clock.advance(1)


@pytest.fixture
def sql(db: Path, store: SqliteAuditStore) -> Iterator[sqlite3.Connection]:
    """A second, plain connection to the file: what someone with file access can do."""
    conn = sqlite3.connect(db, isolation_level=None)
    yield conn
    conn.close()
