"""What the sidebar's resources form shows: fields, choices and defaults, from Settings.

Only choices and display hints live here; parsing, validation and writing the ``%%mlrun`` line
are core's (see :mod:`jupyter_mlres.server.preview`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

from jupyter_mlres.core.cellargs import PREEMPTION_MODES
from jupyter_mlres.core.priority import PRIORITY_LEVELS
from jupyter_mlres.core.settings import Settings

__all__ = ["FieldJson", "form_json"]


class FieldJson(TypedDict):
    name: str
    label: str
    kind: str  # "quantity" | "int" | "choice" | "text"
    choices: list[str]
    """For "choice" the options; for "text" suggestions (other values are allowed)."""
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


def form_json(settings: Settings, listed: Sequence[str], runnable: Sequence[str]) -> dict[str, Any]:
    """The settings endpoint's body. Holds no secret: only names, choices and default sizes.

    ``listed`` are the backends whose runs the sidebar shows, ``runnable`` those a cell may name.
    """
    priorities = list(dict.fromkeys([*PRIORITY_LEVELS, *settings.allowed_priority_classes]))
    gpu_types = sorted({*settings.gpu_models, "nvidia.com/gpu", "amd.com/gpu"})
    fields = [
        _field("cpu", "CPU", "quantity", "request[:limit] in cores, e.g. 2 or 500m:1", "e.g. 2"),
        _field("memory", "Memory", "quantity", "request[:limit], e.g. 8Gi or 1Gi:2Gi", "e.g. 8Gi"),
        _field("gpus", "GPUs", "int", "number of GPUs", "0"),
        _field(
            "gpu_type", "GPU type", "text", "a GPU model preset or resource name", "nvidia.com/gpu", gpu_types
        ),
        _field("replicas", "Replicas", "int", "N cooperating replicas, or MIN:MAX (dask)", "1"),
        _field("spot", "Spot nodes", "choice", "preemption mode", choices=PREEMPTION_MODES),
        _field("priority", "Priority", "choice", "priority level or class", choices=priorities),
        _field("image", "Image", "text", "container image (Kubernetes)", settings.default_image),
        _field("backend", "Backend", "choice", "where the job runs", choices=runnable),
    ]
    return {
        "fields": fields,
        "backends": list(listed),
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
