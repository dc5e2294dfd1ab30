"""The panel's state is a :class:`~jupyter_mlres.core.cellargs.CellArgs`: this module moves
between it and a :class:`~jupyter_mlres.core.function.Function`.

``split_function`` separates a function into what the panel edits (as ``CellArgs``) and a base
function without those fields, so that applying the panel's ``CellArgs`` to a copy of the base
gives the function back — and a field the user clears really goes back to the service default
instead of silently keeping the function's old value. Pure: no widgets here.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from jupyter_mlres.core.cellargs import KINDS as GRAMMAR_KINDS
from jupyter_mlres.core.cellargs import CellArgs
from jupyter_mlres.core.errors import SpecError
from jupyter_mlres.core.function import Function
from jupyter_mlres.core.resources import DEFAULT_GPU_TYPE
from jupyter_mlres.core.volumes import parse_volume_spec

__all__ = ["PANEL_FIELDS", "overlay", "split_function"]

PANEL_FIELDS = (
    "image",
    "cpu",
    "memory",
    "gpus",
    "gpu_type",
    "replicas",
    "volumes",
    "spot",
    "priority",
    "node_selector",
    "backend",
)
"""The ``CellArgs`` fields the panel edits; the others (name, handler, kind, params, returns, env,
flags) pass through unchanged from where the panel was opened."""


def _pair(requests: dict[str, str], limits: dict[str, str], key: str) -> tuple[str | None, str | None] | None:
    request, limit = requests.get(key), limits.get(key)
    return None if request is None and limit is None else (request, limit)


def _round_trips(text: str, mount: Any) -> bool:
    try:
        again = parse_volume_spec(text, "volume")
    except SpecError:
        return False
    return bool(again.volume == mount.volume and again.mounts == mount.mounts and not mount.secret)


def split_function(fn: Function) -> tuple[CellArgs, Function]:
    """``(args, base)`` with ``apply_cell_args(base.copy(), args)`` equivalent to ``fn``.

    What the grammar cannot express (an inline V3IO key, env from a Secret, affinity,
    tolerations, an ``mpijob`` kind) stays in ``base`` and is rendered as it was.
    """
    spec = fn.spec
    own = spec._resources
    requests = {k: str(v) for k, v in own.requests.items() if v is not None}
    limits = {k: str(v) for k, v in own.limits.items() if v is not None}
    gpu_type: str | None = own.gpu_model or (own.gpu_type if own.gpu_type != DEFAULT_GPU_TYPE else None)
    replicas: int | tuple[int, int] | None = spec.replicas
    if spec.min_replicas is not None and spec.max_replicas is not None:
        replicas = (spec.min_replicas, spec.max_replicas)
    volumes: list[str] = []
    expressed: list[str] = []
    for mount in spec.mounts:
        text = mount.to_text()
        if _round_trips(text, mount):
            volumes.append(text)
            expressed.append(mount.name)
    plain_env = tuple((e["name"], e["value"]) for e in spec.env if "value" in e and len(e) == 2)
    args = CellArgs(
        name=fn.name,
        handler=spec.handler,
        image=spec.image,
        kind=fn.kind if fn.kind != "job" and fn.kind in GRAMMAR_KINDS else None,
        cpu=_pair(requests, limits, "cpu"),
        memory=_pair(requests, limits, "memory"),
        gpus=own.gpus or None,
        gpu_type=gpu_type if own.gpus else None,
        replicas=replicas,
        volumes=tuple(volumes),
        spot=spec.preemption_mode,
        priority=spec.priority_class_name,
        node_selector=tuple(spec.node_selector.items()),
        returns=tuple(spec.returns),
        env=plain_env,
    )

    base = fn.copy()
    base.with_requests(patch=False).with_limits(patch=False)
    base.spec.replicas = None
    base.spec.min_replicas = None
    base.spec.max_replicas = None
    base.spec.image = None
    base.spec.handler = None
    base.spec.returns = ()
    base.spec.preemption_mode = None
    base.spec.priority_class_name = None
    base.spec.node_selector = {}
    base.spec.env = [e for e in spec.env if not ("value" in e and len(e) == 2)]
    # The panel re-applies the mounts the grammar can express; the others stay on the base.
    for name in expressed:
        base.unmount(name)
    return args, base


def overlay(args: CellArgs, on_top: CellArgs) -> CellArgs:
    """``args`` with every field that ``on_top`` gives (not None / not empty) replaced."""
    changes = {
        f.name: getattr(on_top, f.name)
        for f in fields(CellArgs)
        if getattr(on_top, f.name) not in (None, (), False)
    }
    return replace(args, **changes)
