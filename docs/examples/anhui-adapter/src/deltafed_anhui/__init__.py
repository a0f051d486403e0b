"""An Anhui (340000) adapter for deltafed, as a separate plugin package.

Everything it uses is deltafed's public API: :class:`~deltafed.adapters.ProvinceAdapter` and
its hooks, :class:`~deltafed.adapters.RecordData`, the shared schemas and the synthetic
population for the sandbox.
"""

from deltafed_anhui._adapter import AnhuiAdapter
from deltafed_anhui._sandbox import SANDBOX_API_KEY, AnhuiSandbox

__all__ = ["SANDBOX_API_KEY", "AnhuiAdapter", "AnhuiSandbox"]
