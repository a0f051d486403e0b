"""Running checks against targets, and the expected-failures file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Final

import anyio
import httpx

from deltafed._clock import Clock, system_clock
from deltafed._errors import ConfigurationError, DeltafedError
from deltafed_conformance._checks import ALL_CHECKS
from deltafed_conformance._model import (
    Check,
    CheckFailed,
    CheckOutcome,
    CheckSkipped,
    Result,
    RunReport,
    Status,
    TargetReport,
)
from deltafed_conformance._session import Session
from deltafed_conformance._targets import Target

__all__ = ["ExpectedFailures", "Progress", "run", "run_async"]

#: Seconds one check may take before it is an error.
CHECK_TIMEOUT: Final = 30.0

#: Called after each check: (target, outcome, index from 1, total for the target).
Progress = Callable[[Target, CheckOutcome, int, int], None]


@dataclass(frozen=True, slots=True)
class ExpectedFailures:
    """Declared gaps: check id -> reason. A listed check that fails does not fail the run;
    one that passes does (strict)."""

    reasons: Mapping[str, str]

    @classmethod
    def parse(cls, text: str, known: Iterable[str] | None = None) -> ExpectedFailures:
        """One ``CHECK-ID reason`` per line; ``#`` starts a comment; blank lines are ignored.

        An unknown id (when ``known`` is given), a missing reason or a repeated id is a
        :class:`~deltafed.ConfigurationError`.
        """
        ids = set(known) if known is not None else None
        reasons: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), 1):
            content = line.split("#", 1)[0].strip()
            if not content:
                continue
            check_id, _, reason = content.partition(" ")
            reason = reason.strip()
            where = f"expected failures, line {number}"
            if not reason:
                raise ConfigurationError(f"{where}: {check_id} needs a reason")
            if ids is not None and check_id not in ids:
                raise ConfigurationError(f"{where}: no check {check_id!r}")
            if check_id in reasons:
                raise ConfigurationError(f"{where}: {check_id} is listed twice")
            reasons[check_id] = reason
        return cls(reasons)

    @classmethod
    def load(cls, path: str | Path, known: Iterable[str] | None = None) -> ExpectedFailures:
        try:
            text = Path(path).read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read expected failures {path}: {exc}") from exc
        return cls.parse(text, known if known is not None else (c.id for c in ALL_CHECKS))

    def reason(self, check_id: str) -> str | None:
        return self.reasons.get(check_id)


async def run_check(check: Check, session: Session, timeout: float = CHECK_TIMEOUT) -> Result:
    """Run one check; every way it can end becomes a :class:`Result`."""
    start = time.perf_counter()
    try:
        with anyio.fail_after(timeout):
            await check.run(session)
    except CheckFailed as exc:
        status, reason = Status.FAIL, exc.reason
    except CheckSkipped as exc:
        status, reason = Status.SKIP, exc.reason
    except TimeoutError:
        status, reason = Status.ERROR, f"no answer within {timeout:g} s"
    except httpx.HTTPError as exc:
        status, reason = Status.ERROR, f"transport failure: {type(exc).__name__}: {exc}"
    except DeltafedError as exc:
        status, reason = Status.ERROR, f"{exc.code}: {exc.message}"
    except Exception as exc:  # noqa: BLE001 - a broken check is an error, not a crash
        status, reason = Status.ERROR, f"{type(exc).__name__}: {exc}"
    else:
        status, reason = Status.PASS, ""
    return Result(status, reason, time.perf_counter() - start)


async def run_target(
    target: Target,
    checks: Sequence[Check],
    expected: ExpectedFailures,
    progress: Progress | None = None,
) -> TargetReport:
    start = time.perf_counter()
    outcomes: list[CheckOutcome] = []

    def add(check: Check, result: Result) -> None:
        outcome = CheckOutcome(check, result, expected.reason(check.id))
        outcomes.append(outcome)
        if progress is not None:
            progress(target, outcome, len(outcomes), len(checks))

    try:
        async with target.open() as session:
            for check in checks:
                add(check, await run_check(check, session))
    except (DeltafedError, OSError, httpx.HTTPError) as exc:
        detail = exc.message if isinstance(exc, DeltafedError) else str(exc)
        reason = f"the target could not be set up: {type(exc).__name__}: {detail}"
        for check in checks[len(outcomes) :]:
            add(check, Result(Status.ERROR, reason))
    return TargetReport(target.name, target.kind, tuple(outcomes), time.perf_counter() - start)


async def run_async(
    targets: Sequence[Target],
    checks: Sequence[Check] | None = None,
    *,
    expected: ExpectedFailures | None = None,
    progress: Progress | None = None,
    clock: Clock = system_clock,
) -> RunReport:
    """Run ``checks`` (all by default) against each target in turn."""
    chosen = tuple(checks) if checks is not None else ALL_CHECKS
    declared = expected or ExpectedFailures({})
    started = clock().astimezone(UTC).isoformat(timespec="seconds")
    start = time.perf_counter()
    reports = [await run_target(t, chosen, declared, progress) for t in targets]
    return RunReport(tuple(reports), chosen, time.perf_counter() - start, started)


def run(
    targets: Sequence[Target],
    checks: Sequence[Check] | None = None,
    *,
    expected: ExpectedFailures | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """:func:`run_async` from synchronous code."""

    async def main() -> RunReport:
        return await run_async(targets, checks, expected=expected, progress=progress)

    return anyio.run(main)
