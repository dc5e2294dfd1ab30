"""What the sidebar's resources form shows: fields, choices and defaults, from Settings.

Only choices and display hints live here; parsing, validation and writing the ``%%mlrun`` line
are core's (see :mod:`jupyter_mlres.server.preview`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from jupyter_mlres.core.settings import Settings

__all__ = ["FieldJson", "form_json"]

PREEMPTION_MODES = ("allow", "constrain", "prevent", "none")
PRIORITY_LEVELS = ("high", "medium", "low")


class FieldJson(TypedDict):
    name: str
    label: str
    kind: str  # "quantity" | "int" | "choice" | "text"
    choices: list[str]
    placeholder: str
    help: str


def _field(
    name: str, label: str, kind: str, help: str, placeholder: str = "", choices: Sequence[str] = ()
) -> FieldJson:
    return {
        "name": name,
        "label": label,
        "kind": kind,
        "choices": list(choices),
        "placeholder": placeholder,
        "help": help,
    }


def form_json(settings: Settings, backends: Sequence[str]) -> dict[str, Any]:
    """The settings endpoint's body. Holds no secret: only names, choices and default sizes."""
    priorities = list(dict.fromkeys([*PRIORITY_LEVELS, *settings.allowed_priority_classes]))
    fields = [
        _field("cpu", "CPU", "quantity", "cores, e.g. 500m, 2", "e.g. 2"),
        _field("memory", "Memory", "quantity", "bytes, e.g. 512Mi, 8Gi", "e.g. 8Gi"),
        _field("gpus", "GPUs", "int", "number of GPUs", "0"),
        _field("gpu_type", "GPU model", "choice", "a GPU model preset", choices=sorted(settings.gpu_models)),
        _field("replicas", "Replicas", "int", "cooperating processes/pods", "1"),
        _field("spot", "Spot nodes", "choice", "preemption mode", choices=PREEMPTION_MODES),
        _field("priority", "Priority", "choice", "priority level or class", choices=priorities),
        _field("backend", "Backend", "choice", "where the job runs", choices=backends),
    ]
    return {
        "fields": fields,
        "backends": list(backends),
        "default_backend": settings.backend,
        "defaults": {
            "spot": settings.default_preemption_mode,
            "priority": settings.default_priority,
            "requests": dict(settings.default_resources.requests),
            "limits": dict(settings.default_resources.limits),
            "image": settings.default_image,
        },
        "spot_nodes_configured": bool(settings.preemptible_node_selector),
    }
