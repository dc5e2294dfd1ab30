"""Backends by name: built-ins plus the ``jupyter_mlres.backends`` entry-point group."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib.metadata import entry_points

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.settings import Settings

__all__ = ["available_backends", "check_backend_name", "create_backend", "register_backend"]

BackendFactory = Callable[[Settings], Backend]

_BUILTIN: dict[str, str] = {
    "local": "jupyter_mlres.backends.local:LocalBackend",
    "kubernetes": "jupyter_mlres.backends.kubernetes:KubernetesBackend",
}
_registered: dict[str, BackendFactory] = {}


def register_backend(name: str, factory: BackendFactory) -> None:
    """Make ``factory`` available as backend ``name`` (tests register fakes this way)."""
    _registered[name] = factory


def available_backends() -> list[str]:
    names = set(_BUILTIN) | set(_registered)
    names.update(ep.name for ep in entry_points(group="jupyter_mlres.backends"))
    return sorted(names)


def _load(target: str) -> BackendFactory:
    module_name, _, attr = target.partition(":")
    factory: BackendFactory = getattr(importlib.import_module(module_name), attr)
    return factory


def create_backend(name: str, settings: Settings) -> Backend:
    """Instantiate backend ``name``; an unknown name is a ``SpecError`` listing the choices."""
    if name in _registered:
        return _registered[name](settings)
    if name in _BUILTIN:
        return _load(_BUILTIN[name])(settings)
    for ep in entry_points(group="jupyter_mlres.backends"):
        if ep.name == name:
            factory: BackendFactory = ep.load()
            return factory(settings)
    raise _unknown(name)


def check_backend_name(name: str) -> None:
    """A ``SpecError`` listing the choices unless backend ``name`` exists (nothing is created)."""
    if name not in available_backends():
        raise _unknown(name)


def _unknown(name: str) -> SpecError:
    return SpecError("backend", name, available_backends(), reason="unknown backend")
