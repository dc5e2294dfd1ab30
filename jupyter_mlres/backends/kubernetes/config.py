"""Where the Kubernetes backend finds its cluster: explicit host/token, kubeconfig, in-cluster.

Order: an explicit ``host`` wins; else the kubeconfig (``settings.kubeconfig``, ``$KUBECONFIG``
or ``~/.kube/config``, with ``settings.kube_context`` or the current context); else the pod's
service account. When none works, one ``BackendUnavailable`` lists every attempt and why it failed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kubernetes import client, config

from jupyter_mlres.core.errors import BackendUnavailable
from jupyter_mlres.core.settings import Settings

__all__ = ["ClusterConfig", "load_cluster_config"]

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ClusterConfig:
    api_client: client.ApiClient
    namespace: str
    source: str
    """How we got here, e.g. ``kubeconfig /home/me/.kube/config (context dev)``."""


def load_cluster_config(
    settings: Settings,
    *,
    host: str | None = None,
    token: str | None = None,
    ca_file: str | None = None,
    verify_ssl: bool = True,
    env: dict[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> ClusterConfig:
    env = dict(os.environ) if env is None else env
    tried: list[str] = []

    if host:
        cfg = client.Configuration(host=host)
        if token:
            cfg.api_key = {"authorization": f"Bearer {token}"}
        cfg.ssl_ca_cert = ca_file
        cfg.verify_ssl = verify_ssl
        return ClusterConfig(_client(cfg), settings.namespace or "default", f"explicit host {host}")

    kubeconfig = (
        settings.kubeconfig
        or env.get("KUBECONFIG", "").split(os.pathsep)[0]
        or str(Path(env.get("HOME", str(Path.home()))) / ".kube" / "config")
    )
    context_label = f"context {settings.kube_context!r}" if settings.kube_context else "current context"
    if Path(kubeconfig).is_file():
        try:
            cfg = client.Configuration()
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig,
                context=settings.kube_context,
                client_configuration=cfg,
                persist_config=False,
            )
            contexts, current = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            chosen = (
                next((c for c in contexts if c.get("name") == settings.kube_context), current)
                if settings.kube_context
                else current
            )
            ns = settings.namespace or ((chosen or {}).get("context") or {}).get("namespace") or "default"
            return ClusterConfig(_client(cfg), ns, f"kubeconfig {kubeconfig} ({context_label})")
        except Exception as exc:  # the loader raises ConfigException, ValueError, KeyError, OSError...
            tried.append(f"kubeconfig {kubeconfig} ({context_label}): {exc}")
    else:
        tried.append(f"kubeconfig {kubeconfig}: no such file")

    if env.get("KUBERNETES_SERVICE_HOST"):
        try:
            cfg = client.Configuration()
            config.load_incluster_config(client_configuration=cfg)  # type: ignore[no-untyped-call]
            ns_file = service_account_dir / "namespace"
            ns = settings.namespace or (ns_file.read_text().strip() if ns_file.is_file() else "default")
            return ClusterConfig(_client(cfg), ns, "in-cluster service account")
        except Exception as exc:
            tried.append(f"in-cluster service account: {exc}")
    else:
        tried.append("in-cluster service account: KUBERNETES_SERVICE_HOST is not set (not running in a pod)")

    raise BackendUnavailable(
        "no usable Kubernetes configuration; tried: "
        + "; ".join(tried)
        + ". Set Settings.kubeconfig / kube_context, $KUBECONFIG, or pass host= and token=."
    )


def _client(cfg: client.Configuration) -> client.ApiClient:
    # we retry 429/5xx ourselves with a bound (KubeApi); urllib3's own retries would multiply it
    cfg.retries = 0
    return client.ApiClient(cfg)
