"""What the suite is made of: checks, their results, and the outcome of a run."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from deltafed_conformance._session import Session

__all__ = [
    "CATEGORIES",
    "Check",
    "CheckFailed",
    "CheckOutcome",
    "CheckSkipped",
    "Result",
    "RunReport",
    "Status",
    "TargetReport",
    "Verdict",
]

#: Check id prefix -> category name, in report order.
CATEGORIES: Final[Mapping[str, str]] = {
    "DF-DISC": "discovery",
    "DF-EXC": "exchange",
    "DF-SIG": "signatures",
    "DF-NEG": "negative",
    "DF-ERR": "errors",
    "DF-POL": "policy",
    "DF-IDEM": "retry",
    "DF-MAP": "mapping",
    "DF-ADP": "adapter",
    "DF-CONC": "concerns",
    "DF-GM": "crypto profile",
    "DF-MATCH": "matching",
    "DF-EVENT": "events",
}

_CHECK_ID: Final = re.compile(r"(DF-[A-Z]+)-[0-9]{3}")
#: Where a check's requirement is written (the protocol, by section, or the node's rules).
_DOCS: Final = ("docs/protocol.md §", "docs/node.md", "docs/adapters.md")


class Status(StrEnum):
    """The result of one check against one target."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    SKIP = "skip"
    ERROR = "error"


class Verdict(StrEnum):
    """A result read against the expected-failures file."""

    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    #: Declared as a known gap and did fail (or error): does not fail the run.
    XFAILED = "xfailed"
    #: Declared as a known gap but passed: fails the run (strict).
    XPASSED = "xpassed"


class CheckFailed(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a check when the target violates the requirement."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class CheckSkipped(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a check that cannot judge the target (no profile data, a prerequisite...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


CheckFunction = Callable[["Session"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Check:
    """One requirement of the protocol, tested one way.

    ``id`` is stable (``DF-NEG-003``); ``requirement`` is one line quoting the section of
    ``docs/protocol.md`` it enforces; ``run`` raises :class:`CheckFailed` or
    :class:`CheckSkipped`, or returns when the target conforms. ``docs/conformance.md``
    traces each requirement id of the normative docs to the checks that test it.
    """

    id: str
    title: str
    requirement: str
    run: CheckFunction = field(repr=False, compare=False)
    #: Runs only in process, against an adapter and its sandbox (a live node skips it).
    in_process: bool = False

    def __post_init__(self) -> None:
        match = _CHECK_ID.fullmatch(self.id)
        if match is None or match.group(1) not in CATEGORIES:
            raise ValueError(f"bad check id {self.id!r}")
        if not self.requirement.startswith(_DOCS):
            raise ValueError(f"{self.id}: the requirement must quote {' or '.join(_DOCS)}")

    @property
    def category(self) -> str:
        return CATEGORIES[self.id.rsplit("-", 1)[0]]


@dataclass(frozen=True, slots=True)
class Result:
    """What one check said about one target; ``duration`` in seconds."""

    status: Status
    reason: str = ""
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    """A check, its result on one target, and whether a gap was declared for it."""

    check: Check
    result: Result
    #: The reason given in the expected-failures file, if the check is listed there.
    expected_failure: str | None = None

    @property
    def verdict(self) -> Verdict:
        status = self.result.status
        if self.expected_failure is not None:
            if status is Status.PASS:
                return Verdict.XPASSED
            if status in (Status.FAIL, Status.ERROR):
                return Verdict.XFAILED
            return Verdict.SKIPPED
        if status is Status.PASS:
            return Verdict.PASSED
        if status is Status.SKIP:
            return Verdict.SKIPPED
        return Verdict.FAILED

    @property
    def bad(self) -> bool:
        """Whether this outcome makes the run fail."""
        return self.verdict in (Verdict.FAILED, Verdict.XPASSED)


@dataclass(frozen=True, slots=True)
class TargetReport:
    """Every outcome for one target, in check order."""

    target: str
    kind: str
    outcomes: tuple[CheckOutcome, ...]
    duration: float

    def outcome(self, check_id: str) -> CheckOutcome:
        for item in self.outcomes:
            if item.check.id == check_id:
                return item
        raise KeyError(check_id)

    def ids(self, *statuses: Status) -> set[str]:
        """The ids of the checks whose result has one of ``statuses``."""
        return {o.check.id for o in self.outcomes if o.result.status in statuses}


@dataclass(frozen=True, slots=True)
class RunReport:
    """A whole run: every target, the checks run, and the total duration in seconds."""

    targets: tuple[TargetReport, ...]
    checks: tuple[Check, ...]
    duration: float
    started: str

    @property
    def passed(self) -> bool:
        return not any(o.bad for t in self.targets for o in t.outcomes)

    @property
    def exit_status(self) -> int:
        return 0 if self.passed else 1

    def counts(self) -> dict[str, int]:
        """How many outcomes of each verdict, over every target."""
        counts = {v.value: 0 for v in Verdict}
        for target in self.targets:
            for outcome in target.outcomes:
                counts[outcome.verdict.value] += 1
        return counts

    def target(self, name: str) -> TargetReport:
        for item in self.targets:
            if item.target == name:
                return item
        raise KeyError(name)


def check_ids(checks: Sequence[Check]) -> list[str]:
    return [c.id for c in checks]
