"""Zhejiang (330000): adapter and native gateway client (modelled, not official);
its sandbox is in ``deltafed.testing``."""

from deltafed.adapters.zhejiang._adapter import ZhejiangAdapter, licence_to_metadata
from deltafed.adapters.zhejiang._native import (
    ZHEJIANG_CODES,
    ZhejiangCredentials,
    ZhejiangGatewayClient,
    zhejiang_sign,
)

__all__ = [
    "ZHEJIANG_CODES",
    "ZhejiangAdapter",
    "ZhejiangCredentials",
    "ZhejiangGatewayClient",
    "licence_to_metadata",
    "zhejiang_sign",
]
