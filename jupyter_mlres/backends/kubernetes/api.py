"""The one seam between jupyter_mlres and the official ``kubernetes`` client.

:class:`KubeApi` offers the few verbs the backend needs on the few kinds it uses, speaks plain
wire dicts (camelCase JSON, never client models) and turns :class:`ApiException` into our errors.
Everything above it is tested against a fake of *this* class or, over HTTP, against the emulator.
"""

from __future__ import annotations

import contextlib
import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from jupyter_mlres.core.errors import BackendError, BackendUnavailable, RunNotFound, SubmitError

__all__ = [
    "KINDS",
    "AlreadyExists",
    "ApiCall",
    "KubeApi",
    "KubeApiProtocol",
    "Stream",
    "WatchGone",
    "map_api_error",
]

T = TypeVar("T")
Obj = dict[str, Any]


@dataclass(frozen=True)
class Kind:
    """How to reach one resource kind through the typed client."""

    api: str  # "core" | "batch" | "scheduling" | "custom"
    singular: str  # method suffix, e.g. "config_map"
    plural: str  # RBAC resource name, e.g. "configmaps"
    group: str  # RBAC apiGroup ("" for core)
    namespaced: bool = True
    version: str = ""  # custom resources: the served version, e.g. "v1"


KINDS: dict[str, Kind] = {
    "ConfigMap": Kind("core", "config_map", "configmaps", ""),
    "Secret": Kind("core", "secret", "secrets", ""),
    "Service": Kind("core", "service", "services", ""),
    "Pod": Kind("core", "pod", "pods", ""),
    "Job": Kind("batch", "job", "jobs", "batch"),
    "Node": Kind("core", "node", "nodes", "", namespaced=False),
    "PriorityClass": Kind("scheduling", "priority_class", "priorityclasses", "scheduling.k8s.io", False),
    # the dask-kubernetes operator's custom resources (kind="dask"), through CustomObjectsApi
    "DaskCluster": Kind("custom", "custom_object", "daskclusters", "kubernetes.dask.org", version="v1"),
    "DaskAutoscaler": Kind("custom", "custom_object", "daskautoscalers", "kubernetes.dask.org", version="v1"),
}
_CUSTOM_VERBS = {"read": "get", "create": "create", "list": "list", "patch": "patch", "delete": "delete"}


class AlreadyExists(SubmitError):
    """HTTP 409 on create: an object with that name exists (never replaced)."""


class WatchGone(BackendError):
    """HTTP 410 (or a watch ERROR event with 410): the resourceVersion is too old; re-list."""


@dataclass(frozen=True)
class ApiCall:
    """What was being attempted, for error messages: ``create jobs in namespace ns``."""

    verb: str
    kind: str
    namespace: str | None = None
    name: str | None = None

    def describe(self) -> str:
        k = KINDS[self.kind]
        resource = k.plural if not self.name else f"{k.plural}/{self.name}"
        if k.group:
            resource = f"{resource}.{k.group}"
        where = f" in namespace {self.namespace!r}" if self.namespace and k.namespaced else ""
        return f"{self.verb} {resource}{where}"


def _status_body(exc: ApiException) -> dict[str, Any]:
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def map_api_error(exc: ApiException, call: ApiCall) -> BackendError:
    """Turn an ``ApiException`` into our error, keeping the server's own message."""
    status = _status_body(exc)
    code = int(exc.status or status.get("code") or 0)
    message = str(status.get("message") or exc.reason or "").strip()
    what = call.describe()
    if code == 401:
        return BackendUnavailable(
            f"Kubernetes rejected our credentials (401) when trying to {what}: {message}"
        )
    if code == 403:
        if "exceeded quota" in message:
            quota = message.split("exceeded quota:", 1)[1].split(",", 1)[0].strip()
            return SubmitError(f"ResourceQuota {quota!r} exceeded when trying to {what}: {message}")
        return SubmitError(
            f"forbidden: the account may not {what} (ask for RBAC verb {call.verb!r} on {KINDS[call.kind].plural!r}): {message}"
        )
    if code == 404:
        return RunNotFound(f"not found: {what}: {message}")
    if code == 409:
        return AlreadyExists(f"already exists: {what}: {message}")
    if code == 410:
        return WatchGone(f"expired: {what}: {message}")
    if code == 422:
        causes = (status.get("details") or {}).get("causes") or []
        fields = "; ".join(
            f"{c.get('field', '?')}: {c.get('message', '')}" for c in causes if isinstance(c, dict)
        )
        detail = fields or message
        return SubmitError(f"invalid {call.kind} (422) when trying to {what}: {detail}")
    if code == 429 or code >= 500:
        return BackendUnavailable(f"Kubernetes API busy or failing ({code}) when trying to {what}: {message}")
    return BackendError(f"Kubernetes API error {code} when trying to {what}: {message}")


def _retryable(exc: ApiException) -> bool:
    code = int(exc.status or 0)
    return code == 429 or code >= 500


