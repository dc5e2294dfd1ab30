from __future__ import annotations

import pytest

from jupyter_mlres import Settings


@pytest.fixture
def spot_settings() -> Settings:
    """A cluster with spot nodes (labelled and tainted), priority classes and service defaults."""
    return Settings.from_dict(
        {
            "preemptible_node_selector": {"app.iguazio.com/lifecycle": "preemptible"},
            "preemptible_tolerations": [
                {
                    "key": "app.iguazio.com/lifecycle",
                    "operator": "Equal",
                    "value": "preemptible",
                    "effect": "NoSchedule",
                }
            ],
            "priority_classes": {
                "high": "igz-workload-high",
                "medium": "igz-workload-medium",
                "low": "igz-workload-low",
            },
            "allowed_priority_classes": ["default-priority"],
            "default_resources": {
                "requests": {"cpu": "250m", "memory": "512Mi"},
                "limits": {"memory": "4Gi"},
            },
            "gpu_models": {
                "a100": {"node_selector": {"nvidia.com/gpu.product": "NVIDIA-A100-SXM4-80GB"}},
                "h100": {"node_selector": {"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3"}},
            },
        }
    )
