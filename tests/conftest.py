"""Suite-wide test configuration."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

# CI runs on two shared cores: a wall-clock deadline per example measures the machine, not the
# code. Performance is measured in benchmarks/, never asserted here.
settings.register_profile(
    "mlres", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("mlres")
