"""The exception tree: one root, stable unique codes, and a docstring that draws it."""

from __future__ import annotations

import deltafed
from deltafed import _errors
from deltafed._errors import (
    DeltafedError,
    IdentifierError,
    InvalidInputError,
    PeerProblemError,
    all_error_classes,
    error_for_code,
)


def test_every_error_derives_from_the_root() -> None:
    classes = all_error_classes()
    assert classes[0] is DeltafedError
    assert len(classes) > 40
    assert all(issubclass(cls, DeltafedError) for cls in classes)


def test_codes_are_unique_and_machine_readable() -> None:
    codes = [cls.code for cls in all_error_classes()]
    assert len(codes) == len(set(codes)), "two classes share a code"
    assert all(code.isascii() and code == code.lower() and " " not in code for code in codes)


def test_docstring_draws_every_class_with_its_code() -> None:
    doc = _errors.__doc__ or ""
    for cls in all_error_classes():
        line = next((ln for ln in doc.splitlines() if f" {cls.__name__} " in f" {ln} "), None)
        assert line is not None, f"{cls.__name__} missing from the tree drawing"
        assert line.split()[-1] == cls.code, f"{cls.__name__} drawn with the wrong code"


def test_every_error_class_is_exported() -> None:
    for cls in all_error_classes():
        assert getattr(deltafed, cls.__name__) is cls


def test_error_for_code_round_trips_and_defaults_to_root() -> None:
    for cls in all_error_classes():
        assert error_for_code(cls.code) is cls
    assert error_for_code("no-such-code") is DeltafedError


def test_str_names_code_and_field() -> None:
    err = IdentifierError("check character does not match", field="holder.id")
    assert str(err) == "invalid_identifier [holder.id]: check character does not match"
    assert isinstance(err, InvalidInputError)
    assert err.reason == "check character does not match"


def test_peer_problem_keeps_the_remote_code() -> None:
    err = PeerProblemError("denied", problem_code="not_authorized")
    assert err.code == "peer_problem"
    assert err.problem_code == "not_authorized"


def test_statuses_are_http_error_statuses() -> None:
    assert all(400 <= cls.status <= 599 for cls in all_error_classes())
