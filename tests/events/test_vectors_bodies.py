"""The matching and event vectors carry bodies that their schemas accept (protocol §12, §13)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from deltafed.protocol import peek_unverified_claims
from deltafed.schemas._base import WireModel
from deltafed.schemas.events import ChangeEvent, EventAck, SubscriptionRequest
from deltafed.schemas.matching import MatchAnswer, MatchQuestion

CASES = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "cases"


@pytest.mark.parametrize(
    ("name", "model"),
    [
        ("request-match-predicate", MatchQuestion),
        ("request-match-count", MatchQuestion),
        ("response-match-predicate", MatchAnswer),
        ("response-match-fewer-than-k", MatchAnswer),
        ("request-subscription-create", SubscriptionRequest),
        ("request-event-deliver", ChangeEvent),
        ("response-event-duplicate", EventAck),
    ],
)
def test_vector_body_matches_its_schema(name: str, model: type[WireModel]) -> None:
    case = json.loads((CASES / f"{name}.json").read_text("utf-8"))
    claims = peek_unverified_claims(case["input"].encode("ascii"))
    assert claims is not None
    body = model.parse(claims["body"])
    assert body.to_wire() == claims["body"]
