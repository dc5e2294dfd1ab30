"""Opening the resource panel from the magics: ``%%mlrun --panel`` and ``%mlrun panel``."""

from __future__ import annotations

from IPython.core.interactiveshell import InteractiveShell

from jupyter_mlres.kernel.magics import MlresMagics
from jupyter_mlres.testing import FakeBackend
from jupyter_mlres.widgets.panel import ResourcePanel

BODY = "print('scaled', factor * 2)\n"


def test_cell_panel_starts_from_the_line_and_binds_the_cell(ip: InteractiveShell) -> None:
    ip.user_ns["factor"] = 21
    panel = ip.run_cell_magic("mlrun", "train --cpu 2 --spot allow --panel", BODY)
    assert isinstance(panel, ResourcePanel)
    assert panel.cpu.request.value == "2"
    assert panel.spot.value == "allow"
    assert panel.magic() == "%%mlrun train --cpu 2 --spot allow"
    assert panel.function is not None
    assert BODY in (panel.function.spec.code or "")


def test_line_panel_edits_the_last_cell(ip: InteractiveShell, capsys: object) -> None:
    ip.run_cell_magic("mlrun", "train --cpu 1 --dry-run", "print('hi')\n")
    panel = ip.run_line_magic("mlrun", "panel --memory 2Gi")
    assert isinstance(panel, ResourcePanel)
    assert panel.cpu.request.value == "1"
    assert panel.memory.request.value == "2Gi"
    assert panel.function is not None
    assert "print('hi')" in (panel.function.spec.code or "")


def test_panel_run_goes_through_the_magics(
    ip: InteractiveShell, magics: MlresMagics, fake: FakeBackend
) -> None:
    ip.user_ns["factor"] = 21
    panel = ip.run_cell_magic("mlrun", "train --cpu 2 --backend fake --panel", BODY)
    run = panel.run()
    assert run is not None
    assert len(fake.submitted) == 1
    assert (
        fake.submitted[0].manifests[-1]["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"][
            "cpu"
        ]
        == "2"
    )
    assert run.name in magics._runs, "%mlrun attach / jobs know the panel's runs"
    fake.finish(run.name)
    assert run.wait(timeout=10) == "Succeeded"
