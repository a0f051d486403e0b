"""Problems: the closed list of codes, and translation to and from errors."""

from __future__ import annotations

from typing import get_args

import pytest

import deltafed
from deltafed._errors import all_error_classes, error_for_code
from deltafed.schemas.problem import LOCAL_ONLY_CODES, PROBLEM_CODES, Problem, ProblemCode


def test_closed_list_matches_the_error_tree_exactly() -> None:
    tree = {cls.code for cls in all_error_classes()}
    assert set(get_args(ProblemCode)) == tree - LOCAL_ONLY_CODES
    assert len(get_args(ProblemCode)) == len(PROBLEM_CODES)  # no duplicates in the Literal
    assert tree >= LOCAL_ONLY_CODES
    assert {
        "communication_error",
        "transport_error",
        "timeout",
        "peer_problem",
        "audit_error",
        "audit_integrity",
        "configuration_error",
        "calendar_unknown_year",
        "not_supported",
        "crypto_unavailable",
    } == LOCAL_ONLY_CODES


@pytest.mark.parametrize("code", sorted(PROBLEM_CODES - {"internal_error"}))
def test_every_sendable_error_round_trips(code: str) -> None:
    cls = error_for_code(code)
    assert cls.code == code
    exc = cls("synthetic message", field="holder_code", remediation="Do it differently.")
    problem = Problem.from_error(exc, request_id="req-1")
    assert problem.code == code
    assert problem.status == cls.status
    assert problem.detail == "synthetic message"
    assert problem.field == "holder_code"
    assert problem.remediation == "Do it differently."
    assert problem.request_id == "req-1"
    assert problem.error_class is cls
    # It survives the wire.
    again = Problem.parse_json(problem.model_dump_json())
    assert again == problem
    err = again.to_error()
    assert isinstance(err, deltafed.PeerProblemError)
    assert err.problem_code == code
    assert err.field == "holder_code"
    assert err.remediation == "Do it differently."
    assert "synthetic message" in err.message


def _audit_failure() -> deltafed.DeltafedError:
    return deltafed.AuditIntegrityError("chain broken at /var/lib/secret", position=3)


@pytest.mark.parametrize(
    "exc",
    [
        deltafed.InternalError("database password is hunter2"),
        RuntimeError("Traceback: /srv/app/secret.py line 3"),
        KeyError("secret_key"),
        deltafed.ConfigurationError("key file /etc/deltafed/key.pem unreadable"),
        deltafed.TransportError("connection to 10.0.0.7 refused"),
        deltafed.PeerProblemError("upstream said x", problem_code="not_found"),
        _audit_failure(),
    ],
)
def test_internal_and_local_failures_disclose_nothing(exc: BaseException) -> None:
    problem = Problem.from_error(exc, request_id="req-2")
    assert problem.code == "internal_error"
    assert problem.status == 500
    assert problem.field is None
    assert problem.remediation is None
    text = problem.model_dump_json()
    assert str(exc.args[0]) not in text
    assert type(exc).__name__ not in text
    assert problem.request_id == "req-2"


def test_overlong_texts_are_clipped_not_refused() -> None:
    exc = deltafed.NotFoundError("x" * 5000, field="f" * 1000, remediation="r" * 500)
    problem = Problem.from_error(exc)
    assert problem.detail is not None
    assert len(problem.detail) == 2000
    assert problem.field is not None
    assert len(problem.field) == 256
    assert problem.remediation is not None
    assert len(problem.remediation) == 200


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "timeout", "title": "t", "status": 504}, "code"),
        ({"code": "peer_problem", "title": "t", "status": 502}, "code"),
        ({"code": "not_found", "title": "t", "status": 200}, "status"),
        ({"code": "not_found", "title": "t", "status": 404.0}, "status"),
        ({"code": "not_found", "title": "t", "status": 404, "request_id": "a b"}, "request_id"),
        ({"code": "not_found", "title": "t", "status": 404, "trace": "x"}, "trace"),
        ({"code": "not_found", "status": 404}, "title"),
    ],
)
def test_problem_rejects(data: dict[str, object], field: str) -> None:
    with pytest.raises(deltafed.SchemaValidationError) as info:
        Problem.parse(data)
    assert info.value.field == field
