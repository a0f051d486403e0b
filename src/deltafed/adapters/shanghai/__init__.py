"""Shanghai (310000): adapter, native client and sandbox (an invented convention, modelled)."""

from deltafed.adapters.shanghai._adapter import ShanghaiAdapter, licence_to_metadata
from deltafed.adapters.shanghai._native import (
    SHANGHAI_CODES,
    ShanghaiCredentials,
    ShanghaiLicenceClient,
    canonical_request,
    sh_signature,
)
from deltafed.adapters.shanghai._sandbox import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    ShanghaiSandbox,
)

__all__ = [
    "SANDBOX_CLIENT_ID",
    "SANDBOX_CLIENT_SECRET",
    "SHANGHAI_CODES",
    "ShanghaiAdapter",
    "ShanghaiCredentials",
    "ShanghaiLicenceClient",
    "ShanghaiSandbox",
    "canonical_request",
    "licence_to_metadata",
    "sh_signature",
]
