"""The node as an ASGI application factory, for servers that start their own worker processes.

``deltafed serve --workers N`` hands uvicorn the import string
``deltafed.node:app_from_environment`` (with ``factory=True``): every worker process imports
it and builds its own node from the configuration file named by ``DELTAFED_NODE_CONFIG``,
with its own connections to the shared stores. The same works under any ASGI server that
takes a factory, e.g. ``uvicorn --factory --workers 4 deltafed.node:app_from_environment``.
"""

from __future__ import annotations

import os
from typing import Final

from deltafed._errors import ConfigurationError
from deltafed.node._config import build_node, load_config
from deltafed.node._node import Node
from deltafed.node._observe import configure_logging

__all__ = ["CONFIG_ENV", "LOG_LEVEL_ENV", "app_from_environment"]

#: The environment variable naming the node's configuration file for each worker.
CONFIG_ENV: Final = "DELTAFED_NODE_CONFIG"
#: Optional: overrides ``[node] log_level`` in each worker (``deltafed serve --log-level``).
LOG_LEVEL_ENV: Final = "DELTAFED_LOG_LEVEL"


def app_from_environment() -> Node:
    """Build the node of the configuration file named by ``DELTAFED_NODE_CONFIG``, with
    deltafed's logs set up as ``deltafed serve`` sets them up for a single process."""
    path = os.environ.get(CONFIG_ENV, "")
    if not path:
        raise ConfigurationError(
            f"{CONFIG_ENV} does not name a node configuration file",
            remediation=f"Set {CONFIG_ENV}=/path/to/node.toml for every worker process.",
        )
    config = load_config(path)
    level = os.environ.get(LOG_LEVEL_ENV) or config.log_level
    configure_logging(level, json_lines=config.log_format == "json")
    return build_node(config)
