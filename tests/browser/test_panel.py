"""The resource panel in a real JupyterLab: open it from a cell, edit, watch the preview, run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import command, create_notebook, open_lab
from tests.support.labserver import LabServer, lab_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CELL = """%%mlrun hello --cpu 1 --panel
print("hello from the panel")
"""
# An example cluster for the kernel (read by jupyter_mlres.config from MLRES_* variables).
CLUSTER_ENV = {
    "MLRES_TEST_BACKENDS": "local",
    "MLRES_PREEMPTIBLE_NODE_SELECTOR": json.dumps({"node-lifecycle": "spot"}),
    "MLRES_PREEMPTIBLE_TOLERATIONS": json.dumps(
        [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]
    ),
}


@pytest.fixture(scope="module")
def panel_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    with lab_server(tmp_path_factory.mktemp("jupyter-lab-panel"), app="lab", env=CLUSTER_ENV) as server:
        yield server


def run_all(page: Page, attempts: int = 3) -> None:
    """Run all cells of the open notebook once it is loaded and its kernel idle. A request sent
    while the kernel still settles is dropped: check the first prompt and ask again if needed."""
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    expect(cells.first).to_be_visible(timeout=120_000)
    expect(page.get_by_text("Python 3 (ipykernel) | Idle")).to_be_visible(timeout=120_000)
    for _ in range(attempts):
        cells.first.locator(".jp-InputPrompt").click()  # makes this notebook the current one
        command(page, "notebook:run-all-cells")
        try:
            expect(cells.first.locator(".jp-InputPrompt")).to_have_text("[1]:", timeout=20_000)
            return
        except AssertionError:
            continue
    raise AssertionError("the notebook's cells never ran")


def test_panel_edit_preview_and_run(page: Page, panel_lab: LabServer, artifacts: Path) -> None:
    create_notebook(panel_lab, "panel.ipynb", ["%load_ext jupyter_mlres", CELL])
    open_lab(page, panel_lab, "panel.ipynb")
    run_all(page)

    panel = page.locator(".mlres-panel")
    expect(panel).to_be_visible(timeout=60_000)
    preview = panel.locator("pre.mlres-preview")
    expect(preview).to_contain_text('cpu: "1"  # user')
    expect(preview).to_contain_text("spot mode prevent (service default)")

    cpu = panel.locator(".mlres-cpu-request input")
    expect(cpu).to_have_value("1")
    cpu.fill("2")
    cpu.press("Enter")
    expect(preview).to_contain_text('cpu: "2"  # user')
    expect(panel.locator(".mlres-changed", has_text='cpu: "2"')).to_have_count(1)

    panel.locator(".mlres-spot select").select_option(label="allow")
    expect(preview).to_contain_text("- key: spot  # spot mode allow")
    expect(preview).not_to_contain_text("NotIn")
    expect(panel.locator(".mlres-explain", has_text="May run on spot nodes")).to_be_visible()

    # An invalid value: inline message, banner, Run disabled; fixing it brings Run back.
    cpu.fill("2 GB")
    cpu.press("Enter")
    expect(panel.locator(".mlres-banner")).to_contain_text("invalid:")
    expect(panel.locator(".mlres-error", has_text="2 GB")).to_be_visible()
    expect(panel.locator(".mlres-run")).to_be_disabled()
    cpu.fill("2")
    cpu.press("Enter")
    expect(panel.locator(".mlres-run")).to_be_enabled()

    panel.locator(".mlres-copy").click()
    expect(panel.locator(".mlres-magic input")).to_have_value("%%mlrun hello --cpu 2 --spot allow")

    panel.locator(".mlres-run").click()
    expect(panel.locator(".mlres-job-view")).to_contain_text("Succeeded", timeout=90_000)
    page.screenshot(path=str(artifacts / "panel.png"), full_page=True)
