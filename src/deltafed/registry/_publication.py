"""The registry's publication point: the current version and every version beside it.

The anchor publishes the current signed registry under one name (``registry.jws``, a file or
an HTTPS URL) and, beside it, **every** version it ever published under a versioned name
(``registry.<version>.jws``, :func:`versioned_name`). A node that trusts version ``t`` and
finds version ``n > t + 1`` published fetches ``t + 1 .. n - 1`` from their versioned names and
verifies them in order before ``n``, so that an anchor rotation in a version it missed is
followed, as TUF walks root versions. Only the last version must be unexpired; the walk is
done on a staged copy and switched to in one step (:meth:`TrustedRegistry.adopt`).

:func:`write_publication` writes a signed file there (versioned name first, then the current
name, each replaced atomically); :class:`RegistryFile` reads a publication point on a file
system (shared storage, a synced directory) as :class:`~deltafed.registry.RegistryClient`
reads one over HTTP.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Final

import httpx

from deltafed._errors import ConfigurationError, RegistryInvalidError, TransportError
from deltafed.registry._files import read_limited
from deltafed.registry._signing import MAX_REGISTRY_BYTES, parse_signed_registry
from deltafed.registry._trusted import TrustedRegistry

__all__ = [
    "MAX_WALK",
    "RegistryFile",
    "peek_version",
    "versioned_name",
    "versioned_url",
    "versions_to_walk",
    "write_publication",
]

#: Most intermediate versions one refresh walks; beyond, the node must be re-pinned.
MAX_WALK: Final = 1024


def versioned_name(name: str, version: int) -> str:
    """``registry.jws`` -> ``registry.7.jws``; a name without ``.jws`` gets ``.7`` appended."""
    if version < 1:
        raise ConfigurationError(f"registry versions start at 1, not {version}")
    if name.endswith(".jws") and len(name) > 4:
        return f"{name[:-4]}.{version}.jws"
    return f"{name}.{version}"


def versioned_url(url: str, version: int) -> str:
    """The URL of ``version`` beside the current registry at ``url`` (same directory)."""
    parsed = httpx.URL(url)
    head, _, last = parsed.path.rpartition("/")
    if not last:
        raise ConfigurationError(f"registry URL {url[:80]!r} names no file")
    return str(parsed.copy_with(path=f"{head}/{versioned_name(last, version)}"))


def peek_version(data: bytes, *, max_bytes: int = MAX_REGISTRY_BYTES) -> int:
    """The version a signed registry file *claims*, signatures not checked.

    Only for planning a walk: every version fetched is verified before anything is trusted.
    """
    return parse_signed_registry(data, max_bytes=max_bytes).document().version


def versions_to_walk(trusted: int | None, published: int) -> range:
    """The intermediate versions to verify before ``published``, when ``trusted`` is held."""
    if trusted is None or published <= trusted + 1:
        return range(0)
    missing = range(trusted + 1, published)
    if len(missing) > MAX_WALK:
        raise RegistryInvalidError(
            f"registry version {published} is {len(missing)} versions ahead of the trusted "
            f"version {trusted}; at most {MAX_WALK} are walked",
            remediation="Re-pin the node: install the current anchor and registry out of band.",
        )
    return missing


def _replace(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (a reader sees the old file or the new one)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_publication(path: str | os.PathLike[str], data: bytes) -> Path:
    """Publish a signed registry file at ``path`` and under its versioned name beside it
    (creating the directory if need be).

    The versioned copy is written first, so a reader that sees the new current version can
    always fetch it; both are replaced atomically. Returns the versioned path. The file is
    not verified here (``deltafed registry verify`` does that); only its version is read.
    """
    target = Path(path)
    version = peek_version(data)
    versioned = target.with_name(versioned_name(target.name, version))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _replace(versioned, data)
        _replace(target, data)
    except OSError as exc:
        raise ConfigurationError(f"cannot publish the registry at {target}: {exc}") from exc
    return versioned


class RegistryFile:
    """Refreshes a :class:`TrustedRegistry` from a publication point on a file system.

    :meth:`refresh` rereads ``path`` only when its size, modification time or inode changed,
    then walks the intermediate versions from the versioned files beside it.
    """

    def __init__(
        self,
        trusted: TrustedRegistry,
        path: str | os.PathLike[str],
        *,
        max_bytes: int = MAX_REGISTRY_BYTES,
    ) -> None:
        self._trusted = trusted
        self._path = Path(path)
        self._max_bytes = max_bytes
        self._seen: tuple[int, int, int] | None = None

    @property
    def trusted(self) -> TrustedRegistry:
        return self._trusted

    @property
    def location(self) -> str:
        return str(self._path)

    def refresh(self) -> bool:
        """Read, walk and verify; return whether the trusted version changed.

        Raises a :class:`~deltafed.CommunicationError` if a file cannot be read and a
        :class:`~deltafed.TrustError` if what was read is not trustworthy; in both cases the
        trusted state is unchanged.
        """
        try:
            stat = self._path.stat()
        except OSError as exc:
            raise TransportError(f"cannot read the registry at {self._path}: {exc}") from exc
        seen = (stat.st_size, stat.st_mtime_ns, stat.st_ino)
        if seen == self._seen and self._trusted.version is not None:
            return False
        current = self._read(self._path)
        before = self._trusted.version
        staged = self._trusted.staged()
        for version in versions_to_walk(before, peek_version(current, max_bytes=self._max_bytes)):
            step = self._read(self._path.with_name(versioned_name(self._path.name, version)))
            staged.update(step, intermediate=True)
        staged.update(current)
        self._trusted.adopt(staged)
        self._seen = seen
        return self._trusted.version != before

    def _read(self, path: Path) -> bytes:
        if not path.is_file():
            raise TransportError(
                f"registry file {path} is not published",
                remediation="The anchor must publish every version beside the current one "
                "(deltafed registry sign does).",
            )
        try:
            return read_limited(path, self._max_bytes)
        except ConfigurationError as exc:
            raise TransportError(exc.message) from exc
