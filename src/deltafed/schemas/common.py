"""Small closed vocabularies shared by every layer."""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

__all__ = ["CertificateStatus", "HolderType", "Operation"]

#: What a request asks a node to do.
Operation = Literal["certificate.verify", "certificate.release", "record.request"]


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
