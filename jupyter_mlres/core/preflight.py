"""Could any node ever run this pod? Pure: works on the wire dicts of a pod spec and of nodes.

Checks what a scheduler checks statically: node selector, required node affinity, taints
(``NoSchedule``/``NoExecute``) against tolerations, ``spec.unschedulable``, and allocatable
CPU/memory/extended resources against the pod's requests. It ignores what is in use right now
(that only delays a pod; this check is about pods that would stay Pending forever).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["FitReport", "check_priority_class", "node_fit", "parse_quantity", "pod_requests"]

Obj = Mapping[str, Any]

_SUFFIX = {
    "": Decimal(1),
    "m": Decimal("0.001"),
    "k": Decimal(10) ** 3,
    "M": Decimal(10) ** 6,
    "G": Decimal(10) ** 9,
    "T": Decimal(10) ** 12,
    "P": Decimal(10) ** 15,
    "E": Decimal(10) ** 18,
    "Ki": Decimal(2) ** 10,
    "Mi": Decimal(2) ** 20,
    "Gi": Decimal(2) ** 30,
    "Ti": Decimal(2) ** 40,
    "Pi": Decimal(2) ** 50,
    "Ei": Decimal(2) ** 60,
}
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def parse_quantity(value: object) -> Decimal:
    """A Kubernetes quantity (``500m``, ``8Gi``, ``1e3``, 2) as a Decimal; ValueError if malformed."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    try:
        return Decimal(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except InvalidOperation:
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from None


def pod_requests(pod_spec: Obj) -> dict[str, Decimal]:
    """Total requests of the pod's containers (a limit without a request counts as the request),
    taking the maximum with any init container, as the scheduler does."""
    total: dict[str, Decimal] = {}
    for c in pod_spec.get("containers") or ():
        for key, qty in _container_requests(c).items():
            total[key] = total.get(key, Decimal(0)) + qty
    for c in pod_spec.get("initContainers") or ():
        for key, qty in _container_requests(c).items():
            total[key] = max(total.get(key, Decimal(0)), qty)
    return total


def _container_requests(container: Obj) -> dict[str, Decimal]:
    resources = container.get("resources") or {}
    merged = {**(resources.get("limits") or {}), **(resources.get("requests") or {})}
    return {k: parse_quantity(v) for k, v in merged.items()}


def _labels(node: Obj) -> Mapping[str, str]:
    return (node.get("metadata") or {}).get("labels") or {}


def _match_expression(labels: Mapping[str, str], expr: Obj) -> bool:
    key, op, values = expr.get("key", ""), expr.get("operator", ""), list(expr.get("values") or ())
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt") and key in labels and values:
        try:
            a, b = int(labels[key]), int(values[0])
        except ValueError:
            return False
        return a > b if op == "Gt" else a < b
    return False


def _affinity_ok(labels: Mapping[str, str], pod_spec: Obj) -> bool:
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms") or []
    if not terms:
        return True
    # terms are ORed, the expressions of one term ANDed
    return any(all(_match_expression(labels, e) for e in t.get("matchExpressions") or ()) for t in terms)


def _tolerated(taint: Obj, tolerations: Sequence[Obj]) -> bool:
    for tol in tolerations:
        if tol.get("effect") and tol.get("effect") != taint.get("effect"):
            continue
        if tol.get("operator") == "Exists":
            if not tol.get("key") or tol.get("key") == taint.get("key"):
                return True
        elif tol.get("key") == taint.get("key") and (tol.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


@dataclass(frozen=True)
class FitReport:
    """``fits`` is True when at least one node could run the pod; ``message`` says why not."""

    fits: bool
    nodes: int
    candidates: int
    """Nodes that pass selector, affinity, taints and cordon (before resources)."""
    message: str = ""
    reasons: Mapping[str, int] = field(default_factory=dict)
    """Why nodes were ruled out, with counts (as the scheduler reports it)."""


def _fmt(value: Decimal) -> str:
    return format(value.normalize(), "f") if value == value.to_integral() else str(value)


def node_fit(pod_spec: Obj, nodes: Iterable[Obj]) -> FitReport:
    """Whether some node could ever run ``pod_spec`` (a Job's ``spec.template.spec``)."""
    nodes = list(nodes)
    wanted = pod_requests(pod_spec)
    selector: Mapping[str, str] = pod_spec.get("nodeSelector") or {}
    tolerations: Sequence[Obj] = pod_spec.get("tolerations") or ()
    reasons: dict[str, int] = {}
    candidates = 0
    best: dict[str, Decimal] = {}

    def rule_out(reason: str) -> None:
        reasons[reason] = reasons.get(reason, 0) + 1

    for node in nodes:
        labels = _labels(node)
        if (node.get("spec") or {}).get("unschedulable"):
            rule_out("cordoned")
            continue
        if any(labels.get(k) != v for k, v in selector.items()):
            rule_out("node selector does not match")
            continue
        if not _affinity_ok(labels, pod_spec):
            rule_out("node affinity (incl. the spot/preemption mode) does not match")
            continue
        taints = [
            t
            for t in (node.get("spec") or {}).get("taints") or ()
            if t.get("effect") in ("NoSchedule", "NoExecute")
        ]
        untolerated = [t for t in taints if not _tolerated(t, tolerations)]
        if untolerated:
            rule_out(f"untolerated taint {untolerated[0].get('key')}")
            continue
        candidates += 1
        allocatable = (node.get("status") or {}).get("allocatable") or {}
        short = []
        for key, qty in wanted.items():
            have = parse_quantity(allocatable.get(key, "0"))
            best[key] = max(best.get(key, Decimal(0)), have)
            if have < qty:
                short.append(key)
        if not short:
            return FitReport(True, len(nodes), candidates)
        for key in short:
            rule_out(f"insufficient {key}")

    summary = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
    if not nodes:
        message = "the cluster reports no nodes"
    elif candidates == 0:
        message = f"no node matches the job's placement: 0/{len(nodes)} nodes ({summary})"
    else:
        asked = ", ".join(f"{k} {_fmt(v)}" for k, v in sorted(wanted.items()))
        largest = ", ".join(f"{k} {_fmt(best.get(k, Decimal(0)))}" for k in sorted(wanted))
        message = (
            f"no node could ever fit the request ({asked}): 0/{len(nodes)} nodes ({summary}); "
            f"the largest allocatable among the {candidates} eligible node(s) is {largest}"
        )
    return FitReport(False, len(nodes), candidates, message, reasons)


def check_priority_class(name: str | None, existing: Iterable[str]) -> str:
    """An error message when ``name`` is set but not among the cluster's PriorityClasses, else ''."""
    if not name:
        return ""
    names = sorted(existing)
    if name in names:
        return ""
    choices = ", ".join(names) if names else "none defined"
    return f"PriorityClass {name!r} does not exist in the cluster; existing: {choices}"
