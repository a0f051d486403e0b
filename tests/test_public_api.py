"""The public API is pinned: a change to ``__all__`` must be deliberate."""

from __future__ import annotations

import deltafed


def test_all_is_sorted_and_unique() -> None:
    assert list(deltafed.__all__) == sorted(set(deltafed.__all__))


def test_all_names_resolve() -> None:
    for name in deltafed.__all__:
        assert hasattr(deltafed, name), name


def test_top_level_exports_are_pinned() -> None:
    expected = {
        "Clock",
        "FixedClock",
        "PrivateKey",
        "PublicKey",
        "RetryPolicy",
        "Signer",
        "Verifier",
        "__version__",
        "all_error_classes",
        "error_for_code",
        "system_clock",
    }
    errors = {name for name in deltafed.__all__ if name.endswith("Error")}
    assert set(deltafed.__all__) - errors == expected
    assert len(errors) == 55
