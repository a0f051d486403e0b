"""The adapter contract: how a node reaches its province's own data platform.

:class:`ProvinceAdapter` follows python-tuf's ``FetcherInterface``: each public method enforces
the invariants and delegates to exactly one hook that an adapter implements::

    public method           hook                    returns
    find_certificate        _find_certificate       CertificateMetadata
    certificate_data        _certificate_data       dict[str, str]
    certificate_status      _certificate_status     CertificateStatus
    fetch_record            _fetch_record           RecordData
    catalogue               _catalogue              Catalogue
    correct_certificate     _correct_certificate    CertificateMetadata (optional hook)
    revoke_certificate      _revoke_certificate     CertificateStatus (optional hook)

The last two serve an upheld objection to certificate data (``deltafed.concerns``): issue a
corrected version of a certificate, or revoke it, on the native platform. They are optional: an
adapter that does not override them raises :class:`~deltafed.NotSupportedError`.

Optional hooks (the base has a default): ``evaluate_predicate`` / ``_evaluate_predicate``
(``None``: no native evaluation, the base fetches the one field and compares it inside the
node, never releasing it), ``count_subjects`` / ``_count_subjects`` (default: not supported)
and ``changes`` / ``_changes`` (the change feed; default: not supported).

The data calls also take an optional ``use_cause`` (用证事由): the reason the caller stated
for using the data. The hooks keep their signatures; a hook reads the cause of the call it is
serving from :attr:`ProvinceAdapter.call_context` (a :class:`CallContext` held in a context
variable, so concurrent calls on one adapter each see their own).

Around every hook call the base

1. validates the input (identifiers with their check characters, a known type, fields that
   exist in the catalogue, size limits) and raises :class:`~deltafed.InvalidInputError`
   subclasses or :class:`~deltafed.NotFoundError` before the platform is asked anything;
2. bounds the call by ``timeout`` seconds (:class:`~deltafed.AdapterTimeoutError`);
3. translates any foreign exception into an :class:`~deltafed.AdapterError` subclass, chained
   ``from`` the original; a hook's own ``InvalidInputError`` means the native data was bad and
   becomes :class:`~deltafed.AdapterDataError`;
4. validates the hook's output against the request: the certificate asked for, exactly the
   fields asked for, values of the allowed types and sizes. Anything else is
   :class:`~deltafed.AdapterDataError`: a node never passes on native data it did not check.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Final, Self, TypeVar

import anyio
import httpx
from pydantic import ValidationError as _PydanticValidationError

from deltafed._errors import (
    AdapterDataError,
    AdapterError,
    AdapterTimeoutError,
    AdapterUnavailableError,
    ConfigurationError,
    DeltafedError,
    InvalidInputError,
    NotFoundError,
    NotSupportedError,
    SizeLimitError,
)
from deltafed.schemas._checks import parse_holder_type
from deltafed.schemas.catalogue import Catalogue, CertificateType, RecordType
from deltafed.schemas.certificates import CertificateMetadata
from deltafed.schemas.common import CertificateStatus, HolderType
from deltafed.schemas.identifiers import (
    certificate_type_of,
    parse_certificate_id,
    parse_certificate_type_code,
    parse_credit_code,
    parse_resident_id,
)
from deltafed.schemas.matching import Aggregate, Predicate, compare

__all__ = [
    "DEFAULT_PROBE_TIMEOUT",
    "DEFAULT_TIMEOUT",
    "MAX_FIELDS_PER_CALL",
    "MAX_USE_CAUSE_LENGTH",
    "MAX_VALUE_LENGTH",
    "CallContext",
    "Change",
    "ChangeBatch",
    "ProvinceAdapter",
    "RecordData",
    "RecordValue",
    "parse_holder_code",
]

#: Seconds a public adapter call may take, hook and retries included.
DEFAULT_TIMEOUT: Final = 15.0
#: Seconds a health probe of the native platform may take.
DEFAULT_PROBE_TIMEOUT: Final = 2.0
#: Most fields one call may ask for.
MAX_FIELDS_PER_CALL: Final = 64
#: Longest value of a released field or record field, in characters.
MAX_VALUE_LENGTH: Final = 2000
#: Longest use cause (用证事由), in characters.
MAX_USE_CAUSE_LENGTH: Final = 200

RecordValue = str | int | bool | None
_T = TypeVar("_T")

#: Errors a hook may raise as they are; everything else is translated.
_PASS_THROUGH: Final = (NotFoundError, AdapterError, ConfigurationError)


@dataclass(frozen=True)
class RecordData:
    """A record as a province's platform states it, at ``as_of``."""

    record_type: str
    as_of: datetime
    fields: Mapping[str, RecordValue] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))


