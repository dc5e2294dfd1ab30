"""Plain-language lines the panel shows next to its choices, computed from the cluster's settings,
and the provenance notes of the preview ("service default", "spot mode allow", ...). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from jupyter_mlres.core import priority
from jupyter_mlres.core.cellargs import CellArgs
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.core.volumes import CODE_VOLUME_NAME, parse_volume_spec
from jupyter_mlres.widgets.preview import Path

__all__ = ["Provenance", "priority_choices", "spot_explanation"]

REPLICA_ENV = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _labels(selector: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in selector.items())


def _taints(tolerations: Any) -> str:
    keys = [str(t.get("key", "*")) for t in tolerations]
    return ", ".join(keys)


def spot_explanation(mode: str, settings: Settings) -> str:
    """What ``mode`` does on this cluster, in one line."""
    labels = dict(settings.preemptible_node_selector)
    tolerations = list(settings.preemptible_tolerations)
    if mode == "none":
        return "Adds and removes nothing: only your own node selector and tolerations decide placement."
    if not labels and not tolerations:
        return "This cluster has no spot nodes configured (settings): every spot mode changes nothing here."
    spot = f"spot nodes ({_labels(labels)})" if labels else "spot nodes"
    tol = (
        f" tolerations for their taints ({_taints(tolerations)})"
        if tolerations
        else " no tolerations (none configured)"
    )
    if mode == "allow":
        return f"May run on {spot} or on-demand nodes: adds{tol}."
    if mode == "constrain":
        where = (
            f"requires a node with {' or '.join(_labels({k: v}) for k, v in labels.items())}"
            if labels
            else "cannot require spot nodes (no spot labels configured)"
        )
        return f"Runs only on {spot}: adds{tol} and {where}. Preempted pods are retried."
    if mode == "prevent":
        if labels:
            return f"Never runs on {spot}: requires nodes without those labels and drops spot tolerations."
        return "Drops spot tolerations you added; no spot labels configured, so nothing else changes."
    return ""


def priority_choices(settings: Settings) -> list[tuple[str, str | None]]:
    """Dropdown choices: the default (with what it resolves to), the levels, the allowed classes."""
    try:
        default_class = priority.default_priority_class_name(settings)
    except SpecError:
        default_class = None
    shown = default_class or "no priorityClassName (cluster default)"
    choices: list[tuple[str, str | None]] = [
        (f"service default: {settings.default_priority} → {shown}", None)
    ]
    classes = dict(settings.priority_classes)
    for level in priority.PRIORITY_LEVELS:
        target = classes.get(level)
        if target or not classes:
            choices.append((f"{level} → {target}" if target else level, level))
    for name in settings.allowed_priority_classes:
        if name not in classes.values():
            choices.append((f"class {name}", name))
    return choices


@dataclass(frozen=True)
class Provenance:
    """Says where each line of the rendered pod spec came from."""

    args: CellArgs
    settings: Settings
    own_requests: frozenset[str]
    own_limits: frozenset[str]
    function_volumes: frozenset[str] = frozenset()
    """Volumes set on the function that the panel cannot show as a row (e.g. an inline V3IO key)."""
    prefix: Path = ()
    """Path of the pod spec inside the documents (empty for the pod spec view)."""

    @property
    def mode(self) -> str:
        return self.args.spot or self.settings.default_preemption_mode

    def _default(self, given: object) -> str:
        return "" if given not in (None, ()) else " (service default)"

    @cached_property
    def _user_volume_names(self) -> set[str]:
        names = set()
        for text in self.args.volumes:
            try:
                names.add(parse_volume_spec(text, "volume").name)
            except SpecError:
                continue
        return names

    def __call__(self, path: Path, value: Any) -> str | None:
        if self.prefix and path[: len(self.prefix)] == self.prefix:
            return self.pod(path[len(self.prefix) :], value)
        if not self.prefix:
            return self.pod(path, value)
        return self.job(path, value)

    def job(self, path: Path, value: Any) -> str | None:
        tail = path[-1] if path else None
        if tail in ("completions", "parallelism", "completionMode"):
            return "replicas"
        if tail == "podFailurePolicy":
            return "spot: preemptions are retried without using retries"
        if tail == "backoffLimit":
            return "retries (service default)" if self.args.kind is None else "retries"
        return None

    def pod(self, path: Path, value: Any) -> str | None:
        match path:
            case ("containers", 0, "resources", which, key):
                own = self.own_requests if which == "requests" else self.own_limits
                if key in ("cpu", "memory"):
                    return "user" if key in own else "service default"
                return f"user: {self.args.gpus} GPU" + ("" if self.args.gpus == 1 else "s")
            case ("containers", 0, "image"):
                return "user" if self.args.image else "service default"
            case ("containers", 0, "env", int()):
                name = value.get("name") if isinstance(value, dict) else None
                if name in REPLICA_ENV:
                    return "replicas"
                return "user" if name in self.args.env_dict else None
            case ("containers", 0, "volumeMounts", int()) | ("volumes", int()):
                name = value.get("name") if isinstance(value, dict) else None
                if name == CODE_VOLUME_NAME:
                    return "the job's code"
                if name in self.function_volumes:
                    return "set on the function"
                return "user" if name in self._user_volume_names else "service default (auto-mount)"
            case ("nodeSelector", key):
                model = self.settings.gpu_models.get(self.args.gpu_type or "")
                if model is not None and key in model.node_selector:
                    return f"GPU model {self.args.gpu_type}"
                if key in self.args.node_selector_dict:
                    return "user"
                return "service default"
            case ("tolerations", int()):
                if value in list(self.settings.preemptible_tolerations) and self.mode in (
                    "allow",
                    "constrain",
                ):
                    return f"spot mode {self.mode}{self._default(self.args.spot)}"
                return "user"
            case ("affinity",):
                return f"spot mode {self.mode}{self._default(self.args.spot)}"
            case ("priorityClassName",):
                level = self.args.priority or self.settings.default_priority
                return f"priority {level}{self._default(self.args.priority)}"
            case ("subdomain",):
                return "replicas"
        return None
