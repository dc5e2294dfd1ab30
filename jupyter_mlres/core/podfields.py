"""Pod scheduling fields (affinity, tolerations) from client models or dicts, as validated wire dicts.

Users hand us ``kubernetes.client`` models (``V1Affinity``, ``V1Toleration``), or dicts in the
wire spelling (camelCase) or the client's Python spelling (snake_case). Core may not import
``kubernetes``, so models are read by duck typing: the client's ``attribute_map`` (Python
attribute -> wire name, present in every client generation), else ``to_dict()`` (snake_case in
kubernetes 37's pydantic models), else ``model_dump()``.

A small schema (:data:`_SCHEMA`, the Kubernetes field names involved) drives the conversion, so
that keys which are *data* — the label keys inside ``matchLabels`` — are never rewritten, and an
unknown or misspelled field is an error naming its path instead of a silently ignored key.
Semantic checks follow the API server's validation (``ValidateTolerations``,
``ValidateNodeSelector``, ``ValidateAffinity``). A few checks are stricter on purpose, because
what they reject can never match a node: a node selector term with no expression, an ``In`` /
``NotIn`` value that is not a valid label value, a ``Gt`` / ``Lt`` value that is not an integer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import SpecError
from .labels import validate_dns1123_subdomain, validate_label_key, validate_label_value

__all__ = [
    "NODE_SELECTOR_OPERATORS",
    "TAINT_EFFECTS",
    "TOLERATION_OPERATORS",
    "normalize_affinity",
    "normalize_toleration",
    "normalize_tolerations",
    "to_wire",
]

TOLERATION_OPERATORS = ("Exists", "Equal")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
NODE_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")
LABEL_SELECTOR_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
NODE_FIELD_SELECTOR_KEYS = ("metadata.name",)

# Field kinds: "str", "int", "strs" (list of str), "map" (str -> str, keys are data),
# "[Type]" (list of Type), "Type" (an object described in this table).
_SCHEMA: dict[str, dict[str, str]] = {
    "Toleration": {
        "key": "str",
        "operator": "str",
        "value": "str",
        "effect": "str",
        "tolerationSeconds": "int",
    },
    "Affinity": {
        "nodeAffinity": "NodeAffinity",
        "podAffinity": "PodAffinity",
        "podAntiAffinity": "PodAffinity",
    },
    "NodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": "NodeSelector",
        "preferredDuringSchedulingIgnoredDuringExecution": "[PreferredSchedulingTerm]",
    },
    "NodeSelector": {"nodeSelectorTerms": "[NodeSelectorTerm]"},
    "NodeSelectorTerm": {
        "matchExpressions": "[NodeSelectorRequirement]",
        "matchFields": "[NodeSelectorRequirement]",
    },
    "NodeSelectorRequirement": {"key": "str", "operator": "str", "values": "strs"},
    "PreferredSchedulingTerm": {"weight": "int", "preference": "NodeSelectorTerm"},
    "PodAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": "[PodAffinityTerm]",
        "preferredDuringSchedulingIgnoredDuringExecution": "[WeightedPodAffinityTerm]",
    },
    "PodAffinityTerm": {
        "labelSelector": "LabelSelector",
        "namespaceSelector": "LabelSelector",
        "namespaces": "strs",
        "topologyKey": "str",
        "matchLabelKeys": "strs",
        "mismatchLabelKeys": "strs",
    },
    "WeightedPodAffinityTerm": {"weight": "int", "podAffinityTerm": "PodAffinityTerm"},
    "LabelSelector": {"matchLabels": "map", "matchExpressions": "[LabelSelectorRequirement]"},
    "LabelSelectorRequirement": {"key": "str", "operator": "str", "values": "strs"},
}


def _snake(camel: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", camel).lower()


# Per type: accepted spelling (camelCase or snake_case) -> wire name.
_SPELLINGS: dict[str, dict[str, str]] = {
    type_name: {**{_snake(f): f for f in fields}, **{f: f for f in fields}}
    for type_name, fields in _SCHEMA.items()
}


def to_wire(value: object) -> object:
    """Turn a client model (or containers of them) into plain data, wire names where known.

    Plain dicts, lists and scalars pass through (copied). ``None`` fields are dropped, as the
    client's own serializer does.
    """
    attribute_map = getattr(type(value), "attribute_map", None)
    if isinstance(attribute_map, Mapping) and not isinstance(value, Mapping):
        out: dict[str, object] = {}
        for attr, wire_name in attribute_map.items():
            item = getattr(value, attr, None)
            if item is not None:
                out[str(wire_name)] = to_wire(item)
        return out
    if isinstance(value, Mapping):
        return {k: to_wire(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    for method in ("to_dict", "model_dump"):
        dump = getattr(value, method, None)
        if callable(dump) and not isinstance(value, (str, bytes, int, float)):
            return to_wire(dump())
    return value


_PLAIN_TYPES = frozenset({dict, list, str, int, float, bool, tuple, type(None)})


def _plain(value: object) -> object:
    """A client model as plain data; anything else unchanged (models are rare, dicts common)."""
    if type(value) in _PLAIN_TYPES or isinstance(value, (str, int, float, Mapping, list, tuple)):
        return value
    return to_wire(value)


def _convert(value: object, kind: str, path: str) -> Any:
    """Convert ``value`` to the wire shape of ``kind``, checking types; always a fresh copy."""
    value = _plain(value)
    if kind == "str":
        if not isinstance(value, str):
            raise SpecError(path, value, "a string")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(path, value, "an integer")
        return value
    if kind == "strs":
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
            raise SpecError(path, value, "a list of strings")
        return [_convert(v, "str", f"{path}[{i}]") for i, v in enumerate(value)]
    if kind == "map":
        if not isinstance(value, Mapping):
            raise SpecError(path, value, "a mapping of label keys to label values")
        return {
            validate_label_key(k, f"{path}.{k}"): validate_label_value(
                _convert(v, "str", f"{path}.{k}"), f"{path}.{k}"
            )
            for k, v in value.items()
        }
    if kind.startswith("["):
        item_kind = kind[1:-1]
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
            raise SpecError(path, value, f"a list of {item_kind} objects")
        return [_convert(v, item_kind, f"{path}[{i}]") for i, v in enumerate(value)]
    return _convert_object(value, kind, path)


def _convert_object(value: object, type_name: str, path: str) -> dict[str, Any]:
    value = _plain(value)
    if type(value) is not dict and not isinstance(value, Mapping):
        raise SpecError(path, value, f"a {type_name} (a kubernetes client model or a dict)")
    spellings = _SPELLINGS[type_name]
    fields = _SCHEMA[type_name]
    out: dict[str, Any] = {}
    for key, item in value.items():
        wire_name = spellings.get(key) if isinstance(key, str) else None
        if wire_name is None:
            raise SpecError(f"{path}.{key}", item, ", ".join(fields), reason=f"unknown field of {type_name}")
        if wire_name in out:
            raise SpecError(f"{path}.{wire_name}", item, "one spelling per field", reason="given twice")
        if item is not None:
            out[wire_name] = _convert(item, fields[wire_name], f"{path}.{wire_name}")
    return out


def _check_toleration(tol: dict[str, Any], path: str) -> dict[str, Any]:
    """Apply the API server's toleration rules; return the canonical form (operator explicit)."""
    key = tol.get("key", "")
    operator = tol.get("operator", "") or "Equal"
    value = tol.get("value", "")
    effect = tol.get("effect", "")
    if operator not in TOLERATION_OPERATORS:
        raise SpecError(f"{path}.operator", operator, TOLERATION_OPERATORS)
    if key:
        validate_label_key(key, f"{path}.key")
    elif operator != "Exists":
        raise SpecError(
            f"{path}.operator",
            operator,
            "'Exists'",
            reason="a toleration without a key tolerates every taint and needs operator 'Exists'",
        )
    if operator == "Exists" and value:
        raise SpecError(f"{path}.value", value, "no value", reason="operator 'Exists' takes no value")
    if operator == "Equal":
        validate_label_value(value, f"{path}.value")
    if effect and effect not in TAINT_EFFECTS:
        raise SpecError(f"{path}.effect", effect, (*TAINT_EFFECTS, "'' (every effect)"))
    seconds = tol.get("tolerationSeconds")
    if seconds is not None and effect != "NoExecute":
        raise SpecError(
            f"{path}.tolerationSeconds",
            seconds,
            "only with effect 'NoExecute'",
            reason=f"effect is {effect or 'empty'!r}",
        )
    out: dict[str, Any] = {}
    if key:
        out["key"] = key
    out["operator"] = operator
    if value:
        out["value"] = value
    if effect:
        out["effect"] = effect
    if seconds is not None:
        out["tolerationSeconds"] = seconds
    return out


