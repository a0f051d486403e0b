"""The federation trust registry: who the members are, their keys, endpoints and scenarios.

Layers, after python-tuf:

* :class:`RegistryDocument` and friends - the document, validated, no I/O;
* :func:`sign_registry` / :func:`verify_registry` - one signed file (General JSON JWS,
  k-of-n anchor signatures), no I/O, no clock;
* :class:`TrustedRegistry` - admits only verified data (threshold, anchor rotation, rollback,
  expiry with a bounded grace period) and answers trust questions; it is the
  :class:`~deltafed.keys.KeyResolver` of the protocol layer;
* :class:`RegistryStateStore` - the last verified version per federation, kept across
  restarts and replicas (memory, SQLite, PostgreSQL), so a rollback is refused there too;
* :class:`RegistryClient` - fetches the registry over HTTP into a :class:`TrustedRegistry`,
  walking every intermediate version; :class:`RegistryFile` does the same from a file system;
* :class:`RegistryPoller` - refreshes from the publication point every interval (live trust
  updates); :func:`write_publication` publishes a version beside the current one.

See ``docs/trust.md`` for the model and the operator's steps.
"""

from deltafed.registry._builder import DEFAULT_VALIDITY, RegistryBuilder
from deltafed.registry._client import AsyncRegistryClient, RegistryClient
from deltafed.registry._files import load_anchor_file, load_registry_file
from deltafed.registry._models import (
    AnchorKeys,
    KeyState,
    Member,
    MemberKey,
    PublicJwk,
    RegistryDocument,
)
from deltafed.registry._poller import PollStatus, RegistryPoller
from deltafed.registry._publication import RegistryFile, write_publication
from deltafed.registry._signing import (
    MAX_REGISTRY_BYTES,
    REGISTRY_TYP,
    SignedRegistry,
    add_signatures,
    parse_signed_registry,
    sign_registry,
    verify_registry,
)
from deltafed.registry._state import (
    MemoryRegistryState,
    PostgresRegistryState,
    RegistryStateStore,
    SqliteRegistryState,
    payload_digest,
)
from deltafed.registry._trusted import DEFAULT_GRACE, RegistryState, TrustedRegistry

__all__ = [
    "DEFAULT_GRACE",
    "DEFAULT_VALIDITY",
    "MAX_REGISTRY_BYTES",
    "REGISTRY_TYP",
    "AnchorKeys",
    "AsyncRegistryClient",
    "KeyState",
    "Member",
    "MemberKey",
    "MemoryRegistryState",
    "PollStatus",
    "PostgresRegistryState",
    "PublicJwk",
    "RegistryBuilder",
    "RegistryClient",
    "RegistryDocument",
    "RegistryFile",
    "RegistryPoller",
    "RegistryState",
    "RegistryStateStore",
    "SignedRegistry",
    "SqliteRegistryState",
    "TrustedRegistry",
    "add_signatures",
    "load_anchor_file",
    "load_registry_file",
    "parse_signed_registry",
    "payload_digest",
    "sign_registry",
    "verify_registry",
    "write_publication",
]
