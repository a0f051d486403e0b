"""Zhejiang (330000): adapter, native gateway client and sandbox (modelled, not official)."""

from deltafed.adapters.zhejiang._adapter import ZhejiangAdapter, licence_to_metadata
from deltafed.adapters.zhejiang._native import (
    ZHEJIANG_CODES,
    ZhejiangCredentials,
    ZhejiangGatewayClient,
    zhejiang_sign,
)
from deltafed.adapters.zhejiang._sandbox import (
    SANDBOX_APP_KEY,
    SANDBOX_APP_SECRET,
    ZhejiangSandbox,
)

__all__ = [
    "SANDBOX_APP_KEY",
    "SANDBOX_APP_SECRET",
    "ZHEJIANG_CODES",
    "ZhejiangAdapter",
    "ZhejiangCredentials",
    "ZhejiangGatewayClient",
    "ZhejiangSandbox",
    "licence_to_metadata",
    "zhejiang_sign",
]
