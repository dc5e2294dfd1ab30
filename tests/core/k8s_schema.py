"""Strict Kubernetes schema validation, compiled once per (version, kind) and reused.

The schemas are kubernetes-validate's own strict ones (same files, same Draft 2020-12
validator). ``kubernetes_validate.validate`` re-reads them and resolves every ``$ref`` through a
registry of the 6 MB definitions file on each call; here the definitions a schema needs are
inlined as local ``$defs`` once and the descriptions dropped, which validates the same documents
about twice as fast. ``test_fast_validator_agrees_with_kubernetes_validate`` keeps us honest.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate.utils as kvu

OLDEST = "1.25"
NEWEST = "1.37"
VERSIONS = (OLDEST, NEWEST)
_REMOTE = "/api/_definitions.json#"


def _full_version(major_minor: str) -> str:
    return next(v for v in kvu.all_versions() if kvu.major_minor(v) == major_minor)


def _localize(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _localize(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [_localize(v) for v in node]
    if isinstance(node, str) and node.startswith(_REMOTE):
        return "#" + node[len(_REMOTE) :]
    return node


@cache
def _definitions(version: str) -> dict[str, Any]:
    contents = kvu.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version
    )
    return dict(_localize(contents["$defs"]))


@cache
def validator(major_minor: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    version = _full_version(major_minor)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)  # as kubernetes_validate names files
    schema = kvu.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group}.json", version
    )
    schema = _localize(schema)
    schema["$defs"] = _definitions(version)
    return jsonschema.validators.Draft202012Validator(schema)


def validate_strict(manifest: dict[str, Any], major_minor: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``manifest`` passes strict validation."""
    validator(major_minor, manifest["kind"], manifest["apiVersion"]).validate(manifest)


def validate_all(manifests: list[dict[str, Any]] | Any) -> None:
    for version in VERSIONS:
        for manifest in manifests:
            validate_strict(manifest, version)
