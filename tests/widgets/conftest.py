"""An example cluster's settings and a panel on it, shared by the widget tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from jupyter_mlres.backends import registry
from jupyter_mlres.core.settings import GpuModel, ResourceDefaults, Settings
from jupyter_mlres.testing import FakeBackend
from jupyter_mlres.widgets.panel import ResourcePanel

SPOT_TOLERATION = {"key": "spot", "operator": "Exists", "effect": "NoSchedule"}


@pytest.fixture
def cluster() -> Settings:
    return Settings(
        default_image="python:3.11-slim",
        default_resources=ResourceDefaults(
            requests={"cpu": "500m", "memory": "1Gi"}, limits={"memory": "4Gi"}
        ),
        preemptible_node_selector={"node-lifecycle": "spot"},
        preemptible_tolerations=[SPOT_TOLERATION],
        default_preemption_mode="prevent",
        priority_classes={"high": "prio-high", "medium": "prio-medium", "low": "prio-low"},
        allowed_priority_classes=["batch-overnight"],
        gpu_models={"a100": GpuModel({"gpu.example.com/model": "A100"}, description="NVIDIA A100 80GB")},
    )


@pytest.fixture
def fake_backend(cluster: Settings) -> Iterator[FakeBackend]:
    fake = FakeBackend(cluster)
    registry.register_backend("fake", lambda _settings: fake)
    yield fake
    registry._registered.pop("fake", None)


@pytest.fixture
def make_panel(cluster: Settings) -> Callable[..., ResourcePanel]:
    def make(**kwargs: object) -> ResourcePanel:
        kwargs.setdefault("settings", cluster)
        kwargs.setdefault("code", "print('hello')\n")
        kwargs.setdefault("backends", ["local", "fake"])
        return ResourcePanel(**kwargs)  # type: ignore[arg-type]

    return make