class Stream(Iterator[T]):
    """An iterator over a streaming response that another thread may ``close()``."""

    def __init__(self, items: Iterator[T], closer: Callable[[], None]) -> None:
        self._items = items
        self._closer = closer

    def __next__(self) -> T:
        return next(self._items)

    def close(self) -> None:
        self._closer()


class KubeApiProtocol(Protocol):
    """The seam: what the backend needs from a Kubernetes API server."""

    host: str

    def create(self, kind: str, namespace: str, body: Obj) -> Obj: ...
    def get(self, kind: str, namespace: str | None, name: str) -> Obj: ...
    def list(
        self, kind: str, namespace: str | None, *, label_selector: str = "", field_selector: str = ""
    ) -> tuple[list[Obj], str]: ...
    def watch(
        self,
        kind: str,
        namespace: str,
        *,
        resource_version: str,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
    ) -> Stream[tuple[str, Obj]]: ...
    def patch(self, kind: str, namespace: str, name: str, body: Obj) -> Obj: ...
    def delete(self, kind: str, namespace: str, name: str, *, propagation: str = "Background") -> None: ...
    def read_log(
        self, namespace: str, pod: str, *, container: str, follow: bool, since_time: str | None
    ) -> Stream[bytes]: ...


class KubeApi:
    """:class:`KubeApiProtocol` over the official client's ``ApiClient``.

    Transient failures (429, 5xx, connection errors) are retried ``retries`` times with jittered
    exponential backoff starting at ``backoff`` seconds; then they surface as
    ``BackendUnavailable``. Streams are not retried here: their callers resume them.
    """

    def __init__(self, api_client: client.ApiClient, *, retries: int = 4, backoff: float = 0.2) -> None:
        self._client = api_client
        self._apis: dict[str, Any] = {
            "core": client.CoreV1Api(api_client),
            "batch": client.BatchV1Api(api_client),
            "scheduling": client.SchedulingV1Api(api_client),
            "custom": client.CustomObjectsApi(api_client),
        }
        self.host: str = api_client.configuration.host
        self._retries = retries
        self._backoff = backoff
        self._sleep: Callable[[float], None] = time.sleep

    # -- plumbing ---------------------------------------------------------------------------------
    def _method(self, kind: str, verb: str) -> Callable[..., Any]:
        k = KINDS[kind]
        scope = "namespaced_" if k.namespaced else ""
        if k.api == "custom":
            custom: Callable[..., Any] = getattr(
                self._apis["custom"], f"{_CUSTOM_VERBS[verb]}_{scope}custom_object"
            )
            return functools.partial(custom, group=k.group, version=k.version, plural=k.plural)
        name = {"list": f"list_{scope}{k.singular}"}.get(verb, f"{verb}_{scope}{k.singular}")
        method: Callable[..., Any] = getattr(self._apis[k.api], name)
        return method

    def _call(self, call: ApiCall, fn: Callable[[], Any], *, stream: bool = False) -> Any:
        attempt = 0
        while True:
            try:
                resp = fn()
                if stream:
                    return resp
                data = resp.data
                resp.release_conn()
                return json.loads(data) if data else {}
            except ApiException as exc:
                if _retryable(exc) and attempt < self._retries:
                    self._sleep(self._delay(attempt, exc))
                    attempt += 1
                    continue
                raise map_api_error(exc, call) from None
            except (urllib3.exceptions.HTTPError, OSError) as exc:
                if attempt < self._retries:
                    self._sleep(self._delay(attempt, None))
                    attempt += 1
                    continue
                raise BackendUnavailable(
                    f"cannot reach the Kubernetes API at {self.host} to {call.describe()}: {exc}"
                ) from None

    def _delay(self, attempt: int, exc: ApiException | None) -> float:
        retry_after = (exc.headers or {}).get("Retry-After") if exc is not None else None
        if retry_after and str(retry_after).isdigit():
            return min(float(retry_after), 5.0)
        return float(self._backoff * (2**attempt) * (0.5 + random.random() / 2))

    def _ns_args(self, kind: str, namespace: str | None) -> dict[str, Any]:
        return {"namespace": namespace} if KINDS[kind].namespaced else {}

    # -- verbs ------------------------------------------------------------------------------------
    def create(self, kind: str, namespace: str, body: Obj) -> Obj:
        method = self._method(kind, "create")
        result: Obj = self._call(
            ApiCall("create", kind, namespace, None),
            lambda: method(body=body, _preload_content=False, **self._ns_args(kind, namespace)),
        )
        return result

    def get(self, kind: str, namespace: str | None, name: str) -> Obj:
        method = self._method(kind, "read")
        result: Obj = self._call(
            ApiCall("get", kind, namespace, name),
            lambda: method(name=name, _preload_content=False, **self._ns_args(kind, namespace)),
        )
        return result

    def list(
        self, kind: str, namespace: str | None, *, label_selector: str = "", field_selector: str = ""
    ) -> tuple[list[Obj], str]:
        method = self._method(kind, "list")
        kwargs: dict[str, Any] = {"_preload_content": False, **self._ns_args(kind, namespace)}
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        data = self._call(ApiCall("list", kind, namespace), lambda: method(**kwargs))
        return list(data.get("items") or []), str((data.get("metadata") or {}).get("resourceVersion") or "")

    def watch(
        self,
        kind: str,
        namespace: str,
        *,
        resource_version: str,
        label_selector: str = "",
        field_selector: str = "",
        timeout_seconds: int = 300,
    ) -> Stream[tuple[str, Obj]]:
        method = self._method(kind, "list")
        kwargs: dict[str, Any] = {
            "watch": True,
            "allow_watch_bookmarks": True,
            "timeout_seconds": timeout_seconds,
            "_preload_content": False,
            # the read timeout outlives the server's own timeout a little: a silent, dead
            # connection ends the stream instead of hanging it forever
            "_request_timeout": (10, timeout_seconds + 15),
            **self._ns_args(kind, namespace),
        }
        if resource_version:
            kwargs["resource_version"] = resource_version
        if label_selector:
            kwargs["label_selector"] = label_selector
        if field_selector:
            kwargs["field_selector"] = field_selector
        call = ApiCall("watch", kind, namespace)
        resp = self._call(call, lambda: method(**kwargs), stream=True)
        return Stream(self._events(resp, call), _closer(resp))

    def _events(self, resp: Any, call: ApiCall) -> Iterator[tuple[str, Obj]]:
        try:
            for line in _lines(resp):
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = str(event.get("type", "")), event.get("object") or {}
                if kind == "ERROR":
                    code = int(obj.get("code") or 0)
                    message = str(obj.get("message", ""))
                    if code == 410:
                        raise WatchGone(f"watch expired: {message}")
                    raise BackendError(f"watch error {code} on {call.describe()}: {message}")
                yield kind, obj
        except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
            # a broken or closed connection just ends the stream; callers resume it
            return
        finally:
            _closer(resp)()

    def patch(self, kind: str, namespace: str, name: str, body: Obj) -> Obj:
        method = self._method(kind, "patch")
        result: Obj = self._call(
            ApiCall("patch", kind, namespace, name),
            lambda: method(
                name=name,
                body=body,
                _content_type="application/merge-patch+json",
                _preload_content=False,
                **self._ns_args(kind, namespace),
            ),
        )
        return result

    def delete(self, kind: str, namespace: str, name: str, *, propagation: str = "Background") -> None:
        method = self._method(kind, "delete")
        self._call(
            ApiCall("delete", kind, namespace, name),
            lambda: method(
                name=name,
                propagation_policy=propagation,
                _preload_content=False,
                **self._ns_args(kind, namespace),
            ),
        )

    def read_log(
        self, namespace: str, pod: str, *, container: str, follow: bool, since_time: str | None
    ) -> Stream[bytes]:
        call = ApiCall("get", "Pod", namespace, f"{pod}/log")
        resp = self._call(
            call, lambda: self._raw_log(namespace, pod, container, follow, since_time), stream=True
        )
        return Stream(_chunks(resp), _closer(resp))

    def _raw_log(self, namespace: str, pod: str, container: str, follow: bool, since_time: str | None) -> Any:
        # the generic call path: the typed read_namespaced_pod_log of client 37.x has no sinceTime
        query = [("container", container), ("follow", str(follow).lower()), ("timestamps", "true")]
        if since_time:
            query.append(("sinceTime", since_time))
        method, url, headers, body, post = self._client.param_serialize(
            method="GET",
            resource_path="/api/v1/namespaces/{namespace}/pods/{name}/log",
            path_params={"namespace": namespace, "name": pod},
            query_params=query,
            header_params={"Accept": "text/plain"},
            auth_settings=["BearerToken"],
        )
        data = self._client.call_api(method, url, headers, body, post, _request_timeout=(10, 600))
        if not 200 <= data.status <= 299:
            data.read()  # type: ignore[no-untyped-call]
            raise ApiException.from_response(http_resp=data, body=None, data=None)
        return data.response


def _closer(resp: Any) -> Callable[[], None]:
    lock = threading.Lock()
    done = [False]

    def close() -> None:
        with lock:
            if done[0]:
                return
            done[0] = True
        for name in ("shutdown", "close", "release_conn"):
            fn = getattr(resp, name, None)
            if fn is not None:
                # closing a broken connection may fail; it is closed either way
                with contextlib.suppress(Exception):
                    fn()

    return close


def _chunks(resp: Any) -> Iterator[bytes]:
    try:
        yield from resp.stream(amt=None, decode_content=False)
    except (urllib3.exceptions.HTTPError, OSError, AttributeError):
        return


def _lines(resp: Any) -> Iterator[str]:
    buffer = b""
    for chunk in resp.stream(amt=None, decode_content=False):
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            yield line.decode("utf-8", errors="replace")
    if buffer.strip():
        yield buffer.decode("utf-8", errors="replace")
