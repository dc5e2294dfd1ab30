"""Thin tornado handlers: read arguments, call :class:`RunService` off the IO loop, write JSON.

Every handler is behind Jupyter's authentication (and XSRF for POST/DELETE). Errors are JSON with a
``message``: ``SpecError`` 400 (with ``path``/``value``/``allowed``), ``RunNotFound`` 404,
``RunNotFinished`` 409, ``BackendUnavailable`` 503, other backend errors 502, anything unexpected 500 with a one-line
message (never a traceback).
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from jupyter_server.base.handlers import APIHandler
from tornado import web
from tornado.iostream import StreamClosedError

from jupyter_mlres.backends.registry import available_backends
from jupyter_mlres.core.errors import (
    BackendError,
    BackendUnavailable,
    MlresError,
    RunNotFinished,
    RunNotFound,
    SpecError,
)
from jupyter_mlres.core.runs import RunStatus
from jupyter_mlres.server import preview
from jupyter_mlres.server.config import MlresServer
from jupyter_mlres.server.follow import LogPump
from jupyter_mlres.server.form import form_json
from jupyter_mlres.server.schemas import (
    RunJson,
    event_json,
    log_line_json,
    log_text,
    run_json,
    spec_error_json,
)
from jupyter_mlres.server.service import RunService, describe_error

__all__ = ["MlresState", "route_table"]

_T = TypeVar("_T")
HEARTBEAT_SECONDS = 15.0
BATCH_SECONDS = 0.2


@dataclass
class MlresState:
    """What the handlers share, stored in the tornado settings under ``"mlres"``."""

    service: RunService
    config: MlresServer
    executor: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="mlres-api")
    )
    follow_streams: int = 0


Method = Callable[..., Coroutine[Any, Any, None]]


def api_errors(method: Method) -> Method:
    """Turn our error tree into status codes with a JSON body."""

    @functools.wraps(method)
    async def wrapper(self: MlresHandler, *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except web.HTTPError:
            raise
        except SpecError as error:
            self.fail(400, spec_error_json(error, preview.field_for_path(error.path)))
        except RunNotFound as error:
            self.fail(404, {"message": str(error)})
        except RunNotFinished as error:
            self.fail(409, {"message": str(error)})
        except BackendUnavailable as error:
            self.fail(503, {"message": str(error)})
        except BackendError as error:
            self.fail(502, {"message": str(error)})
        except MlresError as error:
            self.fail(400, {"message": str(error)})
        except StreamClosedError:
            pass  # the browser went away mid-stream
        except Exception as error:
            self.log.exception("jupyter_mlres: unexpected error in %s", self.request.path)
            self.fail(500, {"message": f"internal error in jupyter_mlres: {describe_error(error)}"})

    return wrapper


class MlresHandler(APIHandler):
    @property
    def mlres(self) -> MlresState:
        state: MlresState = self.settings["mlres"]
        return state

    async def blocking(self, fn: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.mlres.executor, functools.partial(fn, *args, **kwargs))

    def run_json(self, status: RunStatus) -> RunJson:
        return run_json(status, str(self.settings.get("server_root_dir", "")))

    def fail(self, status: int, body: dict[str, Any]) -> None:
        if self._headers_written:
            self.log.warning("jupyter_mlres: error after streaming began: %s", body.get("message"))
            if not self._finished:
                self.finish()
            return
        self.clear()
        self.set_status(status)
        self.finish(json.dumps(body))

    def int_argument(self, name: str, default: int | None, *, minimum: int = 0) -> int | None:
        raw = self.get_query_argument(name, None)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SpecError(name, raw, f"an integer >= {minimum}", reason="not an integer") from None
        if value < minimum:
            raise SpecError(name, value, f"an integer >= {minimum}")
        return value

    def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(self.request.body or b"{}")
        except ValueError as error:
            raise SpecError("body", "<unparsable>", "a JSON object", reason=str(error)) from None
        if not isinstance(body, dict):
            raise SpecError("body", type(body).__name__, "a JSON object")
        return body


class RunsHandler(MlresHandler):
    @web.authenticated
    @api_errors
    async def get(self) -> None:
        runs, states = await self.blocking(self.mlres.service.list_runs)
        self.finish(
            json.dumps(
                {
                    "runs": [self.run_json(r) for r in runs],
                    "backends": [
                        {"name": s.name, "available": s.available, "error": s.error} for s in states
                    ],
                }
            )
        )


class RunHandler(MlresHandler):
    @web.authenticated
    @api_errors
    async def get(self, backend: str, run_id: str) -> None:
        service = self.mlres.service
        status = await self.blocking(service.status, backend, run_id)
        events = await self.blocking(service.events, backend, run_id)
        self.finish(json.dumps({"run": self.run_json(status), "events": [event_json(e) for e in events]}))

    @web.authenticated
    @api_errors
    async def delete(self, backend: str, run_id: str) -> None:
        await self.blocking(self.mlres.service.delete, backend, run_id)
        self.finish(json.dumps({"deleted": run_id}))


class CancelHandler(MlresHandler):
    @web.authenticated
    @api_errors
    async def post(self, backend: str, run_id: str) -> None:
        status = await self.blocking(self.mlres.service.cancel, backend, run_id)
        self.finish(json.dumps({"run": self.run_json(status)}))


class LogHandler(MlresHandler):
    """``?tail=N`` the last lines, ``?offset=K`` a page from K, ``?download=1`` the full log as text."""

    @web.authenticated
    @api_errors
    async def get(self, backend: str, run_id: str) -> None:
        service = self.mlres.service
        if self.get_query_argument("download", "") in ("1", "true"):
            await self._download(backend, run_id)
            return
        limit = self.mlres.config.log_page_lines
        tail = self.int_argument("tail", None)
        offset = self.int_argument("offset", 0) or 0
        page, next_offset = await self.blocking(
            service.log_page, backend, run_id, offset=offset, tail=tail, limit=limit
        )
        self.finish(
            json.dumps({"lines": [log_line_json(o, line) for o, line in page], "next_offset": next_offset})
        )

    async def _download(self, backend: str, run_id: str) -> None:
        service = self.mlres.service
        await self.blocking(service.status, backend, run_id)  # 404 before any byte is sent
        lines = await self.blocking(service.full_log, backend, run_id)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{run_id}.log"')
        chunk_lines = 2000

        def next_chunk() -> str:
            return "".join(log_text(line) for _, line in zip(range(chunk_lines), lines, strict=False))

        while chunk := await self.blocking(next_chunk):
            self.write(chunk)
            await self.flush()
        self.finish(set_content_type="text/plain; charset=utf-8")


class LogFollowHandler(MlresHandler):
    """Server-sent events: ``lines`` batches from ``?offset=K`` (or the last ``?tail=N`` lines),
    then ``end`` with ``reason`` ``finished`` (run over, log drained) or ``limit`` (reconnect from
    ``next_offset``)."""

    pump: LogPump | None = None

    @web.authenticated
    @api_errors
    async def get(self, backend: str, run_id: str) -> None:
        state = self.mlres
        service = state.service
        offset = self.int_argument("offset", 0) or 0
        tail = self.int_argument("tail", None)
        await self.blocking(service.status, backend, run_id)  # errors as JSON, before streaming
        first: list[dict[str, Any]] = []
        if tail is not None:
            page, offset = await self.blocking(
                service.log_page, backend, run_id, tail=tail, limit=state.config.log_page_lines
            )
            first = [dict(log_line_json(o, line)) for o, line in page]
        if state.follow_streams >= state.config.max_follow_streams:
            raise BackendUnavailable(
                f"too many log streams open ({state.follow_streams}); close a log view and retry"
            )
        state.follow_streams += 1
        try:
            await self._stream(backend, run_id, offset, first)
        finally:
            state.follow_streams -= 1
            if self.pump is not None:
                self.pump.close()

    async def _stream(self, backend: str, run_id: str, offset: int, first: list[dict[str, Any]]) -> None:
        config = self.mlres.config
        service = self.mlres.service
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("Cache-Control", "no-cache")
        self.set_header("X-Accel-Buffering", "no")
        self.pump = pump = LogPump(lambda stop: service.follow_log(backend, run_id, offset, stop))
        pump.start()
        next_offset = offset
        if first:
            next_offset = int(first[-1]["offset"]) + 1
            await self._event("lines", {"lines": first, "next_offset": next_offset})
        else:
            await self._comment("open")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + config.follow_max_seconds
        quiet_since = loop.time()
        sent = 0
        while not pump.stop.is_set():  # set when the browser goes away
            batch, done, error = pump.drain(config.follow_batch_lines)
            if batch:
                next_offset = batch[-1][0] + 1
                sent += len(batch)
                lines = [log_line_json(o, line) for o, line in batch]
                await self._event("lines", {"lines": lines, "next_offset": next_offset})
                quiet_since = loop.time()
                continue
            if error is not None:
                await self._event("error", {"message": describe_error(error), "next_offset": next_offset})
                break
            if done:
                await self._event("end", {"reason": "finished", "next_offset": next_offset})
                break
            if sent >= config.follow_max_lines or loop.time() >= deadline:
                await self._event("end", {"reason": "limit", "next_offset": next_offset})
                break
            if loop.time() - quiet_since >= HEARTBEAT_SECONDS:
                await self._comment("keepalive")
                quiet_since = loop.time()
            await asyncio.sleep(BATCH_SECONDS)
        if not pump.stop.is_set():
            self.finish(set_content_type="text/event-stream")

    async def _event(self, name: str, data: dict[str, Any]) -> None:
        self.write(f"event: {name}\ndata: {json.dumps(data)}\n\n")
        await self.flush()

    async def _comment(self, text: str) -> None:
        self.write(f": {text}\n\n")
        await self.flush()

    def on_connection_close(self) -> None:
        if self.pump is not None:
            self.pump.close()


class PreviewHandler(MlresHandler):
    """Body ``{"line": "%%mlrun ...", "values": {...}, "code": "..."}``: parse the line, apply the
    form's values, validate, and answer the canonical line, the values and the YAML preview."""

    @web.authenticated
    @api_errors
    async def post(self) -> None:
        body = self.json_body()
        line = body.get("line", "")
        if not isinstance(line, str):
            raise SpecError("line", line, "a %%mlrun line as a string")
        values = body.get("values") or {}
        if not isinstance(values, dict):
            raise SpecError("values", values, "an object of form values")
        code = body.get("code", "")
        if not isinstance(code, str):
            raise SpecError("code", code, "the cell's code as a string")
        settings = self.mlres.service.settings
        result = await self.blocking(preview.preview, settings, line, values, code)
        self.finish(json.dumps(result))


class SettingsHandler(MlresHandler):
    @web.authenticated
    @api_errors
    async def get(self) -> None:
        service = self.mlres.service
        body = form_json(service.settings, service.names, available_backends())
        self.finish(json.dumps(body))


_RUN = r"/mlres/runs/(?P<backend>[A-Za-z0-9_.-]+)/(?P<run_id>[A-Za-z0-9_.-]+)"


def route_table() -> list[tuple[str, type[MlresHandler]]]:
    """URL patterns relative to the server's base URL."""
    return [
        (r"/mlres/runs", RunsHandler),
        (_RUN, RunHandler),
        (_RUN + r"/log", LogHandler),
        (_RUN + r"/log/follow", LogFollowHandler),
        (_RUN + r"/cancel", CancelHandler),
        (r"/mlres/preview", PreviewHandler),
        (r"/mlres/settings", SettingsHandler),
    ]