def normalize_toleration(value: object, path: str) -> dict[str, Any]:
    """One toleration (model or dict) -> its canonical camelCase dict, validated."""
    tol = _convert_object(value, "Toleration", path)
    return _check_toleration(tol, path)


def normalize_tolerations(value: object, path: str) -> list[dict[str, Any]]:
    """Tolerations (a list of models/dicts; a single one is accepted too) -> camelCase dicts.

    ``None`` gives ``[]``. The canonical form always spells ``operator`` (``Equal`` when
    omitted, as Kubernetes defaults it) and leaves out empty ``key``/``value``/``effect``, so two
    spellings of the same toleration compare equal.
    """
    if value is None:
        return []
    if isinstance(value, Mapping) or hasattr(type(value), "attribute_map"):
        value = [value]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise SpecError(path, value, "a list of tolerations (V1Toleration or dicts)")
    return [normalize_toleration(item, f"{path}[{i}]") for i, item in enumerate(value)]


def _check_requirement(
    req: dict[str, Any], path: str, operators: tuple[str, ...], *, field_selector: bool = False
) -> None:
    operator = req.get("operator")
    if operator not in operators:
        raise SpecError(f"{path}.operator", operator, operators)
    key = req.get("key")
    if key is None:
        raise SpecError(f"{path}.key", None, "a label key", reason="missing")
    values: list[str] = req.get("values", [])
    if field_selector:
        if key not in NODE_FIELD_SELECTOR_KEYS:
            raise SpecError(f"{path}.key", key, NODE_FIELD_SELECTOR_KEYS)
        if len(values) != 1:
            raise SpecError(f"{path}.values", values, "exactly one node name", reason="node field selector")
        validate_dns1123_subdomain(values[0], f"{path}.values[0]")
        return
    validate_label_key(key, f"{path}.key")
    if operator in ("In", "NotIn"):
        if not values:
            raise SpecError(f"{path}.values", values, "at least one value", reason=f"operator {operator!r}")
        for i, item in enumerate(values):
            validate_label_value(item, f"{path}.values[{i}]")
    elif operator in ("Exists", "DoesNotExist"):
        if values:
            raise SpecError(f"{path}.values", values, "no values", reason=f"operator {operator!r}")
    elif len(values) != 1 or not re.fullmatch(r"[-+]?[0-9]+", values[0]):
        raise SpecError(
            f"{path}.values", values, "exactly one integer, e.g. ['4']", reason=f"operator {operator!r}"
        )


