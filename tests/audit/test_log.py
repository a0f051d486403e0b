from __future__ import annotations

import io
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deltafed import (
    AuditIntegrityError,
    ConfigurationError,
    FixedClock,
    IdentifierError,
    KeyNotValidError,
    MalformedMessageError,
    SignatureInvalidError,
    SizeLimitError,
    UnknownKeyError,
    WrongIssuerError,
)
from deltafed.audit import (
    AuditLog,
    AuditStore,
    InclusionProof,
    MemoryAuditStore,
    SqliteAuditStore,
    parse_checkpoint,
    verify_export,
    verify_inclusion_proof,
    verify_log,
)
from deltafed.keys import PrivateKey, StaticKeyResolver, Verifier

NODE = "310000/gongan/hukou"
PEER = "320000/renshe/shebao"
OpenFiles = Callable[[Path], list[str]]


def test_record_is_chained_and_verifies(log: AuditLog, append, resolver, store) -> None:  # type: ignore[no-untyped-def]
    append(log, 9)
    entries = [log.entry(i) for i in range(9)]
    assert [e.seq for e in entries] == list(range(9))
    assert entries[0].prev_hash == "sha-256:" + "0" * 64
    assert all(e.prev_hash != entries[0].prev_hash for e in entries[1:])
    log.checkpoint()
    report = verify_log(store, node=NODE, resolver=resolver, require_anchored=True)
    assert report.ok, report.problems
    assert (report.size, report.anchored_size, report.checkpoints_checked) == (9, 9, 1)
    assert report.root == log.root()
    report.raise_for_problems()


def test_record_returns_the_stored_entry(log: AuditLog, rid) -> None:  # type: ignore[no-untyped-def]
    entry = log.record(
        role="requester",
        counterpart=PEER,
        operation="certificate.verify",
        scenario="school-enrolment",
        subjects=[rid(7).lower(), rid(7)],
        fields=[],
        outcome="not_found",
        request_id="abc",
        request=b"req",
        response=b"resp",
    )
    assert entry == log.entry(0)
    assert len(entry.subject_refs) == 1  # x and X are one person
    assert entry.subject_refs[0] == log.subject_ref(rid(7))
    assert entry.request_digest.startswith("sha-256:")


def test_subject_view_and_lookups(log: AuditLog, append, clock: FixedClock, rid) -> None:  # type: ignore[no-untyped-def]
    start = clock()
    append(log, 10)
    view = log.subject_view(rid(3))
    assert [v.seq for v in view] == [3, 8]
    assert all(v.requester == PEER and v.responder == NODE for v in view)
    assert view[0].fields == ("name", "insured_months")
    assert view[0].scenario == "social-insurance-transfer"
    assert view[0].at == start + timedelta(seconds=3)
    assert log.subject_view(rid(99)) == []
    assert [e.seq for e in log.by_scenario("housing-fund-loan")] == [0, 2, 4, 6, 8]
    assert len(log.by_counterpart(PEER)) == 10
    assert log.by_counterpart("330000/other") == []
    got = log.between(start + timedelta(seconds=2), start + timedelta(seconds=5))
    assert [e.seq for e in got] == [2, 3, 4]
    with pytest.raises(IdentifierError):
        log.subject_view("not-an-id")


def test_credit_codes_are_subjects_too(log: AuditLog) -> None:
    from deltafed.schemas.identifiers import compute_credit_check, compute_organisation_check

    org = "MA1234567"[:8]
    org += compute_organisation_check(org)
    body = "91310104" + org
    code = body + compute_credit_check(body)
    log.record(
        role="requester", counterpart=PEER, operation="record.request", scenario="s",
        subjects=[code], fields=["x"], outcome="ok", request_id="r", request=b"a", response=b"b",
    )  # fmt: skip
    assert [v.seq for v in log.subject_view(code)] == [0]


def test_raw_identity_is_nowhere_in_the_file(log: AuditLog, append, db: Path, rid, store) -> None:  # type: ignore[no-untyped-def]
    append(log, 20)
    log.checkpoint()
    store.close()
    data = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    assert len(data) > 4096
    for i in range(5):
        assert rid(i).encode() not in data
        assert rid(i).encode("utf-16-le") not in data
    assert log.subject_ref(rid(0)).encode() in data  # the keyed reference is what is stored


def test_subject_refs_depend_on_the_key(store, key, clock, rid) -> None:  # type: ignore[no-untyped-def]
    a = AuditLog(store, node=NODE, signer=key, subject_key=b"a" * 32, clock=clock)
    b = AuditLog(store, node=NODE, signer=key, subject_key=b"b" * 32, clock=clock)
    assert a.subject_ref(rid(1)) != b.subject_ref(rid(1))
    with pytest.raises(ConfigurationError):
        AuditLog(store, node=NODE, signer=key, subject_key=b"short", clock=clock)


def test_sqlite_durability_settings(store: SqliteAuditStore) -> None:
    assert store.pragma("journal_mode") == "wal"
    assert store.pragma("synchronous") == 2  # FULL


