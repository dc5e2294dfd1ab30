"""Multi-document YAML for previews and ``kubectl apply -f -``, with comments where they help."""

from __future__ import annotations

from typing import Any

import yaml

from jupyter_mlres.core.runs import RenderedRun

__all__ = ["dump_yaml", "run_to_yaml"]

_Base: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _Dumper(_Base):  # type: ignore[valid-type,misc]
    """Safe dumper that writes multi-line strings (the code) as readable ``|`` blocks."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(document: Any) -> str:
    """One document, keys in rendering order, block style."""
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def run_to_yaml(run: RenderedRun) -> str:
    """All manifests of ``run`` as YAML; rendering notes become leading ``#`` comments."""
    header = [f"# {line}" for note in run.notes for line in note.splitlines()]
    documents: list[str] = []
    for manifest in run.manifests:
        comments: list[str] = []
        if manifest.get("kind") == "Secret":
            name = manifest["metadata"]["name"]
            keys = ", ".join(sorted(run.secret_data.get(name, {})))
            comments.append(f"# stringData ({keys}): value redacted; added by the backend at submit time")
        elif manifest.get("kind") == "ConfigMap":
            comments.append("# the job's code, runner and parameters (mounted read-only at /mlres/code)")
        documents.append("\n".join([*comments, dump_yaml(manifest).rstrip("\n")]))
    body = "\n---\n".join(documents) + "\n"
    return "\n".join(header) + ("\n" if header else "") + "---\n" + body
