"""Where a job's pods may run: preemption (spot) modes combined with the user's own scheduling.

The settings describe the cluster's spot nodes by labels (``preemptible_node_selector``: a node
carrying *any* of them is a spot node) and by the tolerations their taints need
(``preemptible_tolerations``). :func:`resolve_scheduling` applies a preemption mode on top of
what the user asked for:

``none``       nothing added or removed.
``allow``      the spot tolerations are added (no duplicates); the pod may land anywhere.
``constrain``  the spot tolerations are added and node affinity requires a spot node:
               ``OR`` over the spot labels, i.e. one ``In`` term per label.
``prevent``    spot tolerations the user added are dropped (with a warning) and node affinity
               requires a node without any spot label: ``AND`` of ``NotIn``, added to every term.

Required node-affinity terms are ORed and the expressions inside a term ANDed. The user's terms
are therefore never replaced: the mode's constraint is combined into each of them (a cross
product for ``constrain``), a combination that can match no node is left out (with a warning
naming the user's term), and when none is left the request is a contradiction and raises
:class:`SpecError` instead of producing a pod that can never be scheduled. The same holds in
every mode for required terms that all contradict the node selector. The user's node selector, preferred terms and pod (anti-)affinity
pass through untouched. With no spot nodes configured every mode changes nothing and a note
says so.

Error paths are ``preemption_mode``, ``node_selector.KEY``, ``node_name``, ``tolerations[i]``
and ``affinity.…`` (wire spelling), relative to the function's spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import SpecError
from .labels import validate_dns1123_subdomain, validate_label_key, validate_label_value
from .podfields import normalize_affinity, normalize_tolerations
from .settings import Settings

__all__ = [
    "PREEMPTION_MODES",
    "Scheduling",
    "merge_node_selector",
    "normalize_affinity",
    "normalize_tolerations",
    "pod_failure_policy",
    "resolve_scheduling",
    "validate_preemption_mode",
]

PREEMPTION_MODES = ("allow", "constrain", "prevent", "none")

_J = TypeVar("_J")

_REQUIRED = "requiredDuringSchedulingIgnoredDuringExecution"
_TERMS_PATH = f"affinity.nodeAffinity.{_REQUIRED}.nodeSelectorTerms"


@dataclass(frozen=True)
class Scheduling:
    """The effective scheduling fields of a pod, in wire spelling, plus what the user should know.

    ``affinity`` is ``None`` when there is nothing to say; ``warnings`` name things we changed
    from what the user asked (e.g. spot tolerations dropped under ``prevent``); ``notes`` explain
    why a mode had little or no effect.
    """

    node_name: str | None
    node_selector: dict[str, str]
    affinity: dict[str, Any] | None
    tolerations: list[dict[str, Any]]
    warnings: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def to_pod_spec_fields(self) -> dict[str, Any]:
        """The non-empty fields as a pod spec fragment (``nodeName``, ``nodeSelector``, ...)."""
        out: dict[str, Any] = {}
        if self.node_name:
            out["nodeName"] = self.node_name
        if self.node_selector:
            out["nodeSelector"] = dict(self.node_selector)
        if self.affinity:
            out["affinity"] = _clone(self.affinity)
        if self.tolerations:
            out["tolerations"] = _clone(self.tolerations)
        return out


def _clone(data: _J) -> _J:
    """A deep copy of JSON-like data (dicts, lists, scalars), several times faster than deepcopy."""
    if isinstance(data, dict):
        return {k: _clone(v) for k, v in data.items()}  # type: ignore[return-value]
    if isinstance(data, list):
        return [_clone(v) for v in data]  # type: ignore[return-value]
    return data


def validate_preemption_mode(mode: object, path: str = "preemption_mode") -> str:
    """Return ``mode`` if it is one of :data:`PREEMPTION_MODES`, else raise ``SpecError``."""
    if not isinstance(mode, str) or mode not in PREEMPTION_MODES:
        raise SpecError(path, mode, PREEMPTION_MODES)
    return mode


def _validate_selector(selector: Mapping[str, str], path: str) -> dict[str, str]:
    if not isinstance(selector, Mapping):
        raise SpecError(path, selector, "a mapping of label keys to label values")
    out: dict[str, str] = {}
    for key, value in selector.items():
        item_path = f"{path}.{key}"
        validate_label_key(key, item_path)
        if not isinstance(value, str) or not value:
            raise SpecError(item_path, value, "a non-empty label value string")
        out[key] = validate_label_value(value, item_path)
    return out


def merge_node_selector(
    default: Mapping[str, str], user: Mapping[str, str] | None, path: str
) -> dict[str, str]:
    """The user's node selector over the default one; ``""`` (or ``None``) removes an inherited key.

    Keys and values must follow the Kubernetes label rules: a bad one is an error (MLRun only
    warns). Errors in ``default`` name ``settings.default_node_selector``; errors in ``user``
    name ``path``.
    """
    merged = _validate_selector(default, "settings.default_node_selector")
    if user is None:
        return merged
    if not isinstance(user, Mapping):
        raise SpecError(path, user, "a mapping of label keys to label values ('' removes a default)")
    for key, value in user.items():
        item_path = f"{path}.{key}"
        validate_label_key(key, item_path)
        if value is None or value == "":
            merged.pop(key, None)
            continue
        if not isinstance(value, str):
            raise SpecError(
                item_path, value, "a label value string ('' removes the key)", reason=type(value).__name__
            )
        merged[key] = validate_label_value(value, item_path)
    return merged


# --- tolerations ------------------------------------------------------------------------------


def _tolerates_spot_taint(user: Mapping[str, Any], spot: Mapping[str, Any]) -> bool:
    """Whether the user's toleration tolerates (some of) the taints that ``spot`` is meant for.

    Only keyed tolerations count: a blanket ``{operator: Exists}`` is about every taint, not
    about spot nodes, and is kept (the ``NotIn`` affinity keeps the pod off spot nodes).
    """
    if not user.get("key") or user.get("key") != spot.get("key"):
        return False
    user_effect, spot_effect = user.get("effect", ""), spot.get("effect", "")
    if user_effect and spot_effect and user_effect != spot_effect:
        return False
    if user["operator"] == "Exists" or spot["operator"] == "Exists":
        return True
    return bool(user.get("value", "") == spot.get("value", ""))


def _covers(wide: Mapping[str, Any], narrow: Mapping[str, Any]) -> bool:
    """Whether toleration ``wide`` tolerates every taint that ``narrow`` tolerates, as long."""
    if wide.get("effect") and wide.get("effect") != narrow.get("effect"):
        return False
    if wide.get("key"):
        if wide.get("key") != narrow.get("key"):
            return False
        if wide["operator"] != "Exists" and (
            narrow["operator"] != "Equal" or wide.get("value", "") != narrow.get("value", "")
        ):
            return False
    seconds = wide.get("tolerationSeconds")
    return seconds is None or (
        narrow.get("tolerationSeconds") is not None and seconds >= narrow["tolerationSeconds"]
    )


def _add_tolerations(
    tolerations: Sequence[dict[str, Any]], extra: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``tolerations`` plus each of ``extra`` that none of them already covers."""
    out = list(tolerations)
    for tol in extra:
        if not any(_covers(have, tol) for have in out):
            out.append(tol)
    return out