@dataclass(frozen=True, slots=True)
class Change:
    """One change a platform's change feed reports, about a certificate or a record.

    ``kind`` is ``certificate.issued``, ``certificate.renewed``, ``certificate.changed`` or
    ``certificate.revoked`` (with ``certificate_id``, the certificate as it is now - the new
    version for a renewal - and its ``type_code``), or ``record.changed`` (with
    ``record_type``). ``holder_code``/``holder_type`` name whom it is about.
    """

    kind: str
    holder_code: str
    holder_type: HolderType
    occurred_at: datetime
    certificate_id: str | None = None
    type_code: str | None = None
    record_type: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    """Changes after a cursor, in the platform's order, and the cursor to ask from next."""

    changes: tuple[Change, ...]
    cursor: str


_CHANGE_KINDS: Final = frozenset(
    {"certificate.issued", "certificate.renewed", "certificate.changed", "certificate.revoked"}
)
_RECORD_CHANGE: Final = "record.changed"


@dataclass(frozen=True, slots=True)
class CallContext:
    """What a hook may know of the public call it serves, beyond its own arguments.

    ``use_cause`` is the use cause (用证事由) the caller stated, stripped and at most
    :data:`MAX_USE_CAUSE_LENGTH` characters, or ``None`` when the caller stated none (a node
    always states the one of the request it answers).
    """

    use_cause: str | None = None


_NO_CALL: Final = CallContext()
_CALL: ContextVar[CallContext] = ContextVar("deltafed_adapter_call", default=_NO_CALL)


