"""The SQLite concern store: one history per concern, never forked, kept across restarts; a file
that cannot be opened is a typed error and leaves no connection open."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from deltafed import ConfigurationError, InvalidInputError
from deltafed.concerns import ConcernRecord, SqliteConcernStore

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


def test_a_history_cannot_fork_and_notices_are_sent_once(tmp_path: Path, make_concern: Any) -> None:
    path = tmp_path / "concerns.db"
    one = record(make_concern)
    with SqliteConcernStore(path) as store:
        assert store.create(one, b"e0")
        assert not store.create(one, b"other")  # the id is taken: nothing written
        store.append(one.id, 1, b"e1", status="filed", notice="reminder:acknowledge")
        with pytest.raises(InvalidInputError):  # event 1 is taken
            store.append(one.id, 1, b"fork", status="acknowledged", notice=None)
        with pytest.raises(InvalidInputError):  # the same notice twice
            store.append(one.id, 2, b"e2", status="filed", notice="reminder:acknowledge")
        store.append(one.id, 2, b"e2", status="filed", notice="escalated:acknowledge")
    with SqliteConcernStore(path) as again:  # a restart keeps everything
        kept = again.get(one.id)
        assert kept is not None
        assert kept.concern == one.concern
        assert kept.notices == frozenset({"reminder:acknowledge", "escalated:acknowledge"})
        assert again.events(one.id) == [b"e0", b"e1", b"e2"]
        assert again.escalated_to("320000/zwfw") == [one.id]
        assert again.escalated_to("310000/dsj") == []
        assert [r.id for r in again.find(status="filed")] == [one.id]
        assert again.find(status="closed") == []
        assert again.get("no-such-concern-0001") is None


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
