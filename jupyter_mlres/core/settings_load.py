"""Build and validate :class:`Settings` from plain data (``from_dict``) or environment variables.

Pure: the environment is passed in as a mapping. Every bad value is a :class:`SpecError` whose
path is ``settings.<field>`` (or the variable name, for the environment).

Environment variables are ``MLRES_<FIELD>`` in upper case, e.g. ``MLRES_DEFAULT_IMAGE``;
structured fields (dicts, lists, ``default_resources``, ``gpu_models``) are JSON; integers are
decimal; an empty value sets an optional field to None.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, Final

from jupyter_mlres.core import labels, priority, scheduling
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.quantity import parse_cpu, parse_memory
from jupyter_mlres.core.resources import check_gpu_type
from jupyter_mlres.core.settings import GpuModel, ResourceDefaults, Settings
from jupyter_mlres.core.volumes import parse_volume_spec

__all__ = ["ENV_PREFIX", "env_variable_names", "settings_from_dict", "settings_from_env"]

ENV_PREFIX: Final = "MLRES_"
AUTO_MOUNT_MODES: Final = ("auto", "manual", "none")
_FIELDS: Final = {f.name: f for f in dataclasses.fields(Settings)}
_HINTS: Final = typing.get_type_hints(Settings)


def env_variable_names() -> dict[str, str]:
    """``MLRES_<FIELD>`` -> field name, for documentation and the config loader."""
    return {ENV_PREFIX + name.upper(): name for name in _FIELDS}


def settings_from_env(env: Mapping[str, str], base: Settings | None = None) -> Settings:
    """Settings from ``MLRES_*`` variables in ``env`` over ``base`` (default ``Settings()``)."""
    values: dict[str, Any] = {}
    for variable, name in env_variable_names().items():
        if variable not in env:
            continue
        text = env[variable]
        values[name] = _from_text(name, text, variable)
    return settings_from_dict(values, base=base, path_prefix="")


def settings_from_dict(
    data: Mapping[str, Any], *, base: Settings | None = None, path_prefix: str = "settings."
) -> Settings:
    """Settings from a dict of field values (JSON-like) over ``base``; validates everything."""
    if not isinstance(data, Mapping):
        raise SpecError("settings", data, "a dict of Settings fields")
    unknown = sorted(set(data) - set(_FIELDS))
    if unknown:
        raise SpecError(
            f"{path_prefix}{unknown[0]}", data[unknown[0]], sorted(_FIELDS), reason="unknown setting"
        )
    converted = {name: _convert(name, value, _path(path_prefix, name)) for name, value in data.items()}
    settings = dataclasses.replace(base or Settings(), **converted)
    validate_settings(settings)
    return settings


def _path(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix else ENV_PREFIX + name.upper()


def _from_text(name: str, text: str, path: str) -> Any:
    hint = _HINTS[name]
    optional = _is_optional(hint)
    base = _strip_optional(hint)
    if text == "" and optional:
        return None
    if base is str:
        return text
    if base is int:
        try:
            return int(text)
        except ValueError:
            raise SpecError(path, text, "a whole number") from None
    if base is bool:
        if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise SpecError(path, text, "true or false (1/0, yes/no)")
        return text.lower() in ("1", "true", "yes")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise SpecError(path, text, "JSON, e.g. '{\"key\": \"value\"}' or '[...]'", reason=e.msg) from None


def _is_optional(hint: Any) -> bool:
    return type(None) in typing.get_args(hint)


def _strip_optional(hint: Any) -> Any:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return args[0] if len(args) == 1 else hint
    return hint


def _convert(name: str, value: Any, path: str) -> Any:
    hint = _HINTS[name]
    if value is None:
        if _is_optional(hint):
            return None
        raise SpecError(path, value, "a value (this setting is not optional)")
    base = _strip_optional(hint)
    if name == "default_resources":
        return _resource_defaults(value, path)
    if name == "gpu_models":
        return _gpu_models(value, path)
    origin = typing.get_origin(base)
    if base is str:
        if not isinstance(value, str):
            raise SpecError(path, value, "a string")
        return value
    if base is bool:
        if not isinstance(value, bool):
            raise SpecError(path, value, "true or false")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(path, value, "a whole number")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SpecError(path, value, "a number")
        return float(value)
    if origin is Mapping:
        if not isinstance(value, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            raise SpecError(path, value, "a dict of strings to strings")
        return dict(value)
    if origin is Sequence:
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise SpecError(path, value, "a list")
        return tuple(value)
    return value  # a field type added later: passed through as given


def _resource_defaults(value: Any, path: str) -> ResourceDefaults:
    if isinstance(value, ResourceDefaults):
        value = {"requests": value.requests, "limits": value.limits}
    if not isinstance(value, Mapping) or set(value) - {"requests", "limits"}:
        raise SpecError(path, value, "{'requests': {'cpu': ..., 'memory': ...}, 'limits': {...}}")
    parts: dict[str, dict[str, str]] = {}
    for which in ("requests", "limits"):
        amounts = value.get(which) or {}
        if not isinstance(amounts, Mapping):
            raise SpecError(f"{path}.{which}", amounts, "{'cpu': ..., 'memory': ...}")
        parts[which] = {}
        for key, amount in amounts.items():
            if key not in ("cpu", "memory"):
                reason = (
                    "GPUs are never defaulted" if "/" in str(key) or "gpu" in str(key) else "unknown resource"
                )
                raise SpecError(f"{path}.{which}.{key}", amount, "cpu, memory", reason=reason)
            parse = parse_cpu if key == "cpu" else parse_memory
            parts[which][key] = str(parse(amount, f"{path}.{which}.{key}"))
    return ResourceDefaults(requests=parts["requests"], limits=parts["limits"])


def _gpu_models(value: Any, path: str) -> dict[str, GpuModel]:
    if not isinstance(value, Mapping):
        raise SpecError(path, value, "{'a100': {'node_selector': {...}, 'gpu_type': 'nvidia.com/gpu'}}")
    models: dict[str, GpuModel] = {}
    for name, model in value.items():
        if isinstance(model, GpuModel):
            models[name] = model
            continue
        if not isinstance(model, Mapping) or "node_selector" not in model:
            raise SpecError(
                f"{path}.{name}", model, "{'node_selector': {...}, 'gpu_type': ..., 'description': ...}"
            )
        extra = set(model) - {"node_selector", "gpu_type", "description"}
        if extra:
            raise SpecError(
                f"{path}.{name}.{sorted(extra)[0]}", model, "node_selector, gpu_type, description"
            )
        models[name] = GpuModel(
            node_selector=dict(model["node_selector"]),
            gpu_type=model.get("gpu_type", "nvidia.com/gpu"),
            description=model.get("description", ""),
        )
    return models


def validate_settings(settings: Settings) -> None:
    """Check cross-cutting rules on a built :class:`Settings` (paths are ``settings.<field>``)."""
    p = "settings."
    if settings.default_preemption_mode not in scheduling.PREEMPTION_MODES:
        raise SpecError(
            p + "default_preemption_mode", settings.default_preemption_mode, scheduling.PREEMPTION_MODES
        )
    if settings.auto_mount not in AUTO_MOUNT_MODES:
        raise SpecError(p + "auto_mount", settings.auto_mount, AUTO_MOUNT_MODES)
    if settings.default_volume is not None:
        parse_volume_spec(settings.default_volume, p + "default_volume")
    _resource_defaults(settings.default_resources, p + "default_resources")
    for field_name in ("preemptible_node_selector", "default_node_selector"):
        for key, value in getattr(settings, field_name).items():
            labels.validate_label_key(key, f"{p}{field_name}.{key}")
            labels.validate_label_value(value, f"{p}{field_name}.{key}")
    scheduling.normalize_tolerations(list(settings.preemptible_tolerations), p + "preemptible_tolerations")
    for name, model in settings.gpu_models.items():
        check_gpu_type(model.gpu_type)
        for key, value in model.node_selector.items():
            labels.validate_label_key(key, f"{p}gpu_models.{name}.node_selector.{key}")
            labels.validate_label_value(value, f"{p}gpu_models.{name}.node_selector.{key}")
    for field_name in (
        "job_ttl_seconds",
        "active_deadline_seconds",
        "backoff_limit",
        "log_tail_lines",
        "capture_size_limit",
        "dask_adapt_wait_count",
    ):
        value = getattr(settings, field_name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise SpecError(p + field_name, value, "a whole number >= 0")
    for field_name in ("dask_adapt_interval_ms", "dask_target_duration_ms"):
        value = getattr(settings, field_name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise SpecError(p + field_name, value, "a whole number of milliseconds >= 1")
    if not settings.dask_image.strip():
        raise SpecError(p + "dask_image", settings.dask_image, "an image with dask.distributed")
    if settings.backend not in ("local", "kubernetes") and not settings.backend:
        raise SpecError(p + "backend", settings.backend, "'local' or 'kubernetes'")
    priority.list_valid_priority_class_names(settings)
    priority.default_priority_class_name(settings)