def test_a_store_holds_its_file_open_until_closed(db: Path, open_files: OpenFiles) -> None:
    with SqliteAuditStore(db) as store:
        assert str(db.resolve()) in open_files(db.parent)
        store.close()  # closing twice is fine
    assert open_files(db.parent) == []


def test_a_store_that_fails_to_open_leaves_nothing_open(
    tmp_path: Path, open_files: OpenFiles
) -> None:
    import sqlite3

    newer = tmp_path / "newer.db"
    with SqliteAuditStore(newer):
        pass
    conn = sqlite3.connect(newer)
    conn.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 512)
    for path, message in ((newer, "schema version 999"), (junk, "cannot open audit database")):
        with pytest.raises(ConfigurationError, match=message) as refused:
            SqliteAuditStore(path)
        # Checked while the traceback (and the half-built store in it) is still alive.
        assert open_files(tmp_path) == [], refused.value


def test_seq_is_unique_in_sqlite(sql, log: AuditLog, append) -> None:  # type: ignore[no-untyped-def]
    import sqlite3

    append(log, 2)
    with pytest.raises(sqlite3.IntegrityError):
        sql.execute("INSERT INTO entries VALUES (1, 'x', 'y', 'z', x'00', x'00', x'00')")


def test_evidence_limits(log: AuditLog, rid) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SizeLimitError):
        log.record(
            role="requester", counterpart=PEER, operation="record.request", scenario="s",
            subjects=[rid(1)], fields=[], outcome="ok", request_id="r",
            request=b"x" * (8 * 1024 * 1024 + 1), response=b"",
        )  # fmt: skip
    assert log.size == 0


