"""Jupyter Server extension: the REST API behind the JupyterLab sidebar (``<base_url>/mlres/``).

Enabled on install by ``etc/jupyter/jupyter_server_config.d/jupyter_mlres.json``. Job defaults come
from :func:`jupyter_mlres.config.load_settings`; the API's own knobs are ``c.MlresServer.*``.
"""

from __future__ import annotations

import importlib
from typing import Any

from jupyter_mlres.core.settings import Settings

__all__ = ["load_settings"]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "jupyter_mlres.server"}]


def load_settings(config: Any = None) -> Settings:
    """Settings from ``jupyter_mlres.config`` (config files, environment), or the defaults."""
    try:
        module = importlib.import_module("jupyter_mlres.config")
    except ImportError:
        return Settings()
    loader = module.load_settings
    try:
        settings: Settings = loader(config=config)
    except TypeError:
        settings = loader()
    return settings


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from jupyter_server.utils import url_path_join

    from jupyter_mlres.backends.registry import create_backend
    from jupyter_mlres.server.config import MlresServer
    from jupyter_mlres.server.handlers import MlresState, route_table
    from jupyter_mlres.server.service import RunService, default_backend_names

    config = MlresServer(config=serverapp.config, parent=serverapp)
    settings = load_settings(serverapp.config)
    names = list(config.backends) if config.backends is not None else default_backend_names(settings)
    state = MlresState(service=RunService(settings, names, create_backend), config=config)
    web_app = serverapp.web_app
    web_app.settings["mlres"] = state
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", [(url_path_join(base_url, path), h) for path, h in route_table()])
    serverapp.log.info("jupyter_mlres: sidebar API at %smlres/ (backends: %s)", base_url, ", ".join(names))
