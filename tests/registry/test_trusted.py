"""TrustedRegistry: table-driven update sequences in the style of the TUF conformance suite."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from deltafed import (
    DeltafedError,
    InvalidInputError,
    KeyCompromisedError,
    KeyNotValidError,
    RegistryExpiredError,
    RegistryInvalidError,
    RollbackError,
    ScenarioUnknownError,
    SchemaValidationError,
    SizeLimitError,
    ThresholdNotMetError,
    TrustError,
    UnknownKeyError,
    UnknownMemberError,
)
from deltafed.keys import KeyResolver
from deltafed.registry import RegistryBuilder, RegistryState, TrustedRegistry, sign_registry

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@dataclass(frozen=True)
class Step:
    """Publish one registry version and feed it to the client."""

    version: int
    anchor: tuple[tuple[int, ...], int] = ((0,), 1)  # (anchor key indices, threshold)
    signers: tuple[int, ...] = (0,)
    expect: type[DeltafedError] | None = None
    issued: timedelta = timedelta(0)  # issued_at relative to the clock
    validity: timedelta = 7 * DAY
    federation: str = "yrd"
    resend_previous: bool = False  # send the exact bytes of the previous step again


@dataclass(frozen=True)
class Case:
    name: str
    why: str
    steps: tuple[Step, ...]
    pinned: tuple[tuple[int, ...], int] = ((0,), 1)
    final_version: int | None = field(default=None)


CASES = [
    Case("first-load", "the pinned anchor signed v1", (Step(1),), final_version=1),
    Case(
        "version-increase",
        "newer versions replace older",
        (Step(1), Step(2), Step(5)),
        final_version=5,
    ),
    Case(
        "rollback",
        "a lower version than the trusted one is refused",
        (Step(1), Step(3), Step(2, expect=RollbackError)),
        final_version=3,
    ),
    Case(
        "rollback-first-trusted",
        "the version a client already trusts is the floor",
        (Step(4), Step(1, expect=RollbackError)),
        final_version=4,
    ),
    Case(
        "same-version-same-bytes",
        "receiving the same file again is harmless",
        (Step(1), Step(1, resend_previous=True)),
        final_version=1,
    ),
    Case(
        "same-version-other-content",
        "two documents under one version is an equivocation",
        (Step(1), Step(1, issued=-HOUR, expect=RollbackError)),
        final_version=1,
    ),
    Case(
        "threshold-increase-signed-by-both",
        "raising 1-of-1 to 2-of-2 needs the old and the new threshold",
        (
            Step(1),
            Step(2, anchor=((0, 1), 2), signers=(0, 1)),
            Step(3, anchor=((0, 1), 2), signers=(0, 1)),
        ),
        final_version=3,
    ),
    Case(
        "threshold-increase-then-one-signature",
        "after the increase one signature is no longer enough",
        (
            Step(1),
            Step(2, anchor=((0, 1), 2), signers=(0, 1)),
            Step(3, anchor=((0, 1), 2), signers=(0,), expect=ThresholdNotMetError),
        ),
        final_version=2,
    ),
    Case(
        "threshold-increase-signed-by-old-only",
        "the new 2-of-2 anchor must itself meet its threshold",
        (Step(1), Step(2, anchor=((0, 1), 2), signers=(0,), expect=ThresholdNotMetError)),
        final_version=1,
    ),
    Case(
        "threshold-decrease",
        "lowering 2-of-3 to 1-of-3 needs 2 old signatures; then one suffices",
        (
            Step(1, anchor=((0, 1, 2), 2), signers=(0, 1)),
            Step(2, anchor=((0, 1, 2), 1), signers=(0, 1)),
            Step(3, anchor=((0, 1, 2), 1), signers=(2,)),
        ),
        pinned=((0, 1, 2), 2),
        final_version=3,
    ),
    Case(
        "threshold-decrease-signed-by-one",
        "a decrease signed below the old threshold is refused",
        (
            Step(1, anchor=((0, 1, 2), 2), signers=(0, 1)),
            Step(2, anchor=((0, 1, 2), 1), signers=(0,), expect=ThresholdNotMetError),
        ),
        pinned=((0, 1, 2), 2),
        final_version=1,
    ),
    Case(
        "anchor-rotation-old-and-new",
        "rotation A0 -> A1 signed by both is accepted; then A1 alone signs, A0 no longer",
        (
            Step(1),
            Step(2, anchor=((1,), 1), signers=(0, 1)),
            Step(3, anchor=((1,), 1), signers=(1,)),
            Step(4, anchor=((1,), 1), signers=(0,), expect=ThresholdNotMetError),
        ),
        final_version=3,
    ),
    Case(
        "anchor-rotation-old-only",
        "the new anchor did not sign: refused",
        (Step(1), Step(2, anchor=((1,), 1), signers=(0,), expect=ThresholdNotMetError)),
        final_version=1,
    ),
    Case(
        "anchor-rotation-new-only",
        "the old anchor did not sign: refused (an attacker could name any new anchor)",
        (Step(1), Step(2, anchor=((1,), 1), signers=(1,), expect=ThresholdNotMetError)),
        final_version=1,
    ),
    Case(
        "anchor-rotation-on-first-load",
        "a client pinned to A0 accepts a first document that rotates to A1 if both signed",
        (Step(1, anchor=((1,), 1), signers=(0, 1)),),
        final_version=1,
    ),
    Case(
        "anchor-rotation-overlapping-sets",
        "2-of-3 {0,1,2} -> 2-of-3 {2,3,4}: signatures of 1,2,3 meet both thresholds",
        (
            Step(1, anchor=((0, 1, 2), 2), signers=(0, 1)),
            Step(2, anchor=((2, 3, 4), 2), signers=(1, 2, 3)),
            Step(3, anchor=((2, 3, 4), 2), signers=(3, 4)),
        ),
        pinned=((0, 1, 2), 2),
        final_version=3,
    ),
    Case(
        "anchor-rotation-missed",
        "a client that missed the rotating version cannot verify the later one",
        (Step(1), Step(3, anchor=((1,), 1), signers=(1,), expect=ThresholdNotMetError)),
        final_version=1,
    ),
    Case(
        "expired-beyond-grace",
        "a document whose expiry plus grace has passed is refused",
        (Step(1, issued=-10 * DAY, expect=RegistryExpiredError),),
        final_version=None,
    ),
    Case(
        "expired-within-grace",
        "an expired document still inside the grace period is accepted (with warnings)",
        (Step(1, issued=-7 * DAY - HOUR),),
        final_version=1,
    ),
    Case(
        "issued-in-the-future",
        "a document issued beyond the allowed clock skew is refused",
        (Step(1), Step(2, issued=HOUR, expect=RegistryInvalidError)),
        final_version=1,
    ),
    Case(
        "issued-within-skew",
        "two minutes of clock skew are tolerated",
        (Step(1, issued=timedelta(minutes=2)),),
        final_version=1,
    ),
    Case(
        "federation-change",
        "a registry of another federation cannot replace ours",
        (Step(1), Step(2, federation="other", expect=RegistryInvalidError)),
        final_version=1,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_update_sequence(world: Any, case: Case) -> None:
    trusted = TrustedRegistry(world.anchor(*case.pinned), clock=world.clock)
    previous = b""
    for step in case.steps:
        anchor = world.anchor(*step.anchor)
        builder = world.builder(anchor, step.version)
        builder.federation = step.federation
        doc = builder.build(issued_at=world.clock() + step.issued, validity=step.validity)
        data = previous if step.resend_previous else sign_registry(doc, world.signers(step.signers))
        before = (trusted.version, trusted.anchor, trusted.state)
        if step.expect is None:
            assert trusted.update(data).version == step.version, case.why
        else:
            with pytest.raises(step.expect):
                trusted.update(data)
            assert (trusted.version, trusted.anchor, trusted.state) == before, case.why
        previous = data
    assert trusted.version == case.final_version, case.why


# --- tampered input leaves the trusted state in force ------------------------------------


def test_damaged_files_never_change_the_trusted_state(world: Any) -> None:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    good = world.signed(world.doc(2))
    trusted.update(good)
    current = trusted.current
    newer = world.signed(world.doc(3))
    damaged: list[bytes] = [b"", b"{}", b"[]", b"\x00" * 10, newer + b"x" * (5 * 1024 * 1024)]
    damaged += [newer[:cut] for cut in range(0, len(newer) - 2, 7)]
    for pos in range(0, len(newer), 11):
        flipped = bytearray(newer)
        flipped[pos] ^= 0x01
        damaged.append(bytes(flipped))
    failures = 0
    for data in damaged:
        try:
            trusted.update(data)
        except (TrustError, SizeLimitError):
            failures += 1
        else:
            # A flip in JSON whitespace outside the signed parts is harmless: the same v3.
            assert trusted.version == 3
            trusted = TrustedRegistry(world.anchor(), clock=world.clock)
            trusted.update(good)
        assert trusted.version in (2, 3)
        if trusted.version == 2:
            assert trusted.current == current
            assert trusted.resolve(world.SH, world.sh_key.kid, world.T0) is not None
    assert failures > len(damaged) * 0.9


# --- expiry and grace ----------------------------------------------------------------------


def test_expiry_grace_then_refusal(world: Any, caplog: pytest.LogCaptureFixture) -> None:
    warnings: list[str] = []
    trusted = TrustedRegistry(
        world.anchor(), clock=world.clock, grace=24 * HOUR, on_warning=warnings.append
    )
    assert trusted.state is RegistryState.EMPTY
    with pytest.raises(TrustError):
        _ = trusted.current
    trusted.update(world.signed(world.doc(1, validity=7 * DAY)))
    rows = [
        # offset from T0, state, current usable, warnings so far
        (6 * DAY, RegistryState.FRESH, True, 0),
        (7 * DAY - timedelta(seconds=1), RegistryState.FRESH, True, 0),
        (7 * DAY, RegistryState.GRACE, True, 1),
        (7 * DAY + 5 * timedelta(minutes=1), RegistryState.GRACE, True, 1),  # throttled
        (7 * DAY + HOUR, RegistryState.GRACE, True, 2),
        (8 * DAY - timedelta(seconds=1), RegistryState.GRACE, True, 3),
        (8 * DAY, RegistryState.EXPIRED, False, 3),
        (30 * DAY, RegistryState.EXPIRED, False, 3),
    ]
    with caplog.at_level(logging.WARNING, logger="deltafed.registry"):
        for offset, state, usable, count in rows:
            world.clock.set(world.T0 + offset)
            assert trusted.state is state
            if usable:
                assert trusted.current.version == 1
                trusted.resolve(world.SH, world.sh_key.kid, world.clock())
            else:
                with pytest.raises(RegistryExpiredError):
                    _ = trusted.current
                with pytest.raises(RegistryExpiredError):
                    trusted.resolve(world.SH, world.sh_key.kid, world.clock())
            assert len(warnings) == count, offset
    assert "EXPIRED" in warnings[0]
    assert sum("EXPIRED" in r.message for r in caplog.records) == 3
    # A fresh version brings the federation back.
    trusted.update(world.signed(world.doc(2)))
    assert trusted.state is RegistryState.FRESH
    assert trusted.current.version == 2


def test_zero_grace_refuses_at_expiry(world: Any) -> None:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock, grace=timedelta(0))
    trusted.update(world.signed(world.doc(1, validity=DAY)))
    world.clock.set(world.T0 + DAY)
    assert trusted.state is RegistryState.EXPIRED
    with pytest.raises(RegistryExpiredError):
        trusted.member(world.SH)


def test_registry_times_are_compared_in_whole_seconds(world: Any) -> None:
    # expires_at 08:00:00.750 expires at 08:00:00 (the fraction is dropped, §15.5), and the
    # clock's own fraction does not matter either: every verifier agrees on the second.
    half = timedelta(milliseconds=750)
    trusted = TrustedRegistry(world.anchor(), clock=world.clock, grace=HOUR)
    trusted.update(world.signed(world.doc(1, issued_at=world.T0, validity=DAY + half)))
    world.clock.set(world.T0 + DAY - timedelta(milliseconds=1))
    assert trusted.state is RegistryState.FRESH
    world.clock.set(world.T0 + DAY)
    assert trusted.state is RegistryState.GRACE
    world.clock.set(world.T0 + DAY + HOUR - timedelta(milliseconds=1))
    assert trusted.state is RegistryState.GRACE
    world.clock.set(world.T0 + DAY + HOUR)
    assert trusted.state is RegistryState.EXPIRED
    # issued_at in the future is judged the same way: 5 minutes of skew, to the second.
    world.clock.set(world.T0)
    fresh = TrustedRegistry(world.anchor(), clock=world.clock)
    late = timedelta(minutes=5, milliseconds=999)
    assert fresh.update(world.signed(world.doc(1, issued_at=world.T0 + late))).version == 1
    with pytest.raises(RegistryInvalidError, match="future"):
        fresh.update(world.signed(world.doc(2, issued_at=world.T0 + late + half)))


# --- key resolution ------------------------------------------------------------------------


def _registry_with_key_states(world: Any) -> TrustedRegistry:
    b = world.builder()
    t0 = world.T0
    b.add_key(world.SH, world.sh_key2.public_key, not_before=t0 - 2 * DAY)
    b.retire_key(world.SH, world.sh_key.kid, at=t0 - DAY)
    b.compromise_key(world.JS, world.js_key.kid, at=t0 - HOUR)
    b.add_key(world.JS, world.js_key2.public_key, not_before=t0 + DAY)
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    trusted.update(sign_registry(b.build(issued_at=t0), world.signers((0,))))
    return trusted


# name, member, key attribute, time offset, expected error, why
RESOLVE_CASES = [
    ("active", "SH", "sh_key2", timedelta(0), None, "current key inside its window"),
    ("before-not-before", "SH", "sh_key2", -3 * DAY, KeyNotValidError, "before the window"),
    ("retired-inside-window", "SH", "sh_key", -2 * DAY, None, "old messages still verify"),
    ("retired-at-end", "SH", "sh_key", -DAY, KeyNotValidError, "not_after is exclusive"),
    ("retired-now", "SH", "sh_key", timedelta(0), KeyNotValidError, "no new signatures"),
    ("compromised-before", "JS", "js_key", -2 * HOUR, None, "signed before the compromise"),
    ("compromised-at", "JS", "js_key", -HOUR, KeyCompromisedError, "at compromise time"),
    ("compromised-after", "JS", "js_key", timedelta(0), KeyCompromisedError, "after it"),
    ("future-key", "JS", "js_key2", timedelta(0), KeyNotValidError, "announced, not yet valid"),
    ("future-key-valid", "JS", "js_key2", 2 * DAY, None, "once its window opens"),
    ("other-members-key", "SH", "js_key", timedelta(0), UnknownKeyError, "keys are per member"),
    ("unknown-kid", "SH", "anchor", timedelta(0), UnknownKeyError, "not a member key"),
    ("unknown-member", "340000/nobody", "sh_key2", timedelta(0), UnknownMemberError, "not listed"),
]


@pytest.mark.parametrize(
    ("member", "key", "offset", "expected", "why"),
    [row[1:] for row in RESOLVE_CASES],
    ids=[row[0] for row in RESOLVE_CASES],
)
def test_resolve(
    world: Any,
    member: str,
    key: str,
    offset: timedelta,
    expected: type[DeltafedError] | None,
    why: str,
) -> None:
    trusted = _registry_with_key_states(world)
    assert isinstance(trusted, KeyResolver)
    member_id = getattr(world, member, member)
    kid = world.anchor_keys[0].kid if key == "anchor" else getattr(world, key).kid
    if expected is None:
        verifier = trusted.resolve(member_id, kid, world.T0 + offset)
        assert verifier.kid == kid, why
        signer = getattr(world, key)
        verifier.verify(signer.sign(b"message"), b"message")
    else:
        with pytest.raises(expected):
            trusted.resolve(member_id, kid, world.T0 + offset)


def test_rotation_with_overlap_and_historical_keys(world: Any) -> None:
    t0 = world.T0
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    trusted.update(world.signed(world.doc(1)))
    # v2: the new key starts at T0+1d, the old one ends at T0+2d: one day of overlap.
    b = world.builder(version=2)
    b.add_key(world.SH, world.sh_key2.public_key, not_before=t0 + DAY)
    b.retire_key(world.SH, world.sh_key.kid, at=t0 + 2 * DAY)
    trusted.update(sign_registry(b.build(issued_at=t0), world.signers((0,))))
    overlap = t0 + DAY + 12 * HOUR
    assert trusted.resolve(world.SH, world.sh_key.kid, overlap).kid == world.sh_key.kid
    assert trusted.resolve(world.SH, world.sh_key2.kid, overlap).kid == world.sh_key2.kid
    world.clock.set(t0 + 3 * DAY)
    # v3 drops the old key altogether; it stays historical for its window.
    b = RegistryBuilder.from_document(trusted.current).bump()
    b.remove_key(world.SH, world.sh_key.kid)
    trusted.update(sign_registry(b.build(issued_at=world.clock()), world.signers((0,))))
    assert world.sh_key.kid not in {k.kid for k in trusted.member(world.SH).keys}
    assert trusted.is_historical(world.SH, world.sh_key.kid)
    assert trusted.resolve(world.SH, world.sh_key.kid, t0).kid == world.sh_key.kid
    with pytest.raises(KeyNotValidError):
        trusted.resolve(world.SH, world.sh_key.kid, world.clock())


def test_dropped_open_key_is_closed_at_the_dropping_version(world: Any) -> None:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    trusted.update(world.signed(world.doc(1)))
    world.clock.set(world.T0 + DAY)
    b = RegistryBuilder.from_document(trusted.current).bump()
    b.remove_member(world.JS)
    trusted.update(sign_registry(b.build(issued_at=world.clock()), world.signers((0,))))
    with pytest.raises(UnknownMemberError):
        trusted.member(world.JS)
    # Messages signed while the member was listed still verify; later ones do not.
    assert trusted.resolve(world.JS, world.js_key.kid, world.T0).kid == world.js_key.kid
    with pytest.raises(KeyNotValidError):
        trusted.resolve(world.JS, world.js_key.kid, world.T0 + DAY)
    with pytest.raises(UnknownKeyError):
        trusted.resolve(world.JS, world.js_key2.kid, world.T0)


def test_compromise_is_sticky_across_versions(world: Any) -> None:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    b = world.builder(version=1)
    b.compromise_key(world.SH, world.sh_key.kid, at=world.T0 - HOUR)
    trusted.update(sign_registry(b.build(issued_at=world.T0), world.signers((0,))))
    # A later version "forgets" the compromise (operator error or attack): still refused.
    trusted.update(world.signed(world.doc(2)))
    with pytest.raises(KeyCompromisedError):
        trusted.resolve(world.SH, world.sh_key.kid, world.T0)
    assert trusted.resolve(world.SH, world.sh_key.kid, world.T0 - 2 * HOUR) is not None


# --- document validation: duplicates and unknown members -----------------------------------


def _invalid_doc(world: Any, change: str) -> None:
    b = world.builder()
    if change == "same-key-two-members":
        b.add_key(world.JS, world.sh_key.public_key, not_before=world.T0)
    elif change == "same-key-twice-one-member":
        b.add_key(world.SH, world.sh_key.public_key, not_before=world.T0)
    elif change == "anchor-key-as-member-key":
        b.add_key(world.SH, world.anchor_keys[0].public_key, not_before=world.T0)
    elif change == "scenario-unknown-requester":
        from deltafed.schemas.catalogue import UseScenario

        scenario = UseScenario.parse(
            {
                "id": "x",
                "name": "x",
                "service_matter": "x",
                "legal_basis": "x",
                "requester": "330000/stranger",
                "providers": ["320000"],
                "operations": ["record.request"],
                "record_types": ["hukou"],
                "allowed_fields": ["name"],
            }
        )
        b.add_scenario(scenario)
    elif change == "expires-before-issued":
        b.build(issued_at=world.T0, expires_at=world.T0 - HOUR)
    b.build(issued_at=world.T0)


@pytest.mark.parametrize(
    "change",
    [
        "same-key-two-members",
        "same-key-twice-one-member",
        "anchor-key-as-member-key",
        "scenario-unknown-requester",
        "expires-before-issued",
    ],
)
def test_invalid_documents_are_refused(world: Any, change: str) -> None:
    with pytest.raises(SchemaValidationError):
        _invalid_doc(world, change)


def test_anchor_validation(world: Any) -> None:
    from deltafed.registry import AnchorKeys

    key = world.anchor_keys[0].public_key
    for keys, threshold in (([key, key], 1), ([key], 0), ([key], 2), ([], 1)):
        with pytest.raises(SchemaValidationError):
            AnchorKeys.of(keys, threshold)
    with pytest.raises(InvalidInputError, match="public keys"):
        AnchorKeys.of(["not a key"], 1)


def test_lookups(world: Any) -> None:
    trusted = TrustedRegistry(world.anchor(), clock=world.clock)
    b = world.builder()
    b.add_member("320000/gongan", "Jiangsu Public Security", endpoint="https://js.example.test/fed")
    b.add_member("320000/gongan/jiaotong", "Jiangsu Traffic System")
    trusted.update(sign_registry(b.build(issued_at=world.T0), world.signers((0,))))
    assert trusted.member(world.SH).name == "Shanghai Big Data Centre"
    assert trusted.endpoint_for(world.SH) == "https://sh.example.test/fed"
    assert trusted.endpoint_for("310000") == "https://sh.example.test/fed"
    assert trusted.endpoint_for("320000") == "https://js.example.test/fed"
    # A system without its own endpoint is served by its department's.
    assert trusted.endpoint_for("320000/gongan/jiaotong") == "https://js.example.test/fed"
    with pytest.raises(UnknownMemberError):
        trusted.endpoint_for("340000")
    with pytest.raises(UnknownMemberError):
        trusted.member("340000/nobody")
    assert trusted.scenario("sh-hukou-check").requester == world.SH
    with pytest.raises(ScenarioUnknownError):
        trusted.scenario("nope")
    assert trusted.catalogue("320000").region == "320000"
    with pytest.raises(UnknownMemberError):
        trusted.catalogue("330000")
