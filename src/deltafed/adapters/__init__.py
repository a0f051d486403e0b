"""Province adapters: how a node reaches its province's own data platform.

:class:`ProvinceAdapter` is the contract (see ``docs/adapters.md``). The province adapters
live in ``deltafed.adapters.shanghai``, ``.jiangsu`` and ``.zhejiang``, and are found by name
through the ``deltafed.adapters`` entry-point group (:func:`load_adapter`,
:func:`create_adapter`). The sandboxes of their native platforms, the synthetic data they serve
and the dict-backed ``InMemoryAdapter`` are fixtures: they live in ``deltafed.testing``.
"""

from deltafed.adapters._base import (
    DEFAULT_TIMEOUT,
    MAX_FIELDS_PER_CALL,
    MAX_USE_CAUSE_LENGTH,
    CallContext,
    Change,
    ChangeBatch,
    ProvinceAdapter,
    RecordData,
)
from deltafed.adapters._http import HttpSettings
from deltafed.adapters._province import HttpProvinceAdapter
from deltafed.adapters._registry import (
    ENTRY_POINT_GROUP,
    BrokenAdapter,
    available_adapters,
    broken_adapters,
    create_adapter,
    load_adapter,
    register_adapter,
    unregister_adapter,
)

__all__ = [
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "MAX_FIELDS_PER_CALL",
    "MAX_USE_CAUSE_LENGTH",
    "BrokenAdapter",
    "CallContext",
    "Change",
    "ChangeBatch",
    "HttpProvinceAdapter",
    "HttpSettings",
    "ProvinceAdapter",
    "RecordData",
    "available_adapters",
    "broken_adapters",
    "create_adapter",
    "load_adapter",
    "register_adapter",
    "unregister_adapter",
]
