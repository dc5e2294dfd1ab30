"""The sidebar in a real JupyterLab, driven by a scripted backend in the server."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.helpers import act, cell_source, create_notebook, open_lab, select_cell, show_sidebar
from tests.support.labserver import LabServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)>"


def test_lists_follows_cancels_and_survives_reload(page: Page, lab: LabServer, artifacts: Path) -> None:
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    lab.request("POST", "mlres-test/runs", {"run_id": "prep-data-1", "function": "prep"})
    lab.request("POST", "mlres-test/runs", {"run_id": "train-gpu-7", "function": "train", "replicas": 2})
    act(lab, "prep-data-1", "finish")
    act(lab, "train-gpu-7", "start")
    act(lab, "train-gpu-7", "log", lines=["epoch 1 loss=0.93", XSS])
    act(lab, "train-gpu-7", "log", lines=["rank 1 ready"], replica=1)

    open_lab(page, lab)
    rows = page.locator(".jp-mlres-run")
    expect(rows.first).to_have_attribute("data-run", "fake/train-gpu-7")  # newest first
    expect(page.locator('[data-run="fake/prep-data-1"] .jp-mlres-phase')).to_have_text("Succeeded")
    expect(page.locator('[data-run="fake/train-gpu-7"] .jp-mlres-phase')).to_have_text(["Running", "Running"])
    expect(page.locator(".jp-mlres-unavailable")).to_contain_text("backend 'broken' is unavailable")

    page.locator('[data-run="fake/train-gpu-7"]').click()
    log = page.locator(".jp-mlres-log")
    expect(log).to_contain_text("epoch 1 loss=0.93")
    # Job output is text: the tag is shown literally and never becomes an element.
    expect(log).to_contain_text(XSS)
    assert log.locator("img").count() == 0

    # New lines appear without a reload.
    act(lab, "train-gpu-7", "log", lines=["epoch 2 loss=0.71"])
    expect(log).to_contain_text("epoch 2 loss=0.71")
    # The replica filter shows one replica's lines.
    page.locator(".jp-mlres-replica-filter").select_option("1")
    expect(log).to_have_text("[1] rank 1 ready")
    page.locator(".jp-mlres-replica-filter").select_option("all")
    expect(page.locator(".jp-mlres-events")).to_contain_text("Started")
    page.screenshot(path=str(artifacts / "sidebar-running.png"))

    page.locator(".jp-mlres-cancel").click()
    page.locator(".jp-Dialog").get_by_role("button", name="Cancel run").click()
    expect(page.locator('[data-run="fake/train-gpu-7"] .jp-mlres-phase').first).to_have_text("Cancelled")
    assert lab.request("GET", "mlres/runs/fake/train-gpu-7").json()["run"]["phase"] == "Cancelled"
    expect(page.locator(".jp-mlres-log-status")).to_contain_text("log complete")

    page.reload()
    show_sidebar(page)
    expect(page.locator('[data-run="fake/train-gpu-7"] .jp-mlres-phase').first).to_have_text("Cancelled")
    expect(page.locator('[data-run="fake/prep-data-1"]')).to_be_visible()
    page.screenshot(path=str(artifacts / "sidebar-after-reload.png"))
    assert alerts == []


def test_a_job_that_keeps_printing_is_followed_live(page: Page, lab: LabServer) -> None:
    lab.request("POST", "mlres-test/runs", {"run_id": "drip-1", "function": "drip"})
    act(lab, "drip-1", "start")
    act(lab, "drip-1", "drip", count=1000, interval=0.05)
    open_lab(page, lab)
    page.locator('[data-run="fake/drip-1"]').click()
    log = page.locator(".jp-mlres-log")
    expect(log).to_contain_text("tick 40")
    expect(log).to_contain_text("tick 80")
    act(lab, "drip-1", "finish")
    expect(page.locator(".jp-mlres-log-status")).to_contain_text("log complete")


def test_resources_form_is_built_from_the_server_settings(page: Page, lab: LabServer) -> None:
    open_lab(page, lab)
    form = page.locator(".jp-mlres-form")
    for name in ["cpu", "memory", "gpus", "replicas", "spot", "priority"]:
        expect(form.locator(f'[name="{name}"]')).to_have_count(1)
    expect(form.locator('select[name="spot"] option')).to_have_text(
        ["(default)", "allow", "constrain", "prevent", "none"]
    )


def test_resources_form_rewrites_the_active_cells_magic_line(
    page: Page, lab: LabServer, artifacts: Path
) -> None:
    create_notebook(
        lab,
        "size-me.ipynb",
        ["import numpy as np", "%%mlrun train --cpu 1 --volume pvc:data:/data\nprint('training')"],
    )
    open_lab(page, lab, "size-me.ipynb")
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget?.content?.widgets?.length === 2")
    form = page.locator(".jp-mlres-form")

    select_cell(page, 1)  # selecting a %%mlrun cell fills the form from its line
    expect(page.locator(".jp-mlres-target")).to_contain_text("%%mlrun train --cpu 1")
    expect(form.locator('[name="cpu"]')).to_have_value("1")
    expect(form.locator('[name="memory"]')).to_have_value("")

    form.locator('[name="memory"]').fill("2 GB")  # the server says why this is wrong
    expect(page.locator(".jp-mlres-error")).to_contain_text("--memory")
    expect(form.locator('[name="memory"]')).to_have_class("jp-mlres-invalid")
    expect(page.locator(".jp-mlres-apply")).to_be_disabled()

    form.locator('[name="memory"]').fill("2Gi")
    form.locator('[name="spot"]').select_option("allow")
    expect(page.locator(".jp-mlres-preview")).to_contain_text("memory: 2Gi")
    page.locator(".jp-mlres-apply").click()
    expected = "%%mlrun train --cpu 1 --memory 2Gi --volume pvc:data:/data --spot allow\nprint('training')"
    page.wait_for_function(
        "(want) => window.jupyterapp.shell.currentWidget.content.widgets[1].model.sharedModel.getSource() === want",
        arg=expected,
    )
    assert cell_source(page, 1) == expected
    page.screenshot(path=str(artifacts / "sidebar-resources.png"))

    select_cell(page, 0)  # a cell without the magic: Apply adds one
    expect(page.locator(".jp-mlres-target")).to_contain_text("no %%mlrun line")
    expect(form.locator('[name="cpu"]')).to_have_value("")
    form.locator('[name="gpus"]').fill("1")
    page.locator(".jp-mlres-apply").click()
    page.wait_for_function(
        "() => window.jupyterapp.shell.currentWidget.content.widgets[0].model.sharedModel.getSource().startsWith('%%mlrun')"
    )
    assert cell_source(page, 0) == "%%mlrun --gpus 1\nimport numpy as np"
