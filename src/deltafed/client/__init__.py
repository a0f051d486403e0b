"""The requesting side: find a region's node, sign, send, retry, verify, return typed results.

:class:`FederationClient` (sync) and :class:`AsyncFederationClient` (async) run on httpx;
:func:`issue_consent` signs a holder's consent to carry with requests. See
``docs/quickstart.md`` and ``docs/node.md``.
"""

from deltafed.client._client import (
    RETRY_STATUSES,
    AsyncFederationClient,
    ExchangeResult,
    FederationClient,
)
from deltafed.client._consent import issue_consent

__all__ = [
    "RETRY_STATUSES",
    "AsyncFederationClient",
    "ExchangeResult",
    "FederationClient",
    "issue_consent",
]
