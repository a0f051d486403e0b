"""Someone with write access to the SQLite file changes it; verification must say where."""

from __future__ import annotations

import sqlite3

import pytest

from deltafed import AuditIntegrityError
from deltafed.audit import AuditLog, VerificationReport, verify_log
from deltafed.keys import PrivateKey

NODE = "310000/gongan/hukou"


def flip(conn: sqlite3.Connection, column: str, seq: int, offset: int) -> None:
    (value,) = conn.execute(f"SELECT {column} FROM entries WHERE seq = ?", (seq,)).fetchone()
    data = bytearray(value)
    data[offset % len(data)] ^= 0x01
    conn.execute(f"UPDATE entries SET {column} = ? WHERE seq = ?", (bytes(data), seq))


def check(report: VerificationReport, position: int, kind: str) -> None:
    assert not report.ok
    assert report.first is not None
    assert (report.first.position, report.first.kind) == (position, kind), report.problems
    with pytest.raises(AuditIntegrityError) as err:
        report.raise_for_problems()
    assert err.value.position == position
    assert err.value.kind == kind


@pytest.fixture
def filled(log: AuditLog, append) -> AuditLog:  # type: ignore[no-untyped-def]
    append(log, 20)
    return log


def verify(log: AuditLog, resolver, **kw) -> VerificationReport:  # type: ignore[no-untyped-def]
    return verify_log(log.store, node=NODE, resolver=resolver, **kw)


@pytest.mark.parametrize("offset", [0, 1, 17, 60, 150, 250, -2, -1])
@pytest.mark.parametrize("seq", [0, 7, 19])
def test_flipped_byte_in_an_entry(filled, sql, resolver, seq: int, offset: int) -> None:  # type: ignore[no-untyped-def]
    flip(sql, "entry", seq, offset)
    report = verify(filled, resolver)
    check(report, seq, "modified")
    # reported once, at the entry, not again at the next one
    assert [p.position for p in report.problems] == [seq]


@pytest.mark.parametrize("column", ["request", "response"])
def test_flipped_byte_in_the_evidence(filled, sql, resolver, column: str) -> None:  # type: ignore[no-untyped-def]
    flip(sql, column, 11, 5)
    report = verify(filled, resolver)
    check(report, 11, "modified")
    assert f"{column}_digest" in report.problems[0].detail


