"""Fixtures for tests, demos and conformance runs: never for a deployment.

Everything here stands in for something a real federation has: :class:`LocalFederation` is a
whole federation in one process with TEST keys (generated in memory or derived from a public
seed); :class:`LoopbackServer` serves an app on a 127.0.0.1 port; the sandboxes answer in each
province's native protocol from :func:`synthetic_population`, whose residents, companies and
certificates can never be a real person's; the ``*_SANDBOX_*`` credentials are the ones the
sandboxes accept, published on purpose. :class:`InMemoryAdapter` is a dict-backed adapter (and
the simplest example of the adapter contract).

The production packages (``deltafed.node``, ``deltafed.adapters`` and the rest) do not export
these names, and no production module imports this one: only the demo (``deltafed.demo``) and
the command-line tools that build demo or sandbox material (``deltafed demo``,
``deltafed adapter``, ``deltafed onboard``) do, and say so.
"""

from deltafed.adapters._sandboxkit import FAULT_NAMES, Faults, SandboxTransport
from deltafed.adapters._synthetic import (
    DEFAULT_SEED,
    Population,
    RegionData,
    synthetic_catalogue,
    synthetic_population,
)
from deltafed.adapters.jiangsu._sandbox import (
    SANDBOX_ACCESS_ID as JIANGSU_SANDBOX_ACCESS_ID,
)
from deltafed.adapters.jiangsu._sandbox import (
    SANDBOX_ACCESS_KEY as JIANGSU_SANDBOX_ACCESS_KEY,
)
from deltafed.adapters.jiangsu._sandbox import (
    SANDBOX_PAAS_ID as JIANGSU_SANDBOX_PAAS_ID,
)
from deltafed.adapters.jiangsu._sandbox import (
    SANDBOX_PAAS_TOKEN as JIANGSU_SANDBOX_PAAS_TOKEN,
)
from deltafed.adapters.jiangsu._sandbox import JiangsuSandbox
from deltafed.adapters.memory import InMemoryAdapter, MemoryCertificate, MemoryRecord
from deltafed.adapters.shanghai._sandbox import (
    SANDBOX_CLIENT_ID as SHANGHAI_SANDBOX_CLIENT_ID,
)
from deltafed.adapters.shanghai._sandbox import (
    SANDBOX_CLIENT_SECRET as SHANGHAI_SANDBOX_CLIENT_SECRET,
)
from deltafed.adapters.shanghai._sandbox import ShanghaiSandbox
from deltafed.adapters.zhejiang._sandbox import (
    SANDBOX_APP_KEY as ZHEJIANG_SANDBOX_APP_KEY,
)
from deltafed.adapters.zhejiang._sandbox import (
    SANDBOX_APP_SECRET as ZHEJIANG_SANDBOX_APP_SECRET,
)
from deltafed.adapters.zhejiang._sandbox import ZhejiangSandbox
from deltafed.node._local import (
    ANHUI,
    JIANGSU,
    SCENARIO_COUNT,
    SCENARIO_HUKOU,
    SCENARIO_MATCH,
    SCENARIO_RELEASE,
    SCENARIO_SOCIAL,
    SCENARIO_SUBSCRIBE,
    SCENARIO_VERIFY,
    SHANGHAI,
    ZHEJIANG,
    LocalFederation,
    default_scenarios,
)
from deltafed.node._loopback import LoopbackServer

__all__ = [
    "ANHUI",
    "DEFAULT_SEED",
    "FAULT_NAMES",
    "JIANGSU",
    "JIANGSU_SANDBOX_ACCESS_ID",
    "JIANGSU_SANDBOX_ACCESS_KEY",
    "JIANGSU_SANDBOX_PAAS_ID",
    "JIANGSU_SANDBOX_PAAS_TOKEN",
    "SCENARIO_COUNT",
    "SCENARIO_HUKOU",
    "SCENARIO_MATCH",
    "SCENARIO_RELEASE",
    "SCENARIO_SOCIAL",
    "SCENARIO_SUBSCRIBE",
    "SCENARIO_VERIFY",
    "SHANGHAI",
    "SHANGHAI_SANDBOX_CLIENT_ID",
    "SHANGHAI_SANDBOX_CLIENT_SECRET",
    "ZHEJIANG",
    "ZHEJIANG_SANDBOX_APP_KEY",
    "ZHEJIANG_SANDBOX_APP_SECRET",
    "Faults",
    "InMemoryAdapter",
    "JiangsuSandbox",
    "LocalFederation",
    "LoopbackServer",
    "MemoryCertificate",
    "MemoryRecord",
    "Population",
    "RegionData",
    "SandboxTransport",
    "ShanghaiSandbox",
    "ZhejiangSandbox",
    "default_scenarios",
    "synthetic_catalogue",
    "synthetic_population",
]
