"""Traitlets configuration of the server extension (``c.MlresServer.*`` in jupyter_server_config)."""

from __future__ import annotations

from traitlets import Float, Int, List, Unicode
from traitlets.config import Configurable

__all__ = ["MlresServer"]


class MlresServer(Configurable):
    """The sidebar's REST API. Job defaults themselves come from ``jupyter_mlres.config``."""

    backends = List(
        Unicode(),
        default_value=None,
        allow_none=True,
        help="Backends whose runs the sidebar lists. None: local, kubernetes when a kubeconfig "
        "or in-cluster account is there, and the settings' default backend.",
    ).tag(config=True)

    follow_max_seconds = Float(
        300.0, help="Longest a log follow stream stays open; the sidebar then reconnects from its offset."
    ).tag(config=True)

    follow_max_lines = Int(
        20000, help="Most log lines one follow stream sends before asking the client to reconnect."
    ).tag(config=True)

    follow_batch_lines = Int(500, help="Most log lines in one server-sent event.").tag(config=True)

    max_follow_streams = Int(
        32, help="Concurrent log follow streams; more are refused with 503 (each holds a thread)."
    ).tag(config=True)

    log_page_lines = Int(5000, help="Most log lines one GET of a log returns.").tag(config=True)
