"""Shared fixtures of the ``gm`` crypto profile tests.

Without the ``gm`` extra or without an OpenSSL 3 that has SM2, the tests that need them are
skipped with the reason; under ``CI=true`` they fail instead, so CI cannot go green by
skipping them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from deltafed._sm2 import sm2_available

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "vectors" / "gm" / "sm2_reference.py"


def _missing(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true: required)")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _gm_extra() -> None:
    if not sm2_available():
        _missing("the gm extra (tongsuopy) is not installed")


@pytest.fixture(scope="session")
def openssl() -> str:
    """The path of an ``openssl`` 3 command that can sign with SM2."""
    exe = shutil.which("openssl")
    if exe is None:
        _missing("no openssl command")
        raise AssertionError  # unreachable: _missing raises
    probe = subprocess.run(
        [exe, "list", "-public-key-algorithms"], capture_output=True, text=True, check=False
    )
    version = subprocess.run([exe, "version"], capture_output=True, text=True, check=False)
    if "SM2" not in probe.stdout or not version.stdout.startswith("OpenSSL 3"):
        _missing(f"openssl lacks SM2 or is not OpenSSL 3: {version.stdout.strip()}")
    return exe


@pytest.fixture(scope="session")
def sm2_reference() -> ModuleType:
    """The pure-Python reference SM2 of ``docs/vectors/gm`` (tests and vectors only)."""
    spec = importlib.util.spec_from_file_location("deltafed_sm2_reference", REFERENCE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
