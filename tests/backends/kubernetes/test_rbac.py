"""The README's Role is docs/rbac.yaml, and a whole run lifecycle needs nothing beyond it.

(Every emulator-backed test also checks its own requests against docs/rbac.yaml on teardown.)
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.runs import RunId

from .emulator import RunningEmulator
from .helpers import NS, Kube, render_run
from .rbac import RBAC_FILE, allowed, backend_requests, required_permission

README = Path(__file__).parents[3] / "README.md"


def permissions(docs: list[dict]) -> set[tuple[str, str, str, str]]:  # type: ignore[type-arg]
    return {
        (d["kind"], g, r, v)
        for d in docs
        for rule in d["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def test_the_readme_shows_exactly_the_tested_role() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Kubernetes backend") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    shown = [d for d in yaml.safe_load_all(block.group(1)) if d]
    tested = [d for d in yaml.safe_load_all(RBAC_FILE.read_text(encoding="utf-8")) if d]
    assert permissions(shown) == permissions(tested)


def test_a_whole_lifecycle_is_covered_by_the_role(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    kube.add_priority_class("batch")
    backend.submit(render_run("rb1", replicas=2, secret="k", priority_class="batch"))
    pods = [kube.create_pod("rb1", i) for i in range(2)]
    for p in pods:
        kube.running(p)
        cluster.emulator.log(NS, p, "hi")
    backend.status(RunId("rb1"))
    backend.list_runs()
    next(iter(backend.logs(RunId("rb1"), follow=True)))
    backend.cancel(RunId("rb1"))
    list(backend.events(RunId("rb1"), follow=True))
    used = {required_permission(r) for r in backend_requests(cluster.requests)}
    assert {
        ("", "pods/log", "get"),
        ("batch", "jobs", "watch"),
        ("", "pods", "watch"),
        ("batch", "jobs", "delete"),
    } <= used
    assert all(allowed(*p) for p in used), sorted(p for p in used if not allowed(*p))
