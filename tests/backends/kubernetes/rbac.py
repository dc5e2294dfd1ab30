"""Checks run on every emulator's recorded requests: RBAC coverage and strict schema validity."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from kubernetes_validate import utils as kv

from .helpers import USER_AGENT

RBAC_FILE = Path(__file__).parents[3] / "docs" / "rbac.yaml"
SCHEMA_VERSIONS = ("1.29", kv.latest_version())


@functools.lru_cache(maxsize=1)
def rules() -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")) if d]
    return [rule for d in docs for rule in d["rules"]]


def required_permission(request: Any) -> tuple[str, str, str]:
    """(apiGroup, resource[/subresource], verb) a request needs, as the API server decides it."""
    method = str(request.method.value).upper()
    resource = request.resource.plural + (f"/{request.subresource}" if request.subresource else "")
    if method == "GET":
        verb = "watch" if request.params.get("watch") == "true" else ("get" if request.name else "list")
    else:
        verb = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete"}[method]
    return request.resource.group, resource, verb


def allowed(group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules())


def backend_requests(requests: Iterable[Any]) -> list[Any]:
    return [
        r
        for r in requests
        if r.resource is not None
        and r.headers.get("User-Agent") != USER_AGENT
        and "kmock" not in r.headers.get("User-Agent", "")
    ]


def assert_backend_requests_allowed(requests: Iterable[Any]) -> None:
    missing = sorted(
        {required_permission(r) for r in backend_requests(requests)}
        - {p for p in {required_permission(r) for r in backend_requests(requests)} if allowed(*p)}
    )
    assert not missing, f"docs/rbac.yaml does not allow: {missing}"


@functools.cache
def validator(kind: str, api_version: str, version: str) -> jsonschema.protocols.Validator:
    """Built once per schema (kubernetes_validate.validate re-reads the big files per call)."""
    import re

    from referencing import Registry, Resource

    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    full = [v for v in kv.all_versions() if kv.major_minor(v) <= version][-1]
    folder = f"kubernetes-json-schema/v{full}-local-strict"
    schema = kv.schema_contents(f"{folder}/{kind.lower()}-{group_version}.json", version)
    defs = kv.schema_contents(f"{folder}/_definitions.json", version)
    registry = Resource.from_contents(defs) @ (Resource.from_contents(schema) @ Registry())
    return jsonschema.validators.Draft202012Validator(schema, registry=registry)


def validate_manifest(body: dict[str, Any]) -> None:
    if str(body.get("apiVersion", "")).startswith("kubernetes.dask.org/"):
        from tests.core.dask_schema import validate_custom_resource

        validate_custom_resource(body)  # the operator's own CRD schema (strict)
        return
    for version in SCHEMA_VERSIONS:
        validator(body["kind"], body["apiVersion"], version).validate(body)


def assert_manifests_valid(requests: Iterable[Any]) -> None:
    for r in backend_requests(requests):
        if str(r.method.value).upper() == "POST":
            body = json.loads(r.body)
            for key in ("uid", "resourceVersion", "creationTimestamp", "generation", "namespace"):
                body.get("metadata", {}).pop(key, None)  # server-set fields the emulator stamped in
            validate_manifest(body)
