"""``deltafed events``: the operator sees parked events and gives them back to the loop, from a
node's state file or its PostgreSQL database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from deltafed.cli import main
from deltafed.events import PostgresEventStore, SqliteEventStore
from deltafed.schemas.common import HolderType
from deltafed.schemas.events import ChangeEvent

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def _event(n: int) -> ChangeEvent:
    return ChangeEvent(
        event_id=f"evt-cli-test-000000000{n}",
        subscription="sub-cli-test-0000000001",
        kind="certificate.renewed",
        subject_type=HolderType.RESIDENT,
        subject_code="11010519491231002X",
        target="11100000000013338W032",
        occurred_at=T0 + timedelta(minutes=n),
        seq=n,
    )


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The ``--db``: a node's state file, or the PostgreSQL database of its ``[store] url``."""
    if request.param == "postgres":
        url: str = request.getfixturevalue("pg_url")
        return url
    return str(tmp_path / "state.db")


def test_parked_events_are_listed_and_requeued(
    state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = state
    opened = PostgresEventStore(db) if db.startswith("postgresql://") else SqliteEventStore(db)
    with opened as store:
        store.enqueue([(_event(1), "310000/dsj", "s"), (_event(2), "310000/dsj", "s")], cursor=None)
        first = store.outbox()[0]
        store.failed(first.seq, next_at=0, error="transport_error: refused", park=True)
    assert main(["events", "outbox", "--db", str(db), "--parked", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert (row["seq"], row["state"], row["attempts"]) == (first.seq, "parked", 1)
    assert row["last_error"] == "transport_error: refused"
    assert "11010519491231002X" not in line  # no personal data in the operator's list
    assert main(["events", "outbox", "--db", str(db)]) == 0
    listing = capsys.readouterr().out
    assert "parked" in listing
    assert "pending" in listing
    assert main(["events", "requeue", "--db", str(db), str(first.seq)]) == 0
    assert main(["events", "outbox", "--db", str(db), "--parked"]) == 0
    assert "no parked events" in capsys.readouterr().out
    assert main(["events", "requeue", "--db", str(db), str(first.seq)]) != 0  # not parked now


def test_a_missing_state_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["events", "outbox", "--db", str(tmp_path / "nope.db")]) != 0
    assert "no state file" in capsys.readouterr().err
