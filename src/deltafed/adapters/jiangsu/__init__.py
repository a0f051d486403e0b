"""Jiangsu (320000): adapter, native gateway client and sandbox (modelled, not official)."""

from deltafed.adapters.jiangsu._adapter import DEFAULT_USE_CAUSE, JiangsuAdapter
from deltafed.adapters.jiangsu._native import (
    JIANGSU_GATEWAY_CODES,
    JIANGSU_STATUS,
    JiangsuCertShareClient,
    JiangsuCredentials,
    tif_headers,
    tif_signature,
)
from deltafed.adapters.jiangsu._sandbox import (
    SANDBOX_ACCESS_ID,
    SANDBOX_ACCESS_KEY,
    SANDBOX_PAAS_ID,
    SANDBOX_PAAS_TOKEN,
    JiangsuSandbox,
)

__all__ = [
    "DEFAULT_USE_CAUSE",
    "JIANGSU_GATEWAY_CODES",
    "JIANGSU_STATUS",
    "SANDBOX_ACCESS_ID",
    "SANDBOX_ACCESS_KEY",
    "SANDBOX_PAAS_ID",
    "SANDBOX_PAAS_TOKEN",
    "JiangsuAdapter",
    "JiangsuCertShareClient",
    "JiangsuCredentials",
    "JiangsuSandbox",
    "tif_headers",
    "tif_signature",
]
