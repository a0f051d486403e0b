"""Runtime dependencies that nothing under src/ imports, but that a dependency looks up."""

from __future__ import annotations

import asyncio
import importlib.util

import httpcore._synchronization


def test_sniffio_is_installed_for_httpcore() -> None:
    # ADR 0012: httpcore imports sniffio at every lock it sets up; when it is absent the import
    # fails, is not remembered, and searches sys.path again on every call.
    assert importlib.util.find_spec("sniffio") is not None

    async def which() -> str:
        return httpcore._synchronization.current_async_library()

    assert asyncio.run(which()) == "asyncio"
