"""kmock's KubernetesEmulator plus the API-server behaviour our backend relies on.

kmock (PyPI) serves a real HTTP Kubernetes API with an in-memory object store (create/409, get,
merge-patch, delete, request recording). This layer adds what it lacks: uid/resourceVersion/
creationTimestamp on every write, a per-resource history so watches resume from a
resourceVersion (and get ``ERROR 410`` once it is compacted away), label and field selectors on
list/watch, ``timeoutSeconds``, ``kind`` on lists, owner-reference garbage collection, bearer-token
auth, scripted ``pods/log`` (follow, timestamps, sinceTime) and injected faults.

It runs in a background thread with its own event loop: the backend under test uses the
synchronous official client. Test code talks to it through thread-safe methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import aiohttp.test_utils
import aiohttp.web
import kmock
from kmock._internal import enums, rendering

KINDS = {
    "pods": "Pod",
    "jobs": "Job",
    "configmaps": "ConfigMap",
    "secrets": "Secret",
    "services": "Service",
    "nodes": "Node",
    "priorityclasses": "PriorityClass",
}


def rfc3339_nanos(ns: int) -> str:
    seconds, frac = divmod(ns, 1_000_000_000)
    base = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{frac:09d}Z"


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(
    code: int, reason: str, message: str, details: dict[str, Any] | None = None
) -> aiohttp.web.Response:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": code}
    body.update(reason=reason, message=message, details=details or {})
    return aiohttp.web.json_response(body, status=code)


def match_labels(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in re.split(r",(?![^()]*\))", selector or ""))):
        if m := re.fullmatch(r"(\S+?)\s+(in|notin)\s+\((.*)\)", term):
            values = {v.strip() for v in m.group(3).split(",")}
            present = m.group(1) in labels and labels[m.group(1)] in values
            if present != (m.group(2) == "in"):
                return False
        elif "!=" in term:
            k, v = term.split("!=", 1)
            if labels.get(k.strip()) == v.strip():
                return False
        elif "=" in term:
            k, v = term.replace("==", "=").split("=", 1)
            if labels.get(k.strip()) != v.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def match_fields(selector: str, obj: dict[str, Any]) -> bool:
    meta = obj.get("metadata") or {}
    for term in filter(None, (t.strip() for t in (selector or "").split(","))):
        key, _, value = term.replace("==", "=").partition("=")
        if key == "metadata.name" and meta.get("name") != value:
            return False
        if key == "metadata.namespace" and meta.get("namespace") != value:
            return False
    return True


@dataclass
class _Log:
    lines: list[tuple[int, str]] = field(default_factory=list)  # (nanos, text)
    closed: bool = False
    cut_next: bool = False


@dataclass
class Fault:
    method: str
    path: re.Pattern[str]
    status: int
    body: dict[str, Any]
    times: int
    headers: dict[str, str]


class Emulator(kmock.KubernetesEmulator):  # type: ignore[misc]
    """The kmock emulator with the gaps filled (see the module docstring)."""

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self.token: str | None = None
        self.rv = 0
        self.compacted = 0
        self.history: list[tuple[int, Any, str, dict[str, Any]]] = []  # (rv, resource, type, obj)
        self.logs: dict[tuple[str, str], _Log] = {}
        self.faults: list[Fault] = []
        self.watch_generation = 0
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tick: asyncio.Event | None = None
        self.open_watches = 0
        self.closing = False
        self.gone_sent = 0

    # -- thread-safe controls for tests -------------------------------------------------------------
    def notify(self) -> None:
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody to wake
                loop.call_soon_threadsafe(self._wake)

    def _wake(self) -> None:
        if self._tick is not None:
            self._tick.set()
        self._tick = asyncio.Event()

    def drop_watches(self) -> None:
        """End every open watch stream now (as a server restart or load balancer would)."""
        with self.lock:
            self.watch_generation += 1
        self.notify()

    def compact(self) -> None:
        """Forget history: watches from an older resourceVersion get ``410 Gone``."""
        with self.lock:
            self.compacted = self.rv
            self.history.clear()

    def fail(
        self,
        method: str,
        path: str,
        status: int,
        message: str = "",
        *,
        reason: str = "",
        details: dict[str, Any] | None = None,
        times: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``times`` requests matching ``method`` and the ``path`` regex with an error."""
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "code": status}
        body.update(message=message, reason=reason, details=details or {})
        with self.lock:
            self.faults.append(Fault(method.upper(), re.compile(path), status, body, times, headers or {}))

    def log(self, namespace: str, pod: str, *lines: str, nanos: int | None = None) -> None:
        """Append lines to a pod's log (timestamps now, or from ``nanos`` + i)."""
        with self.lock:
            store = self.logs.setdefault((namespace, pod), _Log())
            for i, text in enumerate(lines):
                ts = (nanos + i) if nanos is not None else time.time_ns()
                if store.lines and ts <= store.lines[-1][0] and nanos is None:
                    ts = store.lines[-1][0] + 1
                store.lines.append((ts, text))
        self.notify()

    def open_log(self, namespace: str, pod: str) -> None:
        with self.lock:
            self.logs.setdefault((namespace, pod), _Log())

    def close_log(self, namespace: str, pod: str) -> None:
        """The container ended: follow streams end once they have sent everything."""
        with self.lock:
            self.logs.setdefault((namespace, pod), _Log()).closed = True
        self.notify()

    def cut_log(self, namespace: str, pod: str) -> None:
        """The next line a follow stream sends goes out half-written, then the connection drops."""
        with self.lock:
            self.logs.setdefault((namespace, pod), _Log()).cut_next = True
        self.notify()

    def stored(self, plural: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        for (res, ns, nm), obj in list(self.objects.items()):
            if res.plural == plural and ns == namespace and nm == name and not obj.deleted:
                return copy.deepcopy(obj.raw)
        return None

    def all_stored(self, plural: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(o.raw)
            for (res, _, _), o in list(self.objects.items())
            if res.plural == plural and not o.deleted
        ]

    # -- request handling -----------------------------------------------------------------------
    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if self._tick is None:
            self._tick = asyncio.Event()
        if self.token is not None and request.headers.get("Authorization") != f"Bearer {self.token}":
            return _status(401, "Unauthorized", "Unauthorized")
        path = request.url.path
        with self.lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and fault.method == str(request.method.value).upper()
                    and fault.path.search(path)
                ):
                    fault.times -= 1
                    return aiohttp.web.json_response(fault.body, status=fault.status, headers=fault.headers)
        if request.resource is None:
            return await super()._handle(request)
        if request.subresource == "log":
            return await self._serve_log(request)
        if request.action == enums.action.WATCH:
            return await self._watch(request)
        if request.action == enums.action.LIST:
            return self._list(request)
        if request.action == enums.action.CREATE and isinstance(request.data, dict):
            meta = request.data.setdefault("metadata", {})
            if request.namespace:
                meta["namespace"] = request.namespace
            if self.stored(request.resource.plural, request.namespace, meta.get("name", "")) is not None:
                kind = KINDS.get(request.resource.plural, request.resource.plural)
                return _status(
                    409,
                    "AlreadyExists",
                    f'{request.resource.plural} "{meta.get("name")}" already exists',
                    {"name": meta.get("name"), "kind": kind},
                )
            with self.lock:
                self.rv += 1
                meta.update(
                    uid=str(uuid.uuid4()),
                    resourceVersion=str(self.rv),
                    creationTimestamp=_now(),
                    generation=1,
                )
            request.data.setdefault("kind", KINDS.get(request.resource.plural, ""))
        elif request.action == enums.action.UPDATE and isinstance(request.data, dict):
            if self.stored(request.resource.plural, request.namespace, request.name or "") is None:
                return _status(404, "NotFound", f'{request.resource.plural} "{request.name}" not found')
            with self.lock:
                self.rv += 1
                request.data.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        elif (
            request.action in (enums.action.DELETE, enums.action.FETCH)
            and self.stored(request.resource.plural, request.namespace, request.name or "") is None
        ):
            return _status(404, "NotFound", f'{request.resource.plural} "{request.name}" not found')
        before = (
            self.stored(request.resource.plural, request.namespace, request.name or "")
            if request.action == enums.action.DELETE
            else None
        )
        response = await super()._handle(request)
        if response.status < 300:
            self._record(request, before)
        return response

    def _record(self, request: rendering.Request, before: dict[str, Any] | None) -> None:
        action = request.action
        if action == enums.action.CREATE:
            meta = request.data.get("metadata") or {}
            obj = self.stored(request.resource.plural, meta.get("namespace"), meta.get("name", ""))
            if obj is not None:
                self._event(request.resource, "ADDED", obj, stamp=False)
        elif action == enums.action.UPDATE:
            obj = self.stored(request.resource.plural, request.namespace, request.name or "")
            if obj is not None:
                self._event(request.resource, "MODIFIED", obj, stamp=False)
        elif action == enums.action.DELETE and before is not None:
            self._deleted(request.resource, before)

    def _event(self, resource: Any, etype: str, obj: dict[str, Any], *, stamp: bool = True) -> None:
        with self.lock:
            if stamp:
                self.rv += 1
                obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
            rv = int(obj["metadata"]["resourceVersion"])
            self.history.append((rv, resource, etype, obj))
        self._wake()

    def _deleted(self, resource: Any, obj: dict[str, Any]) -> None:
        self._event(resource, "DELETED", copy.deepcopy(obj))
        meta = obj.get("metadata") or {}
        if resource.plural == "pods":
            with self.lock:
                self.logs.setdefault((meta.get("namespace"), meta.get("name")), _Log()).closed = True
        uid = meta.get("uid")
        # the garbage collector: dependents go with their owner
        for (res, ns, _name), stored in list(self.objects.items()):
            if stored.deleted or ns != meta.get("namespace"):
                continue
            owners = (stored.raw.get("metadata") or {}).get("ownerReferences") or []
            if any(o.get("uid") == uid for o in owners):
                raw = copy.deepcopy(stored.raw)
                stored.delete()
                self._deleted(res, raw)

    def _matches(self, request: rendering.Request, resource: Any, obj: dict[str, Any]) -> bool:
        meta = obj.get("metadata") or {}
        if resource != request.resource:
            return False
        if request.namespace is not None and meta.get("namespace") != request.namespace:
            return False
        return match_labels(
            request.params.get("labelSelector", ""), meta.get("labels") or {}
        ) and match_fields(request.params.get("fieldSelector", ""), obj)

    def _current(self, request: rendering.Request) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(o.raw)
            for (res, _, _), o in list(self.objects.items())
            if not o.deleted and self._matches(request, res, o.raw)
        ]

    def _list(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        items = self._current(request)
        kind = KINDS.get(request.resource.plural, request.resource.plural.capitalize())
        group = request.resource.group
        api_version = f"{group}/{request.resource.version}" if group else request.resource.version
        return aiohttp.web.json_response(
            {
                "kind": f"{kind}List",
                "apiVersion": api_version,
                "metadata": {"resourceVersion": str(self.rv)},
                "items": items,
            }
        )

    async def _watch(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)
        params = request.params
        timeout = float(params.get("timeoutSeconds") or 1800)
        deadline = time.monotonic() + timeout
        generation = self.watch_generation
        since = int(params.get("resourceVersion") or 0)

        async def send(etype: str, obj: dict[str, Any]) -> None:
            await response.write(json.dumps({"type": etype, "object": obj}).encode() + b"\n")

        self.open_watches += 1
        try:
            if since == 0:
                for obj in self._current(request):
                    await send("ADDED", obj)
                since = self.rv
            elif since < self.compacted:
                self.gone_sent += 1
                await send(
                    "ERROR",
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "code": 410,
                        "reason": "Expired",
                        "message": f"too old resource version: {since} ({self.compacted})",
                    },
                )
                await response.write_eof()
                return response
            while True:
                with self.lock:
                    pending = [(rv, res, et, o) for rv, res, et, o in self.history if rv > since]
                for rv, res, etype, obj in pending:
                    since = rv
                    if self._matches(request, res, obj):
                        await send(etype, obj)
                if self.watch_generation != generation or self.closing:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                tick = self._tick
                assert tick is not None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(tick.wait(), timeout=min(remaining, 1.0))
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.open_watches -= 1
        return response

    async def _serve_log(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        ns, pod = request.namespace or "", request.name or ""
        if self.stored("pods", ns, pod) is None:
            return _status(404, "NotFound", f'pods "{pod}" not found')
        with self.lock:
            store = self.logs.get((ns, pod))
        if store is None:
            return _status(
                400, "BadRequest", f'container "main" in pod "{pod}" is waiting to start: ContainerCreating'
            )
        params = request.params
        follow = params.get("follow") == "true"
        stamps = params.get("timestamps") == "true"
        since_text = params.get("sinceTime")
        since = 0
        if since_text:
            since = (
                int(
                    datetime.strptime(since_text, "%Y-%m-%dT%H:%M:%SZ")
                    .replace(tzinfo=timezone.utc)
                    .timestamp()
                )
                * 1_000_000_000
            )
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request._raw_request)
        position = 0
        try:
            while True:
                with self.lock:
                    batch = store.lines[position:]
                    position = len(store.lines)
                    closed = store.closed
                for ts, text in batch:
                    if ts < since:
                        continue
                    line = (f"{rfc3339_nanos(ts)} {text}\n" if stamps else f"{text}\n").encode()
                    with self.lock:
                        cut, store.cut_next = store.cut_next and follow, False if follow else store.cut_next
                    if cut:
                        await response.write(line[: len(line) // 2])
                        # drop the connection without finishing the chunked body
                        transport = request._raw_request.transport
                        if transport is not None:
                            transport.close()
                        return response
                    await response.write(line)
                if not follow or closed:
                    break
                tick = self._tick
                assert tick is not None
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(tick.wait(), timeout=1.0)
            await response.write_eof()
        except (ConnectionError, asyncio.CancelledError):
            pass
        return response


def _server_cls(context: ssl.SSLContext | None) -> type[aiohttp.test_utils.RawTestServer]:
    class EmulatorServer(aiohttp.test_utils.RawTestServer):
        async def start_server(self, **kwargs: Any) -> None:
            if context is not None:
                kwargs["ssl"] = context
            await super().start_server(**kwargs)

        async def _make_runner(self, **kwargs: Any) -> Any:
            runner = await super()._make_runner(**kwargs)
            # don't wait the default 60 s for a client's in-flight request at teardown
            runner._shutdown_timeout = 0.5
            return runner

    return EmulatorServer


class RunningEmulator:
    """An :class:`Emulator` served on 127.0.0.1 from a background thread."""

    def __init__(
        self,
        *,
        token: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        cafile: str | None = None,
    ) -> None:
        self.cafile = cafile
        self.emulator = Emulator()
        self.emulator.token = token
        self._ssl = ssl_context
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self.url = ""
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    def __enter__(self) -> RunningEmulator:
        self._thread.start()
        self._ready.wait(20)
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        self.emulator.closing = True
        self.emulator.drop_watches()
        with self.emulator.lock:
            for store in self.emulator.logs.values():
                store.closed = True
        loop = self.emulator.loop
        if loop is not None and self._stop is not None:
            loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        if self._thread.is_alive():
            import faulthandler
            import sys

            faulthandler.dump_traceback(sys.stderr)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # surfaced by __enter__
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.emulator.loop = asyncio.get_running_loop()
        async with self.emulator, kmock.Server(self.emulator, server_cls=_server_cls(self._ssl)) as server:
            self.emulator._tick = asyncio.Event()
            scheme = "https" if self._ssl is not None else "http"
            self.url = f"{scheme}://127.0.0.1:{server.port}"
            self._ready.set()
            await self._stop.wait()

    # -- helpers for tests ------------------------------------------------------------------------
    @property
    def requests(self) -> list[Any]:
        return list(self.emulator)

    def requests_matching(self, method: str, path_part: str) -> Iterator[Any]:
        for r in self.requests:
            if str(r.method.value).upper() == method.upper() and path_part in r.url.path:
                yield r
