"""The dask-kubernetes operator's published CRD schemas, applied strictly.

The ``dask-kubernetes`` wheel ships the operator's Helm chart, CRDs included
(``.../helm/dask-kubernetes-operator/crds/*.yaml``): we read those files through the installed
distribution's file list (never importing the package) and validate rendered custom resources
against their ``openAPIV3Schema``. The API server prunes unknown fields of a custom resource
silently; to catch a misspelt field we validate like ``kubectl --validate=strict``: every object
schema with ``properties`` and no ``x-kubernetes-preserve-unknown-fields`` rejects other keys.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import Any

import jsonschema
import yaml

CRD_DIR = "dask_kubernetes/operator/deployment/helm/dask-kubernetes-operator/crds/"


_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def crd_files() -> dict[str, str]:
    """lowercase kind -> path of its CRD (``crds/daskcluster.yaml``) in the installed wheel."""
    dist = metadata.distribution("dask-kubernetes")
    return {
        str(entry)[len(CRD_DIR) : -len(".yaml")]: str(dist.locate_file(entry))
        for entry in dist.files or []
        if str(entry).startswith(CRD_DIR) and str(entry).endswith(".yaml")
    }


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        result = {k: _strict(v) for k, v in schema.items()}
        if (
            "properties" in schema
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")
        ):
            result["additionalProperties"] = False
        if schema.get("x-kubernetes-int-or-string"):
            result.pop("type", None)
            result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
        return result
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


@cache
def crd_validator(kind: str, version: str = "v1") -> jsonschema.protocols.Validator:
    with open(crd_files()[kind.lower()], encoding="utf-8") as f:
        crd = yaml.load(f, Loader=_Loader)
    assert crd["spec"]["names"]["kind"] == kind
    served = next(v for v in crd["spec"]["versions"] if v["name"] == version)
    schema = _strict(served["schema"]["openAPIV3Schema"])
    # apiVersion/kind/metadata are the API server's to check; the schema leaves them open.
    schema.setdefault("properties", {}).update(
        {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    )
    return jsonschema.validators.Draft7Validator(schema)


def validate_custom_resource(manifest: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` unless the operator's CRD accepts ``manifest``."""
    group, _, version = manifest["apiVersion"].partition("/")
    assert group == "kubernetes.dask.org", manifest["apiVersion"]
    crd_validator(manifest["kind"], version).validate(manifest)