def _check_use_cause(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError("use_cause must be text", field="use_cause")
    text = value.strip()
    if not text:
        raise InvalidInputError("use_cause must not be blank", field="use_cause")
    if len(text) > MAX_USE_CAUSE_LENGTH:
        raise InvalidInputError(
            f"use_cause is longer than {MAX_USE_CAUSE_LENGTH} characters", field="use_cause"
        )
    return text


def parse_holder_code(holder_code: str, holder_type: HolderType | str) -> str:
    """Validate a holder code as the identifier its holder type says it is."""
    kind = parse_holder_type(holder_type)
    if kind is HolderType.RESIDENT:
        return parse_resident_id(holder_code)
    return parse_credit_code(holder_code)


class ProvinceAdapter(abc.ABC):
    """A province platform seen through the shared schemas.

    Subclasses set :attr:`name`, call ``super().__init__(region=...)`` and implement the
    hooks. They construct from configuration with :meth:`from_config`.
    """

    #: The name the adapter is registered under (``shanghai``, ``memory``...).
    name: ClassVar[str]
    #: Seconds :meth:`probe` may take (bounded by ``timeout`` too).
    probe_timeout: ClassVar[float] = DEFAULT_PROBE_TIMEOUT

    def __init__(
        self,
        *,
        region: str,
        timeout: float = DEFAULT_TIMEOUT,
        max_fields: int = MAX_FIELDS_PER_CALL,
    ) -> None:
        from deltafed.schemas.identifiers import PROVINCES

        if region not in PROVINCES:
            raise ConfigurationError(f"{region!r} is not a province-level division code")
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ConfigurationError("adapter timeout must be a positive number of seconds")
        if not 1 <= max_fields <= 256:
            raise ConfigurationError("max_fields must be between 1 and 256")
        self.region: str = region
        self.timeout: float = float(timeout)
        self.max_fields: int = max_fields
        self._catalogue_cache: Catalogue | None = None
        self._closed = False

    # --- construction -----------------------------------------------------------------------

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Self:
        """Build the adapter from a configuration mapping (see each adapter's docs)."""
        raise ConfigurationError(f"adapter {cls.__name__} cannot be built from configuration")

    @property
    def call_context(self) -> CallContext:
        """The context of the public call a hook is serving (empty outside one)."""
        return _CALL.get()

    # --- public API -------------------------------------------------------------------------

    def catalogue(self) -> Catalogue:
        """What this adapter serves: its certificate types, record types and their fields."""
        if self._catalogue_cache is None:
            try:
                result = self._catalogue()
            except DeltafedError:
                raise
            except Exception as exc:
                raise AdapterDataError(f"{self._label}: catalogue failed: {exc}") from exc
            if not isinstance(result, Catalogue):
                raise AdapterDataError(f"{self._label}: catalogue is not a Catalogue")
            if result.region != self.region:
                raise ConfigurationError(
                    f"{self._label}: catalogue is for region {result.region}, "
                    f"adapter serves {self.region}"
                )
            self._catalogue_cache = result
        return self._catalogue_cache

    async def find_certificate(
        self,
        *,
        certificate_id: str | None = None,
        holder_code: str | None = None,
        holder_type: HolderType | None = None,
        type_code: str | None = None,
        use_cause: str | None = None,
    ) -> CertificateMetadata:
        """Look a certificate up by identifier, or by holder and type (exactly one way).

        ``use_cause`` is the reason stated for the use (用证事由), passed on to the platform.
        Raises :class:`~deltafed.NotFoundError` when none matches.
        """
        context = CallContext(_check_use_cause(use_cause))
        by_holder = (holder_code, holder_type, type_code)
        if certificate_id is not None:
            if any(v is not None for v in by_holder):
                raise InvalidInputError(
                    "ask by certificate_id or by holder_code + holder_type + type_code, not both",
                    field="certificate_id",
                )
            cid = parse_certificate_id(certificate_id)
            self._certificate_type(certificate_type_of(cid))
            result = await self._guarded(
                "find_certificate",
                lambda: self._find_certificate(
                    certificate_id=cid, holder_code=None, holder_type=None, type_code=None
                ),
                context,
            )
            meta = self._check_metadata(result)
            if meta.identifier != cid:
                raise AdapterDataError(
                    f"{self._label}: asked for {cid}, platform answered {meta.identifier}"
                )
            return meta
        if holder_code is None or holder_type is None or type_code is None:
            raise InvalidInputError(
                "ask by certificate_id, or by all of holder_code, holder_type and type_code",
                field="certificate_id",
            )
        kind = parse_holder_type(holder_type)
        code = parse_holder_code(holder_code, kind)
        tcode = parse_certificate_type_code(type_code)
        ctype = self._certificate_type(tcode)
        if kind not in ctype.holder_types:
            raise InvalidInputError(
                f"a {ctype.name} cannot be held by holder type {kind.value}", field="holder_type"
            )
        result = await self._guarded(
            "find_certificate",
            lambda: self._find_certificate(
                certificate_id=None, holder_code=code, holder_type=kind, type_code=tcode
            ),
            context,
        )
        meta = self._check_metadata(result)
        if (meta.holder_code, meta.holder_type, meta.type_code) != (code, kind, tcode):
            raise AdapterDataError(
                f"{self._label}: the certificate answered does not match the holder and type asked"
            )
        return meta

    async def certificate_data(
        self, certificate_id: str, fields: Sequence[str], *, use_cause: str | None = None
    ) -> dict[str, str]:
        """The values of ``fields`` of a certificate, exactly those and nothing else."""
        context = CallContext(_check_use_cause(use_cause))
        cid = parse_certificate_id(certificate_id)
        ctype = self._certificate_type(certificate_type_of(cid))
        wanted = self._check_fields(fields, {f.name for f in ctype.fields}, ctype.name)
        result = await self._guarded(
            "certificate_data", lambda: self._certificate_data(cid, wanted), context
        )
        if not isinstance(result, Mapping):
            raise AdapterDataError(f"{self._label}: certificate data is not a mapping")
        if set(result) != set(wanted):
            raise AdapterDataError(
                f"{self._label}: platform released fields {sorted(map(str, result))}, "
                f"asked for {sorted(wanted)}"
            )
        out: dict[str, str] = {}
        for name in wanted:
            value = result[name]
            if not isinstance(value, str):
                raise AdapterDataError(f"{self._label}: field {name} is not a string")
            _check_length(value, name, self._label)
            out[name] = value
        return out

    async def certificate_status(
        self, certificate_id: str, *, use_cause: str | None = None
    ) -> CertificateStatus:
        """The current status of a certificate."""
        context = CallContext(_check_use_cause(use_cause))
        cid = parse_certificate_id(certificate_id)
        self._certificate_type(certificate_type_of(cid))
        result = await self._guarded(
            "certificate_status", lambda: self._certificate_status(cid), context
        )
        try:
            return CertificateStatus(result)
        except ValueError as exc:
            raise AdapterDataError(f"{self._label}: unknown status {result!r}") from exc

    async def fetch_record(
        self,
        record_type: str,
        subject_code: str,
        subject_type: HolderType,
        fields: Sequence[str],
        *,
        use_cause: str | None = None,
    ) -> RecordData:
        """The ``fields`` of a record about a resident or organisation."""
        context = CallContext(_check_use_cause(use_cause))
        rtype = self._record_type(record_type)
        kind = parse_holder_type(subject_type, field="subject_type")
        if kind not in rtype.subject_types:
            raise InvalidInputError(
                f"record type {rtype.code} has no subjects of type {kind.value}",
                field="subject_type",
            )
        code = parse_holder_code(subject_code, kind)
        wanted = self._check_fields(fields, {f.name for f in rtype.fields}, rtype.code)
        result = await self._guarded(
            "fetch_record", lambda: self._fetch_record(rtype.code, code, kind, wanted), context
        )
        if not isinstance(result, RecordData):
            raise AdapterDataError(f"{self._label}: record is not RecordData")
        if result.record_type != rtype.code:
            raise AdapterDataError(
                f"{self._label}: asked for {rtype.code}, got {result.record_type}"
            )
        if not isinstance(result.as_of, datetime) or result.as_of.utcoffset() is None:
            raise AdapterDataError(f"{self._label}: record time must be timezone-aware")
        if set(result.fields) != set(wanted):
            raise AdapterDataError(
                f"{self._label}: platform released record fields {sorted(result.fields)}, "
                f"asked for {sorted(wanted)}"
            )
        for name, value in result.fields.items():
            if value is not None and not isinstance(value, str | int | bool):
                raise AdapterDataError(f"{self._label}: record field {name} has a bad type")
            if isinstance(value, str):
                _check_length(value, name, self._label)
            elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**53:
                raise AdapterDataError(f"{self._label}: record field {name} is out of range")
        ordered = {name: result.fields[name] for name in wanted}
        return RecordData(record_type=rtype.code, as_of=result.as_of, fields=ordered)

    async def correct_certificate(
        self, certificate_id: str, fields: Mapping[str, str], *, reason: str
    ) -> CertificateMetadata:
        """Issue a corrected version of a certificate with ``fields`` (name -> new value) and
        return its metadata; the old version stops being valid.

        Optional: :class:`~deltafed.NotSupportedError` when the adapter has no such hook.
        """
        cid = parse_certificate_id(certificate_id)
        ctype = self._certificate_type(certificate_type_of(cid))
        if not isinstance(fields, Mapping):
            raise InvalidInputError("fields must map field names to values", field="fields")
        wanted = self._check_fields(list(fields), {f.name for f in ctype.fields}, ctype.name)
        values = {}
        for name in wanted:
            value = fields[name]
            if not isinstance(value, str) or not value.strip():
                raise InvalidInputError(f"field {name} needs a non-empty text value", field=name)
            _check_length(value, name, self._label)
            values[name] = value
        why = _check_reason(reason)
        context = CallContext(why)
        result = await self._guarded(
            "correct_certificate", lambda: self._correct_certificate(cid, values, why), context
        )
        meta = self._check_metadata(result)
        if meta.identifier == cid or meta.type_code != certificate_type_of(cid):
            raise AdapterDataError(
                f"{self._label}: a corrected certificate needs a new identifier of the same type"
            )
        if meta.status is not CertificateStatus.VALID:
            raise AdapterDataError(f"{self._label}: the corrected certificate is not valid")
        return meta

    async def revoke_certificate(self, certificate_id: str, *, reason: str) -> CertificateStatus:
        """Revoke a certificate on the platform; returns its new status (``03`` revoked).

        Optional: :class:`~deltafed.NotSupportedError` when the adapter has no such hook.
        """
        cid = parse_certificate_id(certificate_id)
        self._certificate_type(certificate_type_of(cid))
        why = _check_reason(reason)
        result = await self._guarded(
            "revoke_certificate", lambda: self._revoke_certificate(cid, why), CallContext(why)
        )
        try:
            status = CertificateStatus(result)
        except ValueError as exc:
            raise AdapterDataError(f"{self._label}: unknown status {result!r}") from exc
        if status is not CertificateStatus.REVOKED:
            raise AdapterDataError(f"{self._label}: the platform did not revoke the certificate")
        return status

    async def probe(self) -> None:
        """Ask the native platform one cheap question that touches no data.

        Returns if it answers; raises an :class:`~deltafed.AdapterError` (unavailable,
        timeout...) if not, within :attr:`probe_timeout` seconds. A node's ``/health`` calls
        it (and caches the result for a few seconds) to say ``degraded`` while the platform
        is down.
        """
        await self._guarded("probe", self._probe, timeout=min(self.timeout, self.probe_timeout))

    async def evaluate_predicate(
        self,
        predicate: Predicate,
        subject_code: str,
        subject_type: HolderType,
        *,
        use_cause: str | None = None,
    ) -> bool:
        """Whether ``predicate`` holds for the subject's record. No value leaves this method.

        The platform evaluates it when the adapter implements :meth:`_evaluate_predicate`;
        otherwise the one field is fetched here and compared here. A subject without such a
        record satisfies no predicate (``False``).
        """
        context = CallContext(_check_use_cause(use_cause))
        if not isinstance(predicate, Predicate):
            raise InvalidInputError("predicate must be a deltafed.schemas.matching.Predicate")
        rtype = self._record_type(predicate.record_type)
        kind = parse_holder_type(subject_type, field="subject_type")
        if kind not in rtype.subject_types:
            raise InvalidInputError(
                f"record type {rtype.code} has no subjects of type {kind.value}",
                field="subject_type",
            )
        code = parse_holder_code(subject_code, kind)
        self._check_fields((predicate.field,), {f.name for f in rtype.fields}, rtype.code)
        try:
            native = await self._guarded(
                "evaluate_predicate",
                lambda: self._evaluate_predicate(rtype.code, code, kind, predicate),
                context,
            )
            if native is not None:
                if type(native) is not bool:
                    raise AdapterDataError(f"{self._label}: predicate answer is not a boolean")
                return native
            record = await self.fetch_record(
                rtype.code, code, kind, (predicate.field,), use_cause=use_cause
            )
        except NotFoundError:
            return False
        return compare(record.fields[predicate.field], predicate.comparison, predicate.threshold)

    async def count_subjects(
        self, aggregate: Aggregate, place: str, *, use_cause: str | None = None
    ) -> int:
        """How many subjects of ``aggregate.record_type`` have ``aggregate.field == place``."""
        context = CallContext(_check_use_cause(use_cause))
        if not isinstance(aggregate, Aggregate):
            raise InvalidInputError("aggregate must be a deltafed.schemas.matching.Aggregate")
        if not isinstance(place, str) or not 0 < len(place) <= 64:
            raise InvalidInputError("place must be 1 to 64 characters", field="place")
        rtype = self._record_type(aggregate.record_type)
        self._check_fields((aggregate.field,), {f.name for f in rtype.fields}, rtype.code)
        result = await self._guarded(
            "count_subjects",
            lambda: self._count_subjects(rtype.code, aggregate.field, place),
            context,
        )
        if type(result) is not int or not 0 <= result <= 2**53 - 1:
            raise AdapterDataError(f"{self._label}: count is not a whole number")
        return result

    async def changes(self, since: str | None, *, limit: int = 100) -> ChangeBatch:
        """The platform's changes after cursor ``since`` (``None``: from the start).

        The optional change-feed hook :meth:`_changes` reads a native change log or polls;
        an adapter without one raises :class:`~deltafed.AdapterError`.
        """
        if since is not None and (not isinstance(since, str) or not 0 < len(since) <= 256):
            raise InvalidInputError("since must be a cursor string or None", field="since")
        if not 1 <= limit <= 1000:
            raise InvalidInputError("limit must be 1 to 1000", field="limit")
        batch = await self._guarded("changes", lambda: self._changes(since, limit))
        if not isinstance(batch, ChangeBatch) or len(batch.changes) > limit:
            raise AdapterDataError(f"{self._label}: change feed answer is not a ChangeBatch")
        for change in batch.changes:
            if change.kind == _RECORD_CHANGE:
                if change.record_type is None or change.certificate_id is not None:
                    raise AdapterDataError(f"{self._label}: a record change names its record")
                self._record_type(change.record_type)
            elif change.kind in _CHANGE_KINDS:
                if change.certificate_id is None or change.type_code is None:
                    raise AdapterDataError(f"{self._label}: a change names its certificate")
                if certificate_type_of(parse_certificate_id(change.certificate_id)) != (
                    change.type_code
                ):
                    raise AdapterDataError(f"{self._label}: change type code does not match")
            else:
                raise AdapterDataError(f"{self._label}: unknown change kind {change.kind!r}")
            parse_holder_code(change.holder_code, change.holder_type)
            if change.occurred_at.utcoffset() is None:
                raise AdapterDataError(f"{self._label}: change time must be timezone-aware")
        return batch

    async def aclose(self) -> None:
        """Release connections; idempotent."""
        if not self._closed:
            self._closed = True
            await self._aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- hooks ------------------------------------------------------------------------------

    @abc.abstractmethod
    def _catalogue(self) -> Catalogue:
        """The catalogue of this adapter (called once, then cached)."""

    @abc.abstractmethod
    async def _find_certificate(
        self,
        *,
        certificate_id: str | None,
        holder_code: str | None,
        holder_type: HolderType | None,
        type_code: str | None,
    ) -> CertificateMetadata:
        """Find one certificate; inputs are validated; raise NotFoundError if none."""

    @abc.abstractmethod
    async def _certificate_data(
        self, certificate_id: str, fields: tuple[str, ...]
    ) -> Mapping[str, str]:
        """Exactly the requested fields of a certificate, as strings."""

    @abc.abstractmethod
    async def _certificate_status(self, certificate_id: str) -> CertificateStatus | str:
        """The current status of a certificate."""

    @abc.abstractmethod
    async def _fetch_record(
        self, record_type: str, subject_code: str, subject_type: HolderType, fields: tuple[str, ...]
    ) -> RecordData:
        """Exactly the requested fields of a record."""

    async def _correct_certificate(
        self, certificate_id: str, fields: dict[str, str], reason: str
    ) -> CertificateMetadata:
        """Optional: issue the corrected version; the default says it is not supported."""
        raise NotSupportedError(f"{self._label} cannot correct certificates")

    async def _revoke_certificate(
        self, certificate_id: str, reason: str
    ) -> CertificateStatus | str:
        """Optional: revoke on the platform; the default says it is not supported."""
        raise NotSupportedError(f"{self._label} cannot revoke certificates")

    async def _aclose(self) -> None:
        """Release resources; called once by :meth:`aclose`."""
        return None

    async def _probe(self) -> None:
        """Hook of :meth:`probe`: a cheap call that proves the platform answers.

        The default asks nothing, so an adapter with no such call is reported as answering;
        an adapter in front of a remote platform should override it.
        """
        return None

    async def _evaluate_predicate(
        self, record_type: str, subject_code: str, subject_type: HolderType, predicate: Predicate
    ) -> bool | None:
        """Evaluate on the platform; ``None`` (the default) lets the base do it in the node."""
        return None

    async def _count_subjects(self, record_type: str, field: str, value: str) -> int:
        """Count on the platform (the default: this adapter cannot count)."""
        raise AdapterError(f"{self._label} cannot count subjects on its platform")

    async def _changes(self, since: str | None, limit: int) -> ChangeBatch:
        """The change feed (the default: this adapter has none)."""
        raise AdapterError(f"{self._label} has no change feed")

    # --- invariants -------------------------------------------------------------------------

    @property
    def _label(self) -> str:
        return f"adapter {getattr(self, 'name', type(self).__name__)} ({self.region})"

    def _certificate_type(self, type_code: str) -> CertificateType:
        ctype = self.catalogue().certificate_type(type_code)
        if ctype is None:
            raise NotFoundError(
                f"{self._label} serves no certificate type {type_code}", field="type_code"
            )
        return ctype

    def _record_type(self, code: str) -> RecordType:
        if not isinstance(code, str):
            raise InvalidInputError("record type must be a string", field="record_type")
        rtype = self.catalogue().record_type(code)
        if rtype is None:
            raise NotFoundError(f"{self._label} serves no record type {code}", field="record_type")
        return rtype

    def _check_fields(self, fields: Sequence[str], known: set[str], what: str) -> tuple[str, ...]:
        if isinstance(fields, str | bytes) or not isinstance(fields, Sequence):
            raise InvalidInputError("fields must be a sequence of field names", field="fields")
        if not fields:
            raise InvalidInputError("ask for at least one field", field="fields")
        if len(fields) > self.max_fields:
            raise SizeLimitError(
                f"{len(fields)} fields asked, at most {self.max_fields} per call", field="fields"
            )
        wanted = tuple(fields)
        if len(set(wanted)) != len(wanted):
            raise InvalidInputError("a field is asked for twice", field="fields")
        unknown = [f for f in wanted if not isinstance(f, str) or f not in known]
        if unknown:
            raise InvalidInputError(
                f"{what} has no field(s) {', '.join(map(str, unknown))}", field="fields"
            )
        return wanted

    def _check_metadata(self, result: object) -> CertificateMetadata:
        if not isinstance(result, CertificateMetadata):
            raise AdapterDataError(f"{self._label}: answer is not CertificateMetadata")
        try:
            # Re-validate: a hook may have built the model without validation.
            meta = CertificateMetadata.model_validate(result.model_dump())
        except _PydanticValidationError as exc:
            raise AdapterDataError(f"{self._label}: certificate metadata invalid: {exc}") from exc
        if self.catalogue().certificate_type(meta.type_code) is None:
            raise AdapterDataError(
                f"{self._label}: platform answered a certificate of unlisted type {meta.type_code}"
            )
        return meta

    async def _guarded(
        self,
        what: str,
        call: Callable[[], Awaitable[_T]],
        context: CallContext = _NO_CALL,
        *,
        timeout: float | None = None,
    ) -> _T:
        if self._closed:
            raise AdapterUnavailableError(f"{self._label} is closed")
        limit = self.timeout if timeout is None else timeout
        token = _CALL.set(context)
        try:
            with anyio.fail_after(limit):
                return await call()
        except TimeoutError as exc:
            raise AdapterTimeoutError(
                f"{self._label}: {what} took longer than {limit:g} s"
            ) from exc
        except _PASS_THROUGH:
            raise
        except InvalidInputError as exc:
            raise AdapterDataError(f"{self._label}: {what}: bad native data: {exc}") from exc
        except DeltafedError:
            raise
        except httpx.TimeoutException as exc:
            raise AdapterTimeoutError(f"{self._label}: {what}: {exc}") from exc
        except (httpx.TransportError, OSError) as exc:
            raise AdapterUnavailableError(f"{self._label}: {what}: {exc}") from exc
        except (_PydanticValidationError, ValueError, KeyError, TypeError) as exc:
            raise AdapterDataError(f"{self._label}: {what}: bad native data: {exc}") from exc
        except Exception as exc:
            raise AdapterError(f"{self._label}: {what} failed: {type(exc).__name__}") from exc
        finally:
            _CALL.reset(token)


def _check_reason(value: object) -> str:
    # The reason travels like a use cause: the same length bound and the same checks.
    checked = _check_use_cause(value)
    if checked is None:
        raise InvalidInputError("a correction or revocation states its reason", field="reason")
    return checked


def _check_length(value: str, name: str, label: str) -> None:
    if len(value) > MAX_VALUE_LENGTH:
        raise AdapterDataError(f"{label}: field {name} is longer than {MAX_VALUE_LENGTH}")
