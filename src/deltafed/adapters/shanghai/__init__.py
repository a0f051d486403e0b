"""Shanghai (310000): adapter and native client (an invented convention, modelled);
its sandbox is in ``deltafed.testing``."""

from deltafed.adapters.shanghai._adapter import ShanghaiAdapter, licence_to_metadata
from deltafed.adapters.shanghai._native import (
    SHANGHAI_CODES,
    ShanghaiCredentials,
    ShanghaiLicenceClient,
    canonical_request,
    sh_signature,
)

__all__ = [
    "SHANGHAI_CODES",
    "ShanghaiAdapter",
    "ShanghaiCredentials",
    "ShanghaiLicenceClient",
    "canonical_request",
    "licence_to_metadata",
    "sh_signature",
]
