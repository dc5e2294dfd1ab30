"""Strict Kubernetes schema validation, built once per (version, kind) and reused.

``kubernetes_validate.validate`` re-reads and re-compiles the JSON schemas on every call (tens of
milliseconds); property tests validate thousands of manifests, so we cache the compiled
validators and use the very same schema files.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

import jsonschema
import kubernetes_validate.utils as kvu
from referencing import Registry, Resource

OLDEST = "1.25"
NEWEST = "1.37"
VERSIONS = (OLDEST, NEWEST)


def _full_version(major_minor: str) -> str:
    return next(v for v in kvu.all_versions() if kvu.major_minor(v) == major_minor)


@cache
def _definitions(version: str) -> Resource[Any]:
    return Resource.from_contents(
        kvu.schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    )


@cache
def validator(major_minor: str, kind: str, api_version: str) -> jsonschema.protocols.Validator:
    version = _full_version(major_minor)
    group = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    schema = kvu.schema_contents(
        f"kubernetes-json-schema/v{version}-local-strict/{kind.lower()}-{group}.json", version
    )
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = _definitions(version) @ registry
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_strict(manifest: dict[str, Any], major_minor: str) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``manifest`` passes strict validation."""
    validator(major_minor, manifest["kind"], manifest["apiVersion"]).validate(manifest)


def validate_all(manifests: list[dict[str, Any]]) -> None:
    for version in VERSIONS:
        for manifest in manifests:
            validate_strict(manifest, version)
