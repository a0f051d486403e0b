"""The concern stores (SQLite and PostgreSQL, see ``open_store``): one history per concern, never
forked, kept across restarts; a notice claimed by one sweep only; a SQLite file that cannot be
opened is a typed error and leaves no connection open."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deltafed import ConfigurationError, InvalidInputError
from deltafed.concerns import ConcernRecord, ConcernStore, SqliteConcernStore

StoreOpener = Callable[[], ConcernStore]

AT = datetime(2026, 2, 13, 2, 0, tzinfo=UTC)


def record(make_concern: Any, number: int = 1) -> ConcernRecord:
    return ConcernRecord(
        concern=make_concern(number),
        filer_member="310000/dsj",
        responsible="320000/dsj",
        supervisor="320000/zwfw",
        scenario="yrd-cross-region-concerns",
        status="filed",
        filing_request=b"a.b.c",
        filing_digest="sha-256:" + "00" * 32,
        received_at=AT,
        ack_due=AT + timedelta(days=1),
        answer_due=AT + timedelta(days=3),
    )


def test_a_history_cannot_fork_and_notices_are_sent_once(
    open_store: StoreOpener, make_concern: Any
) -> None:
    one = record(make_concern)
    store = open_store()
    assert store.create(one, b"e0")
    assert not store.create(one, b"other")  # the id is taken: nothing written
    store.append(one.id, 1, b"e1", status="filed", notice="reminder:acknowledge")
    with pytest.raises(InvalidInputError):  # event 1 is taken
        store.append(one.id, 1, b"fork", status="acknowledged", notice=None)
    with pytest.raises(InvalidInputError):  # the same notice twice
        store.append(one.id, 2, b"e2", status="filed", notice="reminder:acknowledge")
    store.append(one.id, 2, b"e2", status="filed", notice="escalated:acknowledge")
    store.close()
    again = open_store()  # a restart (or another worker) sees everything
    kept = again.get(one.id)
    assert kept is not None
    assert kept == replace(
        one, notices=frozenset({"reminder:acknowledge", "escalated:acknowledge"})
    )
    assert again.events(one.id) == [b"e0", b"e1", b"e2"]
    assert again.escalated_to("320000/zwfw") == [one.id]
    assert again.escalated_to("310000/dsj") == []
    assert [r.id for r in again.find(status="filed")] == [one.id]
    assert again.find(status="closed") == []
    assert again.get("no-such-concern-0001") is None
    assert again.events("no-such-concern-0001") == []


def test_find_and_escalations_are_ordered_alike_in_every_store(
    open_store: StoreOpener, make_concern: Any
) -> None:
    store = open_store()
    # Received out of id order; two at the same time (then ordered by id).
    for number, minutes in ((3, 0), (1, 5), (2, 5)):
        later = record(make_concern, number)
        at = AT + timedelta(minutes=minutes)
        assert store.create(replace(later, received_at=at), b"e0")
        store.append(later.id, 1, b"e1", status="filed", notice="escalated:acknowledge")
    ids = [make_concern(n).id for n in (3, 1, 2)]
    assert [r.id for r in store.find()] == ids
    assert store.escalated_to("320000/zwfw") == sorted(ids)


def test_a_notice_is_claimed_by_one_sweep_until_stored_released_or_stale(
    open_store: StoreOpener, make_concern: Any
) -> None:
    one = record(make_concern)
    first, second = open_store(), open_store()  # two workers
    assert not first.claim_notice(one.id, "reminder:answer", claim="a", now=100, lease=30)
    assert first.create(one, b"e0")
    assert first.claim_notice(one.id, "reminder:answer", claim="a", now=100, lease=30)
    assert not second.claim_notice(one.id, "reminder:answer", claim="b", now=129, lease=30)
    # Another notice of the same concern is claimed apart.
    assert second.claim_notice(one.id, "reminder:acknowledge", claim="b", now=129, lease=30)
    # The same claimant again (a retry after a lost connection) keeps its claim.
    assert first.claim_notice(one.id, "reminder:answer", claim="a", now=101, lease=30)
    # Releasing someone else's claim does nothing; releasing one's own frees the notice.
    second.release_notice(one.id, "reminder:answer", claim="b")
    assert not second.claim_notice(one.id, "reminder:answer", claim="b", now=110, lease=30)
    first.release_notice(one.id, "reminder:answer", claim="a")
    assert second.claim_notice(one.id, "reminder:answer", claim="b", now=110, lease=30)
    # A claim whose sweeper died is taken over once its lease has passed...
    assert not first.claim_notice(one.id, "reminder:answer", claim="c", now=139, lease=30)
    assert first.claim_notice(one.id, "reminder:answer", claim="c", now=140, lease=30)
    # ...and a stored notice is never claimed again, whoever asks and however late.
    first.append(one.id, 1, b"e1", status="filed", notice="reminder:answer")
    assert not second.claim_notice(one.id, "reminder:answer", claim="b", now=10_000, lease=30)
    assert not first.claim_notice(one.id, "reminder:answer", claim="c", now=140, lease=30)


def test_a_store_that_fails_to_open_leaves_nothing_open(
    tmp_path: Path, open_files: Callable[[Path], list[str]]
) -> None:
    with SqliteConcernStore(tmp_path / "ok.db"):
        assert open_files(tmp_path)
    assert open_files(tmp_path) == []
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database, " * 512)
    with pytest.raises(ConfigurationError, match="cannot open the concern store") as refused:
        SqliteConcernStore(junk)
    # Checked while the traceback (and the half-built store in it) is still alive.
    assert open_files(tmp_path) == [], refused.value
