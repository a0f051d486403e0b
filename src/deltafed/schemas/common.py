"""Small closed vocabularies shared by every layer."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import StringConstraints

__all__ = ["CertificateStatus", "Digest", "HolderType", "Operation", "RequestId", "SubjectRef"]

#: What a request asks a node to do.
Operation = Literal[
    "certificate.verify",
    "certificate.release",
    "record.request",
    # cross-region concerns (docs/protocol.md section 10)
    "concern.file",
    "concern.history",
    "concern.escalations",
    "match.ask",
    "subscription.create",
    "subscription.list",
    "subscription.cancel",
    "event.deliver",
]


class HolderType(StrEnum):
    """Holder code types of GB/T 36903 (CZZTDMLXDM)."""

    RESIDENT = "111"  #: resident identity number
    ORGANISATION = "001"  #: unified social credit code


class CertificateStatus(StrEnum):
    """Certificate status codes as seen in the national feed."""

    VALID = "01"
    WITHHELD = "02"  #: temporarily withheld
    REVOKED = "03"
    CANCELLED = "04"
    EXPIRED = "05"
    OTHER = "99"


#: The id of one request, chosen by the requester (a UUID, a JWT ``jti``...).
RequestId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
#: A digest written ``sha-256:<64 lower-case hex digits>`` (``sm3:<hex>`` in a gm federation).
Digest = Annotated[str, StringConstraints(max_length=72, pattern=r"^(?:sha-256|sm3):[0-9a-f]{64}$")]
#: A keyed hash standing for a person or organisation: ``hmac-sha256:<64 hex digits>``
#: (``hmac-sm3:<hex>`` in a gm federation).
SubjectRef = Annotated[
    str, StringConstraints(max_length=76, pattern=r"^hmac-(?:sha256|sm3):[0-9a-f]{64}$")
]
