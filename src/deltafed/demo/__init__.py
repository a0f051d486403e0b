"""``deltafed demo``: a whole federation on this machine, shown working in a few seconds.

:func:`run_demo` writes a federation into a fresh folder (TEST anchor and member keys, the
signed registry with catalogues and use scenarios, a TOML configuration per node), serves the
Shanghai, Jiangsu and Zhejiang nodes on loopback ports - each backed by its province adapter's
sandbox and a SQLite audit log - and runs realistic cross-region cases, each of which checks
its own outcome. Synthetic data only.

A demo, not a deployment: with the ``deltafed demo``, ``deltafed adapter`` and ``deltafed
onboard`` commands, the one part of the package allowed to use the fixtures of
:mod:`deltafed.testing`.
"""

from deltafed.demo._cases import CASES, Case, UnexpectedOutcomeError, World
from deltafed.demo._files import DemoFiles, NodeFiles, demo_scenarios, write_federation
from deltafed.demo._run import CaseResult, DemoReport, NodeFactory, run_demo

__all__ = [
    "CASES",
    "Case",
    "CaseResult",
    "DemoFiles",
    "DemoReport",
    "NodeFactory",
    "NodeFiles",
    "UnexpectedOutcomeError",
    "World",
    "demo_scenarios",
    "run_demo",
    "write_federation",
]