def _dedup(tolerations: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for tol in tolerations:
        if tol not in out:
            out.append(tol)
    return out


# --- node affinity ----------------------------------------------------------------------------


def _satisfiable(expressions: Sequence[Mapping[str, Any]], selector: Mapping[str, str]) -> bool:
    """Whether some node could satisfy all ``expressions`` and the node selector.

    Conservative: only ``In``/``NotIn``/``Exists``/``DoesNotExist`` and the selector are
    reasoned about; ``Gt``/``Lt`` are assumed satisfiable (beyond requiring the label).
    """
    allowed: dict[str, set[str]] = {}
    forbidden: dict[str, set[str]] = {}
    present: set[str] = set()
    absent: set[str] = set()
    constraints = [*({"key": k, "operator": "In", "values": [v]} for k, v in selector.items()), *expressions]
    for expr in constraints:
        key, op, values = expr["key"], expr["operator"], set(expr.get("values", ()))
        if op == "In":
            allowed[key] = allowed[key] & values if key in allowed else values
            present.add(key)
        elif op == "NotIn":
            forbidden.setdefault(key, set()).update(values)
        elif op == "DoesNotExist":
            absent.add(key)
        else:  # Exists, Gt, Lt all need the label
            present.add(key)
    if present & absent:
        return False
    return all(values - forbidden.get(key, set()) for key, values in allowed.items())


def _combine(
    user_terms: list[dict[str, Any]] | None,
    alternatives: list[list[dict[str, Any]]],
    selector: Mapping[str, str],
) -> tuple[list[dict[str, Any]], list[int]]:
    """Cross product of the user's terms (ORed) with the mode's alternatives (ORed).

    Each result term is a user term with one alternative's expressions appended (ANDed); an
    expression the term already has is not repeated, a combination no node can satisfy is left
    out. Returns the terms and the indices of user terms that had no satisfiable combination.
    """
    base = user_terms if user_terms else [{}]
    terms: list[dict[str, Any]] = []
    lost: list[int] = []
    for index, term in enumerate(base):
        kept = False
        for alternative in alternatives:
            expressions = list(term.get("matchExpressions", []))
            expressions += [e for e in alternative if e not in expressions]
            if not _satisfiable(expressions, selector):
                continue
            # Shares expression dicts between terms; the result is cloned once at the end.
            combined = {**term, "matchExpressions": expressions}
            if combined not in terms:
                terms.append(combined)
            kept = True
        if not kept and user_terms:
            lost.append(index)
    return terms, lost


def _with_required_terms(affinity: dict[str, Any], terms: list[dict[str, Any]]) -> dict[str, Any]:
    node = {**affinity.get("nodeAffinity", {}), _REQUIRED: {"nodeSelectorTerms": terms}}
    return {**affinity, "nodeAffinity": node}


# --- resolution -------------------------------------------------------------------------------


def _spot_config(settings: Settings) -> tuple[dict[str, str], list[dict[str, Any]]]:
    labels = _validate_selector(settings.preemptible_node_selector, "settings.preemptible_node_selector")
    tolerations = normalize_tolerations(
        list(settings.preemptible_tolerations), "settings.preemptible_tolerations"
    )
    return labels, _dedup(tolerations)


@dataclass
class _Draft:
    """The scheduling fields while a mode is being applied."""

    selector: dict[str, str]
    affinity: dict[str, Any]
    tolerations: list[dict[str, Any]]
    user_terms: list[dict[str, Any]] | None
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dead_terms: frozenset[int] = frozenset()
    """Indices of user terms that match no node whatever the mode (already warned about)."""

    def require(self, alternatives: list[list[dict[str, Any]]], mode: str, goal: str) -> None:
        """Combine the mode's alternatives into the required terms (see :func:`_combine`)."""
        terms, lost = _combine(self.user_terms, alternatives, self.selector)
        if not terms:
            raise SpecError(
                _TERMS_PATH,
                self.user_terms,
                f"at least one term that {goal} can satisfy, or another preemption mode",
                reason=f"no required node affinity term can match {goal} under {mode!r}",
            )
        self.warnings += [
            f"{_TERMS_PATH}[{i}] cannot match {goal}: left out under preemption mode {mode!r}"
            for i in lost
            if i not in self.dead_terms
        ]
        self.affinity = _with_required_terms(self.affinity, terms)


def _check_user_terms(draft: _Draft) -> None:
    """A user's term that no node can satisfy is worth a warning; all of them, an error."""
    terms = draft.user_terms or []
    dead = [i for i, t in enumerate(terms) if not _satisfiable(t.get("matchExpressions", []), draft.selector)]
    if terms and len(dead) == len(terms):
        raise SpecError(
            _TERMS_PATH,
            terms,
            "at least one term that a node can satisfy together with the node selector",
            reason="every term contradicts itself or the node selector: the pod could never be scheduled",
        )
    draft.warnings += [
        f"{_TERMS_PATH}[{i}] can match no node (it contradicts itself or the node selector)" for i in dead
    ]
    draft.dead_terms = frozenset(dead)


def _apply_constrain(draft: _Draft, labels: dict[str, str], tolerations: list[dict[str, Any]]) -> None:
    draft.tolerations = _add_tolerations(draft.tolerations, tolerations)
    if not labels:
        draft.notes.append(
            "no spot node labels configured: 'constrain' adds the spot tolerations but cannot require spot nodes"
        )
        return
    for key, spot_value in labels.items():
        if key in draft.selector and draft.selector[key] != spot_value:
            others = ", ".join(m for m in PREEMPTION_MODES if m != "constrain")
            raise SpecError(
                f"node_selector.{key}",
                draft.selector[key],
                # notebooks/03-resources-sdk.ipynb checks this message's text.
                f"{spot_value!r} or no value for this key under preemption mode 'constrain', or another mode ({others})",
                reason=f"{key!r} is a spot node label; 'constrain' requires a spot node",
            )
    if any(draft.selector.get(key) == value for key, value in labels.items()):
        draft.notes.append("the node selector already selects spot nodes: no spot node affinity added")
        return
    # A node with ANY spot label is a spot node: one alternative (term) per label, ORed.
    draft.require(
        [[{"key": k, "operator": "In", "values": [v]}] for k, v in labels.items()], "constrain", "a spot node"
    )


def _apply_prevent(draft: _Draft, labels: dict[str, str], tolerations: list[dict[str, Any]]) -> None:
    kept: list[dict[str, Any]] = []
    for index, tol in enumerate(draft.tolerations):
        if any(_tolerates_spot_taint(tol, spot) for spot in tolerations):
            draft.warnings.append(
                f"tolerations[{index}] {tol} tolerates the spot nodes' taint: dropped, "
                "preemption mode 'prevent' keeps this job off spot nodes"
            )
        else:
            kept.append(tol)
    draft.tolerations = kept
    if not labels:
        draft.notes.append("no spot node labels configured: 'prevent' relies on the spot nodes' taints only")
        if any(not tol.get("key") and tol["operator"] == "Exists" for tol in kept):
            draft.warnings.append(
                "a toleration without a key tolerates every taint, the spot nodes' too: "
                "with no spot node labels configured, 'prevent' cannot keep this job off spot nodes"
            )
        return
    for key, spot_value in labels.items():
        if draft.selector.get(key) == spot_value:
            raise SpecError(
                f"node_selector.{key}",
                spot_value,
                f"any value but {spot_value!r} under preemption mode 'prevent' ('' drops an inherited "
                "default), or preemption mode 'allow' or 'constrain'",
                reason=f"'{key}={spot_value}' marks spot nodes; 'prevent' keeps the job off them",
            )
    # No spot label at all: NotIn for every label, ANDed into each term. A key the selector pins
    # to another value already excludes that label's spot nodes.
    not_in = [
        {"key": k, "operator": "NotIn", "values": [v]} for k, v in labels.items() if k not in draft.selector
    ]
    if not_in:
        draft.require([not_in], "prevent", "a node without spot labels")


def resolve_scheduling(
    *,
    mode: str,
    node_name: str | None,
    node_selector: Mapping[str, str],
    affinity: Mapping[str, Any] | None,
    tolerations: Sequence[Mapping[str, Any]],
    settings: Settings,
) -> Scheduling:
    """Apply preemption ``mode`` to the user's scheduling fields (see the module docstring).

    ``node_selector`` is the already merged selector (:func:`merge_node_selector`);
    ``affinity`` and ``tolerations`` may be in any form :func:`normalize_affinity` and
    :func:`normalize_tolerations` accept. The inputs are never modified.

    Raises ``SpecError`` for an unknown mode, invalid fields, and contradictions: required
    affinity terms none of which fits the node selector; ``constrain`` with a node selector that
    pins a spot label to another value (e.g. ``{"app.iguazio.com/lifecycle": "non-preemptible"}``)
    or with required terms none of which can match a spot node; ``prevent`` with a node selector
    that pins a spot label, or with required terms that all need a spot node.
    """
    validate_preemption_mode(mode)
    if node_name is not None:
        validate_dns1123_subdomain(node_name, "node_name")
    user_affinity = normalize_affinity(affinity, "affinity")
    draft = _Draft(
        selector=_validate_selector(node_selector, "node_selector"),
        affinity=user_affinity,
        tolerations=_dedup(normalize_tolerations(tolerations, "tolerations")),
        user_terms=user_affinity.get("nodeAffinity", {}).get(_REQUIRED, {}).get("nodeSelectorTerms"),
    )
    spot_labels, spot_tolerations = _spot_config(settings)
    _check_user_terms(draft)

    if mode != "none" and not spot_labels and not spot_tolerations:
        draft.notes.append(
            "no spot nodes configured (settings.preemptible_node_selector and "
            f"settings.preemptible_tolerations are empty): preemption mode {mode!r} has no effect"
        )
    elif mode == "allow":
        draft.tolerations = _add_tolerations(draft.tolerations, spot_tolerations)
        if not spot_tolerations:
            draft.notes.append(
                "no spot tolerations configured: spot nodes are untainted, 'allow' adds nothing"
            )
    elif mode == "constrain":
        _apply_constrain(draft, spot_labels, spot_tolerations)
    elif mode == "prevent":
        _apply_prevent(draft, spot_labels, spot_tolerations)

    if node_name and draft.affinity is not user_affinity:
        draft.notes.append(
            f"node_name {node_name!r} bypasses the scheduler: the kubelet still rejects the pod "
            "if that node does not match the node affinity"
        )
    return Scheduling(
        node_name=node_name or None,
        node_selector=draft.selector,
        affinity=_clone(draft.affinity) or None,
        tolerations=_clone(draft.tolerations),
        warnings=tuple(draft.warnings),
        notes=tuple(draft.notes),
    )


# --- retries ----------------------------------------------------------------------------------

_DISRUPTION_IGNORE_RULE: dict[str, Any] = {
    "action": "Ignore",
    "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}],
}


def pod_failure_policy(mode: str, settings: Settings) -> dict[str, Any] | None:
    """The Job ``podFailurePolicy`` that keeps preemptions from consuming the retry budget.

    A pod that fails because it was disrupted (condition ``DisruptionTarget``: spot reclaim,
    taint eviction, preemption by a higher priority, drain) is replaced without counting towards
    ``backoffLimit``. Returned for the modes that may put the pod on a spot node — ``allow``,
    ``constrain`` and ``none`` (which keeps nothing off spot nodes) — when spot nodes are
    configured; ``None`` for ``prevent`` and when no spot nodes are configured (modes change
    nothing then). Kubernetes accepts ``podFailurePolicy`` only with the pod template's
    ``restartPolicy: Never`` (beta and on by default since 1.26, GA in 1.31).
    """
    validate_preemption_mode(mode)
    if mode == "prevent":
        return None
    if not settings.preemptible_node_selector and not settings.preemptible_tolerations:
        return None
    return {"rules": [_clone(_DISRUPTION_IGNORE_RULE)]}
