"""Purpose-bound matching (``docs/protocol.md`` section 12): predicates and counts, not data.

A use scenario names the predicates (a field, a comparison, a threshold) and the aggregates
(a count over a place) its purpose needs; a requester cites one by id and gets a signed
boolean, or a count, or "fewer than K" below the scenario's minimum group size. Questions are
rate-limited per requester and scenario (:class:`RateLimiter`).
"""

from deltafed.matching._matcher import Matcher
from deltafed.matching._ratelimit import (
    DEFAULT_RATE_LIMIT,
    BucketStore,
    MemoryBucketStore,
    RateLimiter,
    SqliteBucketStore,
)

__all__ = [
    "DEFAULT_RATE_LIMIT",
    "BucketStore",
    "Matcher",
    "MemoryBucketStore",
    "RateLimiter",
    "SqliteBucketStore",
]
