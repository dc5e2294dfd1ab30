"""Page helpers for the JupyterLab browser tests (uses ``window.jupyterapp``, exposed by the
test config, so the tests wait on Lab's own promises instead of racing its layout restorer)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Dialog, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.support.labserver import LabServer

SIDEBAR = "jupyter-mlres-sidebar"


def act(lab: LabServer, run_id: str, action: str, **body: object) -> None:
    reply = lab.request("POST", f"mlres-test/runs/{run_id}/{action}", body)
    assert reply.status == 200, reply.text


def record_alerts(page: Page) -> list[str]:
    """Messages of every alert/confirm/prompt the page opens (an XSS would show up here)."""
    alerts: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        if dialog.type == "beforeunload":  # a notebook with unsaved changes, on reload
            dialog.accept()
            return
        alerts.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return alerts


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


# The notebook panel open on `path` (the shell's current widget can be a side panel).
NOTEBOOK = (
    "Array.from(window.jupyterapp.shell.widgets('main')).find(w => w.context && w.context.path === path)"
)


def wait_kernel_idle(page: Page, path: str) -> None:
    """Shift+Enter while the kernel starts is dropped silently: wait for a connected, idle kernel.

    (Predicates are synchronous: wait_for_function takes a returned Promise as truthy.)"""
    page.wait_for_function(
        f"""(path) => {{
            const panel = {NOTEBOOK};
            const kernel = panel && panel.sessionContext.session && panel.sessionContext.session.kernel;
            return !!kernel && kernel.status === 'idle' && kernel.connectionStatus === 'connected';
        }}""",
        arg=path,
        timeout=60_000,
    )


def wait_notebook(page: Page, path: str, cells: int) -> None:
    page.wait_for_function(f"(path) => {NOTEBOOK}?.content?.widgets?.length === {cells}", arg=path)


def select_cell(page: Page, path: str, index: int) -> None:
    """Make ``path`` the current notebook and cell ``index`` its active cell."""
    page.evaluate(
        f"""(path) => {{
            const panel = {NOTEBOOK};
            window.jupyterapp.shell.activateById(panel.id);
            panel.content.activeCellIndex = {index};
        }}""",
        path,
    )


def wait_cell_source(page: Page, path: str, index: int, want: str) -> None:
    page.wait_for_function(
        f"([path, want]) => {NOTEBOOK}.content.widgets[{index}].model.sharedModel.getSource() === want",
        arg=[path, want],
    )


def command(page: Page, name: str, args: dict[str, Any] | None = None) -> None:
    page.evaluate("([n, a]) => window.jupyterapp.commands.execute(n, a)", [name, args or {}])


def run_cell(page: Page, path: str, index: int, *, retry: bool = False) -> None:
    """Run one cell. With ``retry`` (only for idempotent cells) run it again while no count shows:
    a run requested while the kernel is still connecting can be dropped silently."""
    for _ in range(5 if retry else 1):
        select_cell(page, path, index)
        command(page, "notebook:run-cell")
        try:
            page.wait_for_function(
                f"(path) => {NOTEBOOK}.content.widgets[{index}].model.executionCount !== null",
                arg=path,
                timeout=15_000,
            )
            return
        except PlaywrightTimeoutError:
            if not retry:
                raise
    raise AssertionError(f"cell {index} of {path} never ran")


def widen_sidebar(page: Page, width: int) -> None:
    """Drag the left panel's edge to ``width`` pixels (for readable screenshots)."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(width, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
