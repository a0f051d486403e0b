"""The node's platform as an in-process check drives it: revocations and faults.

Only an :class:`~deltafed_conformance.AdapterTarget` has one. The checks use what the adapter
offers, in this order, and skip with the reason when it offers nothing:

* **revoke**: ``adapter.sandbox.revoke(certificate_id)``, else ``adapter.revoke(...)``
  (the built-in sandboxes, the in-memory adapter, the example Anhui plugin);
* **fail**: the sandbox's fault counters (``adapter.sandbox.faults.server_error``,
  ``timeout``, ``malformed_body``) when it has them; otherwise the adapter's hooks are made to
  raise what a platform failure raises (an ``httpx`` transport error, an ``httpx`` timeout, a
  ``ValueError`` for an unreadable body) for the duration of the check;
* **use causes**: ``adapter.sandbox.use_causes``, else ``adapter.use_causes`` (one entry per
  business call).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, Final

import httpx

from deltafed.adapters import ProvinceAdapter
from deltafed_conformance._profile import Subject

__all__ = ["FAULTS", "HOOKS", "Platform"]

#: The platform failures a check can provoke, and what an adapter hook raises for each.
FAULTS: Final[dict[str, Callable[[], Exception]]] = {
    "server_error": lambda: httpx.ConnectError("conformance: platform unavailable"),
    "timeout": lambda: httpx.ReadTimeout("conformance: platform timed out"),
    "malformed_body": lambda: ValueError("conformance: platform answered no JSON"),
}
#: The hooks of :class:`~deltafed.adapters.ProvinceAdapter` that reach the platform.
HOOKS: Final = ("_find_certificate", "_certificate_data", "_certificate_status", "_fetch_record")


class Platform:
    """What a check may do to the platform behind the node's ``adapter``."""

    def __init__(self, adapter: ProvinceAdapter) -> None:
        self.adapter = adapter
        #: A valid certificate no other check asks about, to revoke during the run.
        self.spare: Subject | None = None

    @property
    def sandbox(self) -> Any:
        return getattr(self.adapter, "sandbox", None)

    def _first(self, name: str) -> Any:
        for owner in (self.sandbox, self.adapter):
            found = getattr(owner, name, None) if owner is not None else None
            if found is not None:
                return found
        return None

    @property
    def can_revoke(self) -> bool:
        return callable(self._first("revoke"))

    def revoke(self, certificate_id: str) -> None:
        """Revoke a certificate on the platform from now on."""
        revoke = self._first("revoke")
        if not callable(revoke):
            raise LookupError("the adapter offers no way to revoke a certificate")
        revoke(certificate_id)

    def use_causes(self) -> list[str | None] | None:
        """The use causes that reached the platform so far, or ``None`` if not recorded."""
        causes = self._first("use_causes")
        return list(causes) if isinstance(causes, list) else None

    @contextlib.contextmanager
    def failing(self, fault: str) -> Iterator[None]:
        """Every platform call fails with ``fault`` (a key of :data:`FAULTS`) inside."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}")
        faults = getattr(self.sandbox, "faults", None)
        if faults is not None and hasattr(faults, fault):
            setattr(faults, fault, -1)
            try:
                yield
            finally:
                setattr(faults, fault, 0)
            return

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise FAULTS[fault]()

        for hook in HOOKS:
            setattr(self.adapter, hook, broken)
        try:
            yield
        finally:
            for hook in HOOKS:
                with contextlib.suppress(AttributeError):
                    delattr(self.adapter, hook)