def test_two_writers_on_one_file_never_fork(db: Path, key, clock, append, resolver) -> None:  # type: ignore[no-untyped-def]
    with SqliteAuditStore(db) as first, SqliteAuditStore(db) as second:
        logs = [
            AuditLog(s, node=NODE, signer=key, subject_key=b"k" * 32, clock=clock)
            for s in (first, second)
        ]
        # Interleave: each writer's cached tail is stale every other time.
        for i in range(12):
            append(logs[i % 2], 1)
        threads = [threading.Thread(target=append, args=(lg, 15)) for lg in logs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        report = verify_log(first, node=NODE, resolver=resolver)
    assert report.ok, report.problems
    assert report.size == 42


def test_memory_store_behaves_the_same(key, clock, append, resolver) -> None:  # type: ignore[no-untyped-def]
    store = MemoryAuditStore()
    assert isinstance(store, AuditStore)
    log = AuditLog(store, node=NODE, signer=key, subject_key=b"k" * 32, clock=clock)
    append(log, 6)
    log.checkpoint()
    assert verify_log(store, node=NODE, resolver=resolver, require_anchored=True).ok
    store.rows[3] = store.rows[4]
    report = verify_log(store, node=NODE, resolver=resolver)
    assert report.first is not None
    assert (report.first.position, report.first.kind) == (3, "reordered")


# --- checkpoints and proofs --------------------------------------------------------------


def test_checkpoint_structure(log: AuditLog, append, resolver, key) -> None:  # type: ignore[no-untyped-def]
    append(log, 5)
    cp = parse_checkpoint(log.checkpoint(), log=NODE)
    assert (cp.size, cp.root, cp.kid, cp.alg) == (5, log.root(), key.kid, "EdDSA")
    cp.verify(resolver)
    with pytest.raises(WrongIssuerError):
        parse_checkpoint(cp.jws, log=PEER)
    other = StaticKeyResolver({NODE: [PrivateKey.from_seed(b"\x02" * 32).public_key]})
    with pytest.raises(UnknownKeyError, match="no key"):
        cp.verify(other)


@pytest.mark.parametrize(
    "bad",
    [42, None, "", "a.b", "a.b.c.d", b"\xff\xfe.x.y", "e30.e30.", "!!!.###.$$$", "x" * 70_000],
)
def test_malformed_checkpoints_get_a_typed_error(bad: object) -> None:
    with pytest.raises(MalformedMessageError):
        parse_checkpoint(bad)  # type: ignore[arg-type]


def test_inclusion_proofs(log: AuditLog, append, resolver) -> None:  # type: ignore[no-untyped-def]
    append(log, 11)
    log.checkpoint()
    for seq in range(11):
        proof = log.prove(seq)
        assert proof.tree_size == 11
        cp = verify_inclusion_proof(
            InclusionProof.from_json(proof.to_json()), log=NODE, resolver=resolver
        )
        assert cp.size == 11
    proof = log.prove(4)
    tampered_entry = proof.entry.replace(b"req-000004", b"req-000005")
    with pytest.raises(AuditIntegrityError) as err:
        verify_inclusion_proof(
            InclusionProof(4, 11, proof.path, tampered_entry, proof.checkpoint),
            log=NODE,
            resolver=resolver,
        )
    assert err.value.position == 4
    bad_path = (proof.path[0][::-1], *proof.path[1:])
    with pytest.raises(AuditIntegrityError):
        verify_inclusion_proof(
            InclusionProof(4, 11, bad_path, proof.entry, proof.checkpoint), log=NODE, resolver=None
        )
    forged_cp = proof.checkpoint[:-4] + ("AAAA" if proof.checkpoint[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SignatureInvalidError):
        verify_inclusion_proof(
            InclusionProof(4, 11, proof.path, proof.entry, forged_cp), log=NODE, resolver=resolver
        )


def test_proof_against_an_older_checkpoint(log: AuditLog, append, resolver) -> None:  # type: ignore[no-untyped-def]
    append(log, 3)
    old = log.checkpoint()
    append(log, 6)
    proof = log.prove(1, checkpoint=old)
    assert proof.tree_size == 3
    verify_inclusion_proof(proof, log=NODE, resolver=resolver)
    assert log.prove(7).tree_size == 9  # a new checkpoint is signed when none covers it


class _RotatingResolver:
    """A registry stand-in: each key is valid in a time window, like historical registry keys."""

    def __init__(self, windows: list[tuple[PrivateKey, datetime, datetime]]) -> None:
        self.windows = windows

    def resolve(self, member: str, kid: str, at: datetime) -> Verifier:
        for k, start, end in self.windows:
            if k.kid == kid:
                if not start <= at < end:
                    raise KeyNotValidError(f"key {kid} not valid at {at}")
                return k.public_key
        raise KeyNotValidError(f"unknown key {kid}")


def test_old_checkpoints_verify_after_key_rotation(store, clock: FixedClock, append) -> None:  # type: ignore[no-untyped-def]
    old_key, new_key = PrivateKey.from_seed(b"\x03" * 32), PrivateKey.generate("ES256")
    rotation = clock() + timedelta(seconds=30)
    far = datetime(2100, 1, 1, tzinfo=UTC)
    resolver = _RotatingResolver(
        [(old_key, datetime(2000, 1, 1, tzinfo=UTC), rotation), (new_key, rotation, far)]
    )
    before = AuditLog(store, node=NODE, signer=old_key, subject_key=b"k" * 32, clock=clock)
    append(before, 4)
    before.checkpoint()
    clock.set(rotation + timedelta(seconds=1))
    after = AuditLog(store, node=NODE, signer=new_key, subject_key=b"k" * 32, clock=clock)
    append(after, 4)
    after.checkpoint()
    report = verify_log(store, node=NODE, resolver=resolver, require_anchored=True)
    assert report.ok, report.problems
    assert report.checkpoints_checked == 2
    # A checkpoint signed with the retired key after the rotation is refused.
    late = AuditLog(store, node=NODE, signer=old_key, subject_key=b"k" * 32, clock=clock)
    late.checkpoint()
    report = verify_log(store, node=NODE, resolver=resolver)
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]


def test_export_round_trip(log: AuditLog, append, resolver, rid) -> None:  # type: ignore[no-untyped-def]
    append(log, 12)
    out = io.StringIO()
    assert log.export(out, subject=rid(2)) == 2
    lines = out.getvalue().splitlines()
    entries = verify_export(lines, log=NODE, resolver=resolver)
    assert [e.seq for e in entries] == [2, 7]
    assert rid(2) not in out.getvalue()
    everything = io.StringIO()
    assert log.export(everything) == 12
    assert len(verify_export(everything.getvalue().splitlines(), log=NODE, resolver=resolver)) == 12
    # a changed evidence byte in the export is caught with its position
    import json

    item = json.loads(lines[1])
    item["request"] = item["request"][:-2] + ("AA" if item["request"][-2:] != "AA" else "BB")
    with pytest.raises(AuditIntegrityError) as err:
        verify_export([lines[0], json.dumps(item)], log=NODE, resolver=resolver)
    assert err.value.position == 2


def test_consistency_between_checkpoints(log: AuditLog, append, resolver, sql) -> None:  # type: ignore[no-untyped-def]
    from deltafed.audit import ConsistencyProof, verify_consistency_proof

    append(log, 5)
    first = log.checkpoint()
    append(log, 8)
    proof = log.prove_consistency(first)
    old, new = verify_consistency_proof(
        ConsistencyProof.from_json(proof.to_json()), log=NODE, resolver=resolver
    )
    assert (old.size, new.size) == (5, 13)
    # The node itself (it holds the key) rewrites its history from entry 2 on and signs a new
    # head of the same size: a peer that kept the old head sees it does not extend it.
    sql.execute("DELETE FROM entries WHERE seq >= 2")
    sql.execute("DELETE FROM subjects WHERE seq >= 2")
    sql.execute("DELETE FROM nodes WHERE ((idx + 1) << level) > 2")
    forger = AuditLog(log.store, node=NODE, signer=log._signer, subject_key=b"k" * 32)
    append(forger, 11)
    rewritten = forger.prove_consistency(first)
    assert parse_checkpoint(rewritten.new).size == 13
    assert len(rewritten.path) == len(proof.path)
    with pytest.raises(AuditIntegrityError) as err:
        verify_consistency_proof(rewritten, log=NODE, resolver=resolver)
    assert err.value.position == 5