def _check_node_selector_term(term: dict[str, Any], path: str, *, allow_empty: bool = False) -> None:
    if not allow_empty and not term.get("matchExpressions") and not term.get("matchFields"):
        raise SpecError(
            path, term, "a term with matchExpressions or matchFields", reason="an empty term matches no node"
        )
    for i, req in enumerate(term.get("matchExpressions", [])):
        _check_requirement(req, f"{path}.matchExpressions[{i}]", NODE_SELECTOR_OPERATORS)
    for i, req in enumerate(term.get("matchFields", [])):
        _check_requirement(req, f"{path}.matchFields[{i}]", ("In", "NotIn"), field_selector=True)


def _check_weight(weight: object, path: str) -> None:
    if not isinstance(weight, int) or not 1 <= weight <= 100:
        raise SpecError(path, weight, "an integer from 1 to 100")


def _check_label_selector(selector: dict[str, Any], path: str) -> None:
    for i, req in enumerate(selector.get("matchExpressions", [])):
        _check_requirement(req, f"{path}.matchExpressions[{i}]", LABEL_SELECTOR_OPERATORS)


def _check_pod_affinity_term(term: dict[str, Any], path: str) -> None:
    topology_key = term.get("topologyKey", "")
    if not topology_key:
        raise SpecError(f"{path}.topologyKey", topology_key, "a label key, e.g. 'kubernetes.io/hostname'")
    validate_label_key(topology_key, f"{path}.topologyKey")
    for name in ("labelSelector", "namespaceSelector"):
        if name in term:
            _check_label_selector(term[name], f"{path}.{name}")


