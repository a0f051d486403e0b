"""``[state.retry]`` of a node's configuration: the outbox's RetryPolicy, by its field names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deltafed import ConfigurationError, RetryPolicy
from deltafed.events import DELIVERY_RETRY
from deltafed.node import NodeConfig
from deltafed.testing import JIANGSU


def _config(state: dict[str, Any]) -> NodeConfig:
    data = {
        "node": {"member": JIANGSU, "key_file": "node.pem"},
        "registry": {"file": "registry.jws", "anchor": "anchor.json"},
        "audit": {"db": "audit.db", "subject_key_file": "subject.key"},
        "adapter": {"name": "memory"},
        "state": {"db": "state.db", **state},
    }
    return NodeConfig.from_mapping(data, base=Path("/srv/node"))


def test_without_a_retry_table_the_outbox_keeps_its_default() -> None:
    assert _config({}).delivery_retry == DELIVERY_RETRY


def test_the_retry_table_changes_only_what_it_names() -> None:
    config = _config({"retry": {"attempts": 12, "max_wait": 600}})
    assert config.delivery_retry == RetryPolicy(
        attempts=12, initial_wait=2.0, multiplier=2.0, max_wait=600.0, jitter=0.0
    )


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"max_attempts": 8}, r"\[state\]: unknown keys \['max_attempts'\]"),
        ({"retry": {"max_attempts": 8}}, r"\[state.retry\]: unknown keys \['max_attempts'\]"),
        ({"retry": {"attempts": 0}}, r"\[state.retry\] retry attempts must be a whole number"),
        ({"retry": 8}, r"\[state.retry\] must be a table"),
    ],
)
def test_bad_retry_settings_are_refused(state: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        _config(state)
