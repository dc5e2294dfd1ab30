"""load_settings: config files < passed Config < environment < keyword arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
from traitlets.config import Config

import jupyter_mlres
from jupyter_mlres import SpecError
from jupyter_mlres.config import MlresConfig, load_settings


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    (tmp_path / "jupyter_mlres_config.json").write_text(
        '{"MlresConfig": {"namespace": "from-json", "default_image": "json:1"}}', encoding="utf-8"
    )
    (tmp_path / "jupyter_mlres_config.py").write_text(
        "c.MlresConfig.namespace = 'from-py'\n"
        "c.MlresConfig.preemptible_node_selector = {'node-lifecycle': 'spot'}\n"
        "c.MlresConfig.default_resources = {'requests': {'cpu': '500m'}}\n",
        encoding="utf-8",
    )
    return tmp_path


def test_precedence(config_dir: Path) -> None:
    settings = load_settings(config_paths=[str(config_dir)], env={})
    assert settings.namespace == "from-py"  # .py over .json
    assert settings.default_image == "json:1"
    assert settings.preemptible_node_selector == {"node-lifecycle": "spot"}
    assert settings.default_resources.requests == {"cpu": "500m"}

    passed = Config({"MlresConfig": {"namespace": "from-config"}})
    assert load_settings(config=passed, config_paths=[str(config_dir)], env={}).namespace == "from-config"
    env = {"MLRES_NAMESPACE": "from-env"}
    assert load_settings(config=passed, config_paths=[str(config_dir)], env=env).namespace == "from-env"
    assert (
        load_settings(config_paths=[str(config_dir)], env=env, namespace="explicit").namespace == "explicit"
    )


def test_user_directory_wins_over_system(tmp_path: Path, config_dir: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "jupyter_mlres_config.py").write_text("c.MlresConfig.namespace = 'user'\n", encoding="utf-8")
    assert load_settings(config_paths=[str(user), str(config_dir)], env={}).namespace == "user"


def test_bad_values_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(SpecError):
        load_settings(config=Config({"MlresConfig": {"backoff_limit": "x"}}), config_paths=[], env={})
    with pytest.raises(SpecError) as err:
        load_settings(config_paths=[], env={}, default_preemption_mode="often")
    assert err.value.path == "settings.default_preemption_mode"


def test_traits_are_configurable() -> None:
    traits = MlresConfig.class_traits(config=True)
    assert {"default_image", "preemptible_node_selector", "default_resources", "gpu_models"} <= set(traits)


def test_load_settings_is_exported_lazily() -> None:
    assert jupyter_mlres.load_settings is load_settings