def _check_affinity(affinity: dict[str, Any], path: str) -> None:
    node = affinity.get("nodeAffinity", {})
    npath = f"{path}.nodeAffinity"
    required = node.get("requiredDuringSchedulingIgnoredDuringExecution")
    if required is not None:
        rpath = f"{npath}.requiredDuringSchedulingIgnoredDuringExecution"
        terms = required.get("nodeSelectorTerms", [])
        if not terms:
            raise SpecError(
                f"{rpath}.nodeSelectorTerms",
                terms,
                "at least one term",
                reason="Kubernetes rejects an empty list",
            )
        for i, term in enumerate(terms):
            _check_node_selector_term(term, f"{rpath}.nodeSelectorTerms[{i}]")
    for i, pref in enumerate(node.get("preferredDuringSchedulingIgnoredDuringExecution", [])):
        ppath = f"{npath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
        _check_weight(pref.get("weight"), f"{ppath}.weight")
        if "preference" not in pref:
            raise SpecError(f"{ppath}.preference", None, "a node selector term", reason="missing")
        # An empty preference is valid Kubernetes (it matches every node); keep it.
        _check_node_selector_term(pref["preference"], f"{ppath}.preference", allow_empty=True)
    for kind in ("podAffinity", "podAntiAffinity"):
        pod = affinity.get(kind, {})
        kpath = f"{path}.{kind}"
        for i, term in enumerate(pod.get("requiredDuringSchedulingIgnoredDuringExecution", [])):
            _check_pod_affinity_term(term, f"{kpath}.requiredDuringSchedulingIgnoredDuringExecution[{i}]")
        for i, wterm in enumerate(pod.get("preferredDuringSchedulingIgnoredDuringExecution", [])):
            wpath = f"{kpath}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            _check_weight(wterm.get("weight"), f"{wpath}.weight")
            if "podAffinityTerm" not in wterm:
                raise SpecError(f"{wpath}.podAffinityTerm", None, "a pod affinity term", reason="missing")
            _check_pod_affinity_term(wterm["podAffinityTerm"], f"{wpath}.podAffinityTerm")


def normalize_affinity(value: object, path: str) -> dict[str, Any]:
    """An affinity (``V1Affinity`` or a dict, camelCase or snake_case) -> a validated camelCase dict.

    ``None`` gives ``{}``. The result is a fresh structure: changing it never changes the input.
    """
    if value is None:
        return {}
    affinity = _convert_object(value, "Affinity", path)
    _check_affinity(affinity, path)
    # An empty nodeAffinity/podAffinity says nothing; dropping it keeps previews clean.
    return {kind: part for kind, part in affinity.items() if part}
