"""Run the test suite under every Python version the package claims.

The supported versions are the ``Programming Language :: Python :: 3.N`` classifiers in
``pyproject.toml``: adding a classifier is the one change that adds a version to ``make test``.
Each version gets its own virtual environment, ``.venv-3.N``, created and installed with the
same extras as ``.venv`` on first use (again whenever ``pyproject.toml`` or the extras change).
A ``.venv`` whose interpreter already is 3.N is used as it is.

A supported version that this machine lacks is skipped with a message, or, when the environment
variable ``CI`` is ``true``, is a failure: a green CI run means every version passed.

Standard library only: it runs before any virtual environment exists.

    python tools/pythons.py --extras dev,serve [--versions 3.12 3.13] [-- PYTEST ARGS]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CLASSIFIER = re.compile(r"Programming Language :: Python :: (3\.\d+)")
_VERSION = re.compile(r"3\.\d+")
_EXTRAS = re.compile(r"[a-z0-9][a-z0-9_-]*(,[a-z0-9][a-z0-9_-]*)*")
_PATCH = re.compile(r"3\.\d+\.\d+")
_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


def supported_versions(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The ``3.N`` versions named by the classifiers, oldest first."""
    with pyproject.open("rb") as fh:
        classifiers = tomllib.load(fh)["project"]["classifiers"]
    found = {m.group(1) for c in classifiers if (m := _CLASSIFIER.fullmatch(c))}
    return sorted(found, key=lambda v: int(v.split(".")[1]))


def _reports(interpreter: Path | str, version: str) -> bool:
    """Whether ``interpreter`` runs and is Python ``version`` (a pyenv shim may not run)."""
    try:
        done = subprocess.run(
            [str(interpreter), "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def _pyenv_roots() -> list[Path]:
    roots = [Path(p) for p in (os.environ.get("PYENV_ROOT"),) if p]
    roots.append(Path.home() / ".pyenv")
    return roots


def _patch_key(path: Path) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path.name))


def candidates(version: str) -> list[Path]:
    """Where Python ``version`` may live: PATH, then pyenv's versions, newest patch first."""
    found: list[Path] = []
    on_path = shutil.which(f"python{version}")
    if on_path:
        found.append(Path(on_path))
    for root in _pyenv_roots():
        installs = [p for p in (root / "versions").glob(f"{version}.*") if _PATCH.fullmatch(p.name)]
        installs.sort(key=_patch_key, reverse=True)
        found += [p / "bin" / f"python{version}" for p in installs]
    found += [Path(d) / f"python{version}" for d in ("/usr/local/bin", "/usr/bin")]
    return found


def find_interpreter(version: str) -> Path | None:
    """The first candidate that exists and really is Python ``version``."""
    for candidate in candidates(version):
        if candidate.exists() and _reports(candidate, version):
            return candidate
    return None


def _stamp_text(extras: str) -> str:
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    return f"extras={extras}\npyproject={digest}\n"


def ensure_venv(version: str, interpreter: Path, extras: str) -> Path:
    """``.venv-<version>`` with the project installed with ``extras``; returns its python."""
    venv = ROOT / f".venv-{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".installed"
    want = _stamp_text(extras)
    if stamp.is_file() and stamp.read_text() == want and _reports(python, version):
        return python
    if not _reports(python, version):
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([str(interpreter), "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)
    subprocess.run([*pip, "-e", f".[{extras}]"], check=True, cwd=ROOT)
    stamp.write_text(want)
    return python


@dataclass
class Outcome:
    version: str
    status: str  # "passed", "failed" or "missing"
    detail: str


def run_version(version: str, extras: str, pytest_args: list[str]) -> Outcome:
    default = ROOT / ".venv" / "bin" / "python"
    if _reports(default, version):
        python = default
    else:
        interpreter = find_interpreter(version)
        if interpreter is None:
            looked = ", ".join(str(c) for c in candidates(version)) or "nowhere"
            return Outcome(version, "missing", f"no working python{version} (looked at: {looked})")
        try:
            python = ensure_venv(version, interpreter, extras)
        except subprocess.CalledProcessError as exc:
            return Outcome(version, "failed", f"cannot set up .venv-{version}: {exc}")
    print(f"\n=== Python {version}: {python.parent.parent.name} ===", flush=True)
    started = time.monotonic()
    done = subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=ROOT, check=False)
    seconds = time.monotonic() - started
    status = "passed" if done.returncode == 0 else "failed"
    return Outcome(version, status, f"pytest exit {done.returncode} in {seconds:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--extras", required=True, help="the extras to install, e.g. dev,serve")
    parser.add_argument("--versions", nargs="*", help="3.N versions (default: the classifiers)")
    parser.add_argument("pytest_args", nargs="*", help="after --: arguments for pytest")
    args = parser.parse_args(argv)
    if not _EXTRAS.fullmatch(args.extras):
        parser.error(f"--extras: not a comma-separated list of extras: {args.extras!r}")
    versions = args.versions or supported_versions()
    for version in versions:
        if not _VERSION.fullmatch(version):
            parser.error(f"--versions: not a 3.N version: {version!r}")
    ci = os.environ.get("CI") == "true"
    outcomes = [run_version(v, args.extras, args.pytest_args or ["-q"]) for v in versions]

    print("\n=== Python versions ===")
    failed = False
    for o in outcomes:
        if o.status == "missing":
            verdict = "FAILED (missing under CI=true)" if ci else "SKIPPED (not on this machine)"
            failed |= ci
        else:
            verdict = o.status.upper()
            failed |= o.status == "failed"
        print(f"Python {o.version}: {verdict}: {o.detail}")
    if not ci and any(o.status == "missing" for o in outcomes):
        print("Not every supported Python ran; under CI=true this run would fail.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
