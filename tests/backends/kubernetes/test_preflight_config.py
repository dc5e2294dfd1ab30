"""The preflight against the cluster, and where the backend finds its cluster (TLS + token too)."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import pytest
import yaml

from jupyter_mlres.backends.kubernetes import KubernetesBackend
from jupyter_mlres.backends.kubernetes.config import load_cluster_config
from jupyter_mlres.core.errors import BackendUnavailable, SubmitError
from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.core.settings import Settings

from .emulator import RunningEmulator
from .helpers import NS, Kube, render_run


def test_a_request_no_node_can_fit_is_refused_before_submitting(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    kube.add_node("gpu-1", gpus=1, labels={"gpu": "a100"})
    run = render_run("p1", resources={"limits": {"nvidia.com/gpu": "4"}})
    with pytest.raises(
        SubmitError, match=r"could never start.*insufficient nvidia.com/gpu.*nvidia.com/gpu 1"
    ):
        backend.submit(run)
    assert not list(cluster.requests_matching("POST", f"/namespaces/{NS}/"))


def test_node_selector_that_matches_no_node(backend: KubernetesBackend, kube: Kube) -> None:
    with pytest.raises(SubmitError, match="node selector does not match"):
        backend.submit(render_run("p2", node_selector={"pool": "h100"}))


def test_unknown_priority_class_lists_the_existing_ones(backend: KubernetesBackend, kube: Kube) -> None:
    kube.add_priority_class("batch-low")
    kube.add_priority_class("batch-high")
    with pytest.raises(
        SubmitError, match=r"PriorityClass 'urgent' does not exist.*existing: batch-high, batch-low"
    ):
        backend.submit(render_run("p3", priority_class="urgent"))
    assert backend.submit(render_run("p4", priority_class="batch-high")).phase == JobPhase.PENDING


def test_preflight_is_skipped_when_nodes_may_not_be_listed(
    backend: KubernetesBackend, kube: Kube, cluster: RunningEmulator
) -> None:
    cluster.emulator.fail(
        "GET",
        r"/api/v1/nodes$",
        403,
        'nodes is forbidden: User "jovyan" cannot list resource "nodes"',
        times=5,
    )
    backend.submit(render_run("p5", resources={"limits": {"nvidia.com/gpu": "64"}}))
    notes = [e for e in backend.events(render_run("p5").run_id, follow=False) if e.reason == "Preflight"]
    assert notes
    assert "node fit not checked" in notes[0].message
    assert "may not list nodes" in notes[0].message


def test_no_configuration_names_everything_it_tried(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable) as err:
        load_cluster_config(Settings(), env={"HOME": str(tmp_path)})
    text = str(err.value)
    assert f"kubeconfig {tmp_path}/.kube/config: no such file" in text
    assert "in-cluster service account: KUBERNETES_SERVICE_HOST is not set" in text


def test_broken_kubeconfig_and_unknown_context(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(BackendUnavailable, match=r"kubeconfig .*config \(context 'dev'\)"):
        load_cluster_config(Settings(kubeconfig=str(path), kube_context="dev"), env={})


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("tok")
    (sa / "ca.crt").write_text("not checked until a request is made")
    (sa / "namespace").write_text("team-a\n")
    import kubernetes.config.incluster_config as ic

    monkeypatch.setattr(ic, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
    monkeypatch.setattr(ic, "SERVICE_CERT_FILENAME", str(sa / "ca.crt"))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "6443")
    cfg = load_cluster_config(
        Settings(),
        env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "HOME": str(tmp_path)},
        service_account_dir=sa,
    )
    assert (cfg.namespace, cfg.source) == ("team-a", "in-cluster service account")
    assert (
        load_cluster_config(
            Settings(namespace="mine"),
            env={"KUBERNETES_SERVICE_HOST": "x", "HOME": str(tmp_path)},
            service_account_dir=sa,
        ).namespace
        == "mine"
    )


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return key, cert


def test_tls_and_token_through_a_kubeconfig_with_a_named_context(tmp_path: Path) -> None:
    key, cert = _self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with RunningEmulator(token="s3cr3t-token", ssl_context=context, cafile=str(cert)) as cluster:
        Kube(cluster).add_node("n")
        kubeconfig = tmp_path / "kubeconfig"
        kubeconfig.write_text(
            yaml.safe_dump(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "current-context": "other",
                    "clusters": [
                        {
                            "name": "emu",
                            "cluster": {"server": cluster.url, "certificate-authority": str(cert)},
                        }
                    ],
                    "users": [
                        {"name": "me", "user": {"token": "s3cr3t-token"}},
                        {"name": "bad", "user": {"token": "wrong"}},
                    ],
                    "contexts": [
                        {"name": "emu", "context": {"cluster": "emu", "user": "me", "namespace": NS}},
                        {"name": "other", "context": {"cluster": "emu", "user": "bad"}},
                    ],
                }
            )
        )
        good = KubernetesBackend(
            Settings(kubeconfig=str(kubeconfig), kube_context="emu"), log_dir=tmp_path / "logs"
        )
        assert good.namespace == NS
        assert cluster.url.startswith("https://")
        assert good.submit(render_run("t1")).phase == JobPhase.PENDING
        good.close()
        bad = KubernetesBackend(
            Settings(kubeconfig=str(kubeconfig)), log_dir=tmp_path / "logs"
        )  # current context
        assert bad.namespace == "default"
        with pytest.raises(BackendUnavailable, match="credentials"):
            bad.list_runs()
