"""Finding adapters: the ``deltafed.adapters`` entry-point group plus an explicit registry.

An installed package adds a province by declaring, in its ``pyproject.toml``::

    [project.entry-points."deltafed.adapters"]
    anhui = "deltafed_anhui:AnhuiAdapter"

A third-party entry point that fails to import, names something that is not a
:class:`ProvinceAdapter` subclass, or clashes with another one is *reported* - logged once
and listed by :func:`broken_adapters` - and never stops the other adapters from loading.
deltafed's own entry points are read first, so a plugin cannot take over a built-in name.
Adapters registered with :func:`register_adapter` take precedence over entry points.
"""

from __future__ import annotations

import importlib.metadata
import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from deltafed._errors import ConfigurationError
from deltafed.adapters._base import ProvinceAdapter

__all__ = [
    "ENTRY_POINT_GROUP",
    "BrokenAdapter",
    "available_adapters",
    "broken_adapters",
    "create_adapter",
    "load_adapter",
    "register_adapter",
    "unregister_adapter",
]

#: The entry-point group adapters are declared in.
ENTRY_POINT_GROUP: Final = "deltafed.adapters"

_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_log = logging.getLogger("deltafed.adapters")
_lock = threading.Lock()
_explicit: dict[str, type[ProvinceAdapter]] = {}
_reported: set[tuple[str, str, str]] = set()


@dataclass(frozen=True)
class BrokenAdapter:
    """An adapter entry point that could not be used, and why."""

    name: str
    target: str
    distribution: str | None
    reason: str


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ConfigurationError(
            f"adapter name {name!r} must be a lower-case slug of at most 40 characters"
        )
    return name


def register_adapter(name: str, cls: type[ProvinceAdapter], *, replace: bool = False) -> None:
    """Register ``cls`` under ``name``, ahead of any entry point of that name."""
    _check_name(name)
    if not (isinstance(cls, type) and issubclass(cls, ProvinceAdapter)):
        raise ConfigurationError(f"{cls!r} is not a ProvinceAdapter subclass")
    with _lock:
        if name in _explicit and _explicit[name] is not cls and not replace:
            raise ConfigurationError(f"an adapter named {name!r} is registered already")
        _explicit[name] = cls


def unregister_adapter(name: str) -> None:
    """Remove an explicitly registered adapter (entry points are unaffected)."""
    with _lock:
        _explicit.pop(name, None)


def _scan() -> tuple[dict[str, type[ProvinceAdapter]], list[BrokenAdapter]]:
    found: dict[str, type[ProvinceAdapter]] = {}
    targets: dict[str, str] = {}
    broken: list[BrokenAdapter] = []
    # deltafed's own entry points first: a plugin cannot shadow a built-in adapter's name.
    points = sorted(
        importlib.metadata.entry_points(group=ENTRY_POINT_GROUP),
        key=lambda ep: 0 if ep.dist is not None and ep.dist.name == "deltafed" else 1,
    )
    for ep in points:
        dist = ep.dist.name if ep.dist is not None else None
        if not _NAME.fullmatch(ep.name):
            broken.append(BrokenAdapter(ep.name, ep.value, dist, "invalid adapter name"))
            continue
        if ep.name in targets:
            if targets[ep.name] != ep.value:
                broken.append(
                    BrokenAdapter(
                        ep.name,
                        ep.value,
                        dist,
                        f"name already taken by {targets[ep.name]}; this one is ignored",
                    )
                )
            continue
        try:
            loaded = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the rest
            broken.append(
                BrokenAdapter(
                    ep.name, ep.value, dist, f"import failed: {type(exc).__name__}: {exc}"
                )
            )
            continue
        if not (isinstance(loaded, type) and issubclass(loaded, ProvinceAdapter)):
            broken.append(BrokenAdapter(ep.name, ep.value, dist, "not a ProvinceAdapter subclass"))
            continue
        targets[ep.name] = ep.value
        found[ep.name] = loaded
    for item in broken:
        key = (item.name, item.target, item.reason)
        if key not in _reported:
            _reported.add(key)
            _log.warning(
                "adapter entry point %s = %s is broken: %s", item.name, item.target, item.reason
            )
    return found, broken


def available_adapters() -> dict[str, type[ProvinceAdapter]]:
    """Every usable adapter, by name: entry points, overridden by explicit registrations."""
    found, _ = _scan()
    with _lock:
        found.update(_explicit)
    return dict(sorted(found.items()))


def broken_adapters() -> list[BrokenAdapter]:
    """The adapter entry points that could not be used, with the reason for each."""
    _, broken = _scan()
    return broken


def load_adapter(name: str) -> type[ProvinceAdapter]:
    """The adapter class called ``name``; :class:`~deltafed.ConfigurationError` if none."""
    _check_name(name)
    with _lock:
        if name in _explicit:
            return _explicit[name]
    found, broken = _scan()
    if name in found:
        return found[name]
    why = [b.reason for b in broken if b.name == name]
    if why:
        raise ConfigurationError(f"adapter {name!r} is installed but broken: {why[0]}")
    raise ConfigurationError(
        f"no adapter named {name!r}; available: {', '.join(sorted(found)) or 'none'}"
    )


def create_adapter(name: str, config: Mapping[str, Any]) -> ProvinceAdapter:
    """Build adapter ``name`` from ``config`` with its class's ``from_config``."""
    if not isinstance(config, Mapping):
        raise ConfigurationError("adapter configuration must be a mapping")
    cls = load_adapter(name)
    adapter = cls.from_config(config)
    if not isinstance(adapter, ProvinceAdapter):
        raise ConfigurationError(f"{cls.__name__}.from_config did not return an adapter")
    return adapter
