"""Page helpers for the JupyterLab browser tests (uses ``window.jupyterapp``, exposed by the
test config, so the tests wait on Lab's own promises instead of racing its layout restorer)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from tests.support.labserver import LabServer

SIDEBAR = "jupyter-mlres-sidebar"


def act(lab: LabServer, run_id: str, action: str, **body: object) -> None:
    reply = lab.request("POST", f"mlres-test/runs/{run_id}/{action}", body)
    assert reply.status == 200, reply.text


def wait_for_app(page: Page) -> None:
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate("async () => { await window.jupyterapp.restored; }")


def show_sidebar(page: Page) -> None:
    wait_for_app(page)
    page.evaluate(f"() => window.jupyterapp.shell.activateById('{SIDEBAR}')")
    expect(page.locator(f"#{SIDEBAR}")).to_be_visible()


def open_lab(page: Page, lab: LabServer, path: str = "") -> None:
    suffix = f"/tree/{path}" if path else ""
    page.goto(f"{lab.url}lab{suffix}?token={lab.token}")
    show_sidebar(page)


def create_notebook(lab: LabServer, path: str, cells: list[str]) -> None:
    content = {
        "cells": [
            {"cell_type": "code", "source": src, "metadata": {}, "outputs": [], "execution_count": None}
            for src in cells
        ],
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    reply = lab.request("PUT", f"api/contents/{path}", {"type": "notebook", "content": content})
    assert reply.status in (200, 201), reply.text


def wait_kernel_idle(page: Page) -> None:
    """Shift+Enter while the kernel starts is dropped silently: wait for a ready, idle kernel."""
    page.wait_for_function(
        """async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            if (!panel || !panel.sessionContext) { return false; }
            await panel.sessionContext.ready;
            const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
            return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
        }""",
        timeout=60_000,
    )


def select_cell(page: Page, index: int) -> None:
    page.evaluate(f"() => {{ window.jupyterapp.shell.currentWidget.content.activeCellIndex = {index}; }}")


def cell_source(page: Page, index: int) -> str:
    source: str = page.evaluate(
        f"() => window.jupyterapp.shell.currentWidget.content.widgets[{index}].model.sharedModel.getSource()"
    )
    return source


def command(page: Page, name: str, args: dict[str, Any] | None = None) -> None:
    page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])
