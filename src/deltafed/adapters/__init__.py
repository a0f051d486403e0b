"""Province adapters: how a node reaches its province's own data platform.

:class:`ProvinceAdapter` is the contract (see ``docs/adapters.md``); :class:`InMemoryAdapter`
is the dict-backed one for tests. The province adapters live in ``deltafed.adapters.shanghai``,
``.jiangsu`` and ``.zhejiang``, each with a sandbox of its native platform, and are found by
name through the ``deltafed.adapters`` entry-point group (:func:`load_adapter`,
:func:`create_adapter`).
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
    RecordValue,
    parse_holder_code,
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
from deltafed.adapters._sandboxkit import FAULT_NAMES, Faults, SandboxTransport
from deltafed.adapters._synthetic import (
    DEFAULT_SEED,
    Population,
    RegionData,
    synthetic_catalogue,
    synthetic_population,
)
from deltafed.adapters.memory import InMemoryAdapter, MemoryCertificate, MemoryRecord

__all__ = [
    "DEFAULT_SEED",
    "DEFAULT_TIMEOUT",
    "ENTRY_POINT_GROUP",
    "FAULT_NAMES",
    "MAX_FIELDS_PER_CALL",
    "MAX_USE_CAUSE_LENGTH",
    "BrokenAdapter",
    "CallContext",
    "Change",
    "ChangeBatch",
    "Faults",
    "HttpProvinceAdapter",
    "HttpSettings",
    "InMemoryAdapter",
    "MemoryCertificate",
    "MemoryRecord",
    "Population",
    "ProvinceAdapter",
    "RecordData",
    "RecordValue",
    "RegionData",
    "SandboxTransport",
    "available_adapters",
    "broken_adapters",
    "create_adapter",
    "load_adapter",
    "parse_holder_code",
    "register_adapter",
    "synthetic_catalogue",
    "synthetic_population",
    "unregister_adapter",
]
