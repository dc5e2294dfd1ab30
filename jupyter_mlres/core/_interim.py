"""Stand-ins for ``core.labels`` / ``core.scheduling`` / ``core.priority`` until they land.

Same signatures as the real modules; deleted when they are merged. Deliberately minimal.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.settings import Settings

PREEMPTION_MODES = ("allow", "constrain", "prevent", "none")
PRIORITY_LEVELS = ("high", "medium", "low")

_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?")
_LABEL_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def validate_dns1123_label(name: str, path: str) -> str:
    if not isinstance(name, str) or len(name) > 63 or not _DNS1123_LABEL.fullmatch(name):
        raise SpecError(path, name, "lowercase letters, digits and '-', at most 63 characters")
    return name


def validate_label_key(key: str, path: str) -> str:
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > 63 or not _LABEL_NAME.fullmatch(name) or len(prefix) > 253:
        raise SpecError(path, key, "a Kubernetes label key such as 'example.com/name'")
    return key


def validate_label_value(value: str, path: str) -> str:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise SpecError(path, value, "at most 63 letters, digits, '-', '_', '.'")
    return value


def to_dns1123_name(text: str, max_len: int = 63) -> str:
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:max_len].strip("-")
    return name


def normalize_tolerations(value: object, path: str) -> list[dict[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise SpecError(path, value, "a list of toleration dicts")
    return [dict(item) for item in value if isinstance(item, Mapping)]


def normalize_affinity(value: object, path: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(path, value, "an affinity dict")
    return dict(value)


def merge_node_selector(default: Mapping[str, str], user: Mapping[str, str], path: str) -> dict[str, str]:
    merged = {**default, **user}
    return {k: v for k, v in merged.items() if v != ""}


@dataclass(frozen=True)
class Scheduling:
    node_name: str | None
    node_selector: dict[str, str]
    affinity: dict[str, Any] | None
    tolerations: list[dict[str, Any]]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


def resolve_scheduling(
    *,
    mode: str,
    node_name: str | None,
    node_selector: Mapping[str, str],
    affinity: Mapping[str, Any] | None,
    tolerations: Sequence[Mapping[str, Any]],
    settings: Settings,
) -> Scheduling:
    return Scheduling(
        node_name=node_name,
        node_selector=merge_node_selector(settings.default_node_selector, node_selector, "node_selector"),
        affinity=dict(affinity) if affinity else None,
        tolerations=[dict(t) for t in tolerations],
    )


def pod_failure_policy(mode: str, settings: Settings) -> dict[str, Any] | None:
    return None


def resolve_priority_class(name: str | None, settings: Settings) -> str | None:
    if name is None:
        return default_priority_class_name(settings)
    return settings.priority_classes.get(name, name)


def list_valid_priority_class_names(settings: Settings) -> list[str]:
    return [*settings.priority_classes.values(), *settings.allowed_priority_classes]


def default_priority_class_name(settings: Settings) -> str | None:
    return settings.priority_classes.get(settings.default_priority)
