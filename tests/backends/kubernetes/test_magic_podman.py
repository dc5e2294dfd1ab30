"""``%%mlrun --backend kubernetes`` from a real IPython shell, through a kubeconfig, against the
emulator with the podman kubelet running the container: what a user with a cluster does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from IPython.core.interactiveshell import InteractiveShell
from IPython.testing.globalipapp import start_ipython

from jupyter_mlres.core.runs import JobPhase
from jupyter_mlres.core.settings import Settings
from jupyter_mlres.kernel.magics import MlresMagics

from .emulator import RunningEmulator
from .helpers import NS, Kube
from .podman_kubelet import IMAGE, PodmanKubelet

pytestmark = [pytest.mark.podman, pytest.mark.slow]


@pytest.fixture
def ip(
    cluster: RunningEmulator, kube: Kube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[InteractiveShell]:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "emu",
                "clusters": [{"name": "emu", "cluster": {"server": cluster.url}}],
                "users": [{"name": "me", "user": {"token": "unused"}}],
                "contexts": [{"name": "emu", "context": {"cluster": "emu", "user": "me", "namespace": NS}}],
            }
        )
    )
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter"))
    monkeypatch.delenv("MLRES_VIEW", raising=False)
    shell = start_ipython()
    assert shell is not None
    shell.run_line_magic("load_ext", "jupyter_mlres")
    magics: MlresMagics = shell.magics_manager.registry["MlresMagics"]
    magics.settings = Settings(kubeconfig=str(kubeconfig), default_image=IMAGE, log_tail_lines=5)
    magics.view = "text"
    magics._runs.clear()
    yield shell
    for backend in list(magics._backends.values()):
        close = getattr(backend, "close", None)
        if close is not None:
            close()
    magics._backends.clear()


def test_mlrun_cell_on_kubernetes(
    ip: InteractiveShell, kube: Kube, podman_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with PodmanKubelet(kube, podman_workdir):
        run = ip.run_cell_magic(
            "mlrun",
            "hello --backend kubernetes --memory 128Mi --handler main",
            "def main():\n    for i in range(3):\n        print('step', i)\n    return {'ok': True}\n",
        )
        assert run.state == JobPhase.SUCCEEDED, run.logs()
        assert run.result == {"ok": True}
        assert run.logs() == "step 0\nstep 1\nstep 2\n"
    out = capsys.readouterr().out
    assert "step 2" in out
    assert "Succeeded" in out
