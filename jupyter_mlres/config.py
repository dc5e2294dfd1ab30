"""Settings at the Jupyter edge: traitlets config files, environment variables, explicit values.

Precedence, lowest to highest: ``Settings()`` defaults < ``jupyter_mlres_config.json`` <
``jupyter_mlres_config.py`` (each from every directory of Jupyter's config path, user over
system) < a traitlets ``Config`` you pass (``%config``, the server's) < ``MLRES_*`` environment
variables < keyword arguments of :func:`load_settings`.

In a config file::

    c.MlresConfig.preemptible_node_selector = {"node-lifecycle": "spot"}
    c.MlresConfig.default_resources = {"requests": {"cpu": "500m", "memory": "1Gi"}}
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

from traitlets import Any as TraitAny
from traitlets import Bool, Dict, Float, Int, List, TraitError, TraitType, Unicode
from traitlets.config import Config, Configurable
from traitlets.config.loader import ConfigFileNotFound, JSONFileConfigLoader, PyFileConfigLoader

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.settings import Settings

__all__ = ["CONFIG_FILE_BASENAME", "MlresConfig", "load_config_files", "load_settings"]

CONFIG_FILE_BASENAME = "jupyter_mlres_config"
_HINTS = typing.get_type_hints(Settings)


def _trait_for(name: str) -> TraitType[Any, Any]:
    hint = _HINTS[name]
    base = hint
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        base = next(a for a in typing.get_args(hint) if a is not type(None))
    origin = typing.get_origin(base) or base
    help_text = f"Settings.{name} (None: not set here)."
    trait: TraitType[Any, Any]
    if base is str:
        trait = Unicode(None, allow_none=True, help=help_text)
    elif base is int:
        trait = Int(None, allow_none=True, help=help_text)
    elif origin is Mapping or name in ("default_resources", "gpu_models"):
        trait = Dict(default_value=None, allow_none=True, help=help_text)
    elif origin is Sequence:
        trait = List(default_value=None, allow_none=True, help=help_text)
    elif base is bool:
        trait = Bool(None, allow_none=True, help=help_text)
    elif base is float:
        trait = Float(None, allow_none=True, help=help_text)
    else:  # a field type added later: Settings.from_dict still validates what it can
        trait = TraitAny(None, allow_none=True, help=help_text)
    return trait.tag(config=True)


# One trait per Settings field, generated so that the two can never drift apart.
MlresConfig: type[Configurable] = type(
    "MlresConfig",
    (Configurable,),
    {
        "__doc__": "jupyter_mlres service settings (``c.MlresConfig.<field>``); see Settings.",
        **{f.name: _trait_for(f.name) for f in dataclasses.fields(Settings)},
    },
)


def load_config_files(paths: Sequence[str] | None = None) -> Config:
    """Merge ``jupyter_mlres_config.{json,py}`` from ``paths`` (default: Jupyter's config path)."""
    if paths is None:
        from jupyter_core.paths import jupyter_config_path

        paths = jupyter_config_path()
    config = Config()
    for directory in reversed(list(paths)):  # the first directory has the highest priority
        for loader_class, suffix in ((JSONFileConfigLoader, ".json"), (PyFileConfigLoader, ".py")):
            loader = loader_class(CONFIG_FILE_BASENAME + suffix, path=directory)
            try:
                config.merge(loader.load_config())
            except ConfigFileNotFound:
                continue
    return config


def _configured_values(config: Config) -> dict[str, Any]:
    try:
        configurable = MlresConfig(config=config)
    except TraitError as e:
        raise SpecError(
            "MlresConfig", str(config.get("MlresConfig", "")), "see Settings", reason=str(e)
        ) from None
    values = {}
    for f in dataclasses.fields(Settings):
        value = getattr(configurable, f.name)
        if value is not None:
            values[f.name] = value
    return values


def load_settings(
    *,
    config: Config | None = None,
    env: Mapping[str, str] | None = None,
    config_paths: Sequence[str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the effective :class:`Settings` (see the module docstring for precedence).

    ``env`` defaults to ``os.environ``; ``config_paths`` to Jupyter's config path (pass ``[]`` to
    read no files). Raises :class:`~jupyter_mlres.SpecError` naming the bad setting.
    """
    merged = load_config_files(config_paths)
    if config is not None:
        merged.merge(config)
    settings = Settings.from_dict(_configured_values(merged))
    settings = Settings.from_env(os.environ if env is None else env, base=settings)
    return Settings.from_dict(overrides, base=settings) if overrides else settings