def test_modified_entry_with_its_leaf_rewritten_breaks_the_chain(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    from deltafed.audit._merkle import leaf_hash

    (entry,) = sql.execute("SELECT entry FROM entries WHERE seq = 4").fetchone()
    forged = bytes(entry).replace(b'"ok"', b'"not_found"')
    assert forged != bytes(entry)
    sql.execute("UPDATE entries SET entry = ? WHERE seq = 4", (forged,))
    sql.execute("UPDATE nodes SET hash = ? WHERE level = 0 AND idx = 4", (leaf_hash(forged),))
    report = verify(filled, resolver)
    check(report, 5, "chain_broken")
    assert any(p.kind == "nodes_mismatch" for p in report.problems)


def test_deleted_entry(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    sql.execute("DELETE FROM entries WHERE seq = 6")
    sql.execute("DELETE FROM subjects WHERE seq = 6")
    check(verify(filled, resolver), 6, "deleted")


def test_deleted_entry_with_renumbering(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    sql.execute("DELETE FROM entries WHERE seq = 6")
    sql.execute("UPDATE entries SET seq = seq - 1 WHERE seq > 6")
    report = verify(filled, resolver)
    # the row now at 6 carries seq 7 inside: it is out of place
    check(report, 6, "reordered")


def test_reordered_entries(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    rows = {
        seq: row
        for seq, *row in sql.execute(
            "SELECT seq, at, counterpart, scenario, entry, request, response FROM entries"
            " WHERE seq IN (9, 10)"
        )
    }
    for seq, other in ((9, 10), (10, 9)):
        sql.execute(
            "UPDATE entries SET at=?, counterpart=?, scenario=?, entry=?, request=?, response=?"
            " WHERE seq = ?",
            (*rows[other], seq),
        )
    check(verify(filled, resolver), 9, "reordered")


def test_truncated_below_a_checkpoint(filled, sql, resolver, append) -> None:  # type: ignore[no-untyped-def]
    filled.checkpoint()
    sql.execute("DELETE FROM entries WHERE seq >= 15")
    sql.execute("DELETE FROM subjects WHERE seq >= 15")
    sql.execute("DELETE FROM nodes WHERE ((idx + 1) << level) > 15")
    check(verify(filled, resolver), 15, "truncated")


def test_truncated_without_checkpoint_leaves_traces(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    sql.execute("DELETE FROM entries WHERE seq >= 12")
    check(verify(filled, resolver), 12, "truncated")


def test_forged_append_that_does_not_link(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    (entry, req, resp, at) = sql.execute(
        "SELECT entry, request, response, at FROM entries WHERE seq = 19"
    ).fetchone()
    forged = bytes(entry).replace(b'"seq":19', b'"seq":20')
    sql.execute(
        "INSERT INTO entries VALUES (20, ?, '320000/renshe/shebao', 'social-insurance-transfer',"
        " ?, ?, ?)",
        (at, forged, req, resp),
    )
    report = verify(filled, resolver)
    assert report.first is not None
    assert report.first.position == 20
    assert report.first.kind in {"chain_broken", "modified"}


def _rewrite_from(log: AuditLog, sql: sqlite3.Connection, start: int, append, n: int) -> None:  # type: ignore[no-untyped-def]
    """Roll the log back to ``start`` and append forged entries with a correct chain."""
    sql.execute("DELETE FROM entries WHERE seq >= ?", (start,))
    sql.execute("DELETE FROM subjects WHERE seq >= ?", (start,))
    sql.execute("DELETE FROM nodes WHERE ((idx + 1) << level) > ?", (start,))
    forger = AuditLog(
        log.store,
        node=NODE,
        signer=PrivateKey.from_seed(b"\x66" * 32),
        subject_key=b"k" * 32,
        clock=log._clock,
    )
    append(forger, n)


def test_forged_rewrite_with_a_valid_chain_contradicts_the_checkpoints(  # type: ignore[no-untyped-def]
    log, append, sql, resolver
) -> None:
    append(log, 5)
    log.checkpoint()
    append(log, 5)
    log.checkpoint()
    append(log, 3)
    _rewrite_from(log, sql, 5, append, 8)
    report = verify(log, resolver)
    check(report, 5, "checkpoint_mismatch")
    assert report.anchored_size == 5


def test_forged_append_after_the_last_checkpoint(log, append, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    append(log, 8)
    log.checkpoint()
    _rewrite_from(log, sql, 8, append, 3)  # nothing removed: a pure forged append
    assert verify(log, resolver).ok  # the chain is valid: only a signature could tell
    check(verify(log, resolver, require_anchored=True), 8, "unanchored")


def test_a_peer_held_checkpoint_survives_deletion_of_the_stored_ones(  # type: ignore[no-untyped-def]
    log, append, sql, resolver
) -> None:
    append(log, 10)
    held_by_peer = log.checkpoint()
    _rewrite_from(log, sql, 3, append, 9)
    sql.execute("DELETE FROM checkpoints")
    assert verify(log, resolver).ok
    report = verify(log, resolver, checkpoints=[held_by_peer])
    check(report, 0, "checkpoint_mismatch")
    assert "entries 0 to 9" in report.problems[0].detail


@pytest.mark.parametrize(
    "statement",
    [
        "DELETE FROM subjects WHERE seq = 13",
        "UPDATE entries SET counterpart = '330000/other' WHERE seq = 13",
        "UPDATE entries SET scenario = 'other' WHERE seq = 13",
        "UPDATE entries SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 13",
        "INSERT INTO subjects VALUES ('hmac-sha256:' || hex(zeroblob(32)), 13)",
    ],
)
def test_tampered_index(filled, sql, resolver, statement: str) -> None:  # type: ignore[no-untyped-def]
    sql.execute(statement)
    check(verify(filled, resolver), 13, "index_mismatch")


def test_tampered_subtree(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    sql.execute("UPDATE nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 1")
    check(verify(filled, resolver), 7, "nodes_mismatch")


def test_tampered_checkpoint_signature(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    jws = filled.checkpoint().decode()
    header, payload, sig = jws.split(".")
    bad = f"{header}.{payload}.{'A' * len(sig)}"
    sql.execute("UPDATE checkpoints SET jws = ?", (bad,))
    report = verify(filled, resolver)
    assert report.first is not None
    assert report.first.kind == "bad_checkpoint"
    assert "bad_signature" in report.first.detail
    assert report.checkpoints_checked == 0


def test_checkpoint_of_a_foreign_key(filled, sql, resolver) -> None:  # type: ignore[no-untyped-def]
    from deltafed.audit import sign_checkpoint

    forged = sign_checkpoint(
        PrivateKey.from_seed(b"\x09" * 32),
        log=NODE,
        size=filled.size,
        root=filled.root(),
        issued_at=filled._clock(),
    )
    sql.execute("INSERT INTO checkpoints (size, jws) VALUES (?, ?)", (filled.size, forged))
    report = verify(filled, resolver)
    assert [p.kind for p in report.problems] == ["bad_checkpoint"]


def test_subject_view_refuses_an_index_pointing_at_a_deleted_entry(  # type: ignore[no-untyped-def]
    filled, sql, rid
) -> None:
    sql.execute("DELETE FROM entries WHERE seq = 8")
    with pytest.raises(AuditIntegrityError) as err:
        filled.subject_view(rid(3))
    assert err.value.position == 8
