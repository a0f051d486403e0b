"""The public API of deltafed.adapters and the province packages is pinned."""

from __future__ import annotations

import importlib

import pytest

import deltafed.adapters

PACKAGES = [
    "deltafed.adapters",
    "deltafed.adapters.jiangsu",
    "deltafed.adapters.shanghai",
    "deltafed.adapters.zhejiang",
]


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions.
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_unique_and_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(set(module.__all__), key=_isort_key)
    for item in module.__all__:
        assert hasattr(module, item), item


def test_adapters_exports_are_pinned() -> None:
    assert set(deltafed.adapters.__all__) == {
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
    }
