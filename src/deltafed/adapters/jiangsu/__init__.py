"""Jiangsu (320000): adapter and native gateway client (modelled, not official);
its sandbox is in ``deltafed.testing``."""

from deltafed.adapters.jiangsu._adapter import DEFAULT_USE_CAUSE, JiangsuAdapter
from deltafed.adapters.jiangsu._native import (
    JIANGSU_GATEWAY_CODES,
    JIANGSU_STATUS,
    JiangsuCertShareClient,
    JiangsuCredentials,
    tif_headers,
    tif_signature,
)

__all__ = [
    "DEFAULT_USE_CAUSE",
    "JIANGSU_GATEWAY_CODES",
    "JIANGSU_STATUS",
    "JiangsuAdapter",
    "JiangsuCertShareClient",
    "JiangsuCredentials",
    "tif_headers",
    "tif_signature",
]
