from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.core.settings import Settings

from .emulator import RunningEmulator
from .helpers import NS, Kube
from .podman_kubelet import podman_unavailable
from .rbac import assert_backend_requests_allowed, assert_manifests_valid


@pytest.fixture
def cluster() -> Iterator[RunningEmulator]:
    """A fresh emulator per test; on teardown every request the backend made must be allowed by
    docs/rbac.yaml and every object it created must pass strict schema validation."""
    with RunningEmulator() as running:
        yield running
        assert_backend_requests_allowed(running.requests)
        assert_manifests_valid(running.requests)


@pytest.fixture
def kube(cluster: RunningEmulator) -> Kube:
    k = Kube(cluster)
    k.add_node("node-a", cpu="8", memory="32Gi")
    return k


@pytest.fixture
def make_backend(cluster: RunningEmulator, tmp_path: Path) -> Iterator[object]:
    made: list[KubernetesBackend] = []

    def make(**kwargs: object) -> KubernetesBackend:
        opts: dict[str, object] = {
            "host": cluster.url,
            "namespace": NS,
            "log_dir": tmp_path / "logs",
            "watch_timeout": 5,
        }
        opts.update(kwargs)
        b = KubernetesBackend(Settings(), **opts)  # type: ignore[arg-type]
        made.append(b)
        return b

    yield make
    for b in made:
        b.close()


@pytest.fixture
def backend(make_backend: object, kube: Kube) -> KubernetesBackend:
    return make_backend()  # type: ignore[operator,no-any-return]


@pytest.fixture(scope="session")
def podman_workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Podman settings for this sandbox, once per session; skips (saying why) without podman."""
    workdir = tmp_path_factory.mktemp("podman")
    reason = podman_unavailable(workdir)
    if reason:
        pytest.skip(reason)
    return workdir
