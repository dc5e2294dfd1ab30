"""Following every replica's log, keeping the whole of it in a local file.

One follower thread per pod (pods that start late, or are recreated after a preemption, get theirs
when the pod watch sees them). A follower streams ``follow=true&timestamps=true``; when the stream
ends or breaks while the pod still runs, it resumes from the last timestamp and the
:class:`~jupyter_mlres.core.logresume.LogCursor` drops what was already delivered. A partial last
line of a broken stream is dropped: it comes again, whole, on the resumed stream.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

from jupyter_mlres.backends.kubernetes.api import KubeApiProtocol
from jupyter_mlres.core.errors import BackendError, RunNotFound
from jupyter_mlres.core.logresume import LogCursor, split_timestamp
from jupyter_mlres.core.runs import LogLine, RunId
from jupyter_mlres.core.status import pod_is_done, replica_index

__all__ = ["LogCollector"]

Obj = dict[str, Any]


class LogCollector:
    """All log lines of one run, in arrival order, mirrored to ``path``."""

    def __init__(
        self,
        api: KubeApiProtocol,
        namespace: str,
        run_id: RunId,
        path: Path,
        *,
        run_done: Callable[[], bool],
        pod_state: Callable[[str], Obj | None],
        container: str = "main",
    ) -> None:
        self.api = api
        self.namespace = namespace
        self.run_id = run_id
        self.path = path
        self.container = container
        self._run_done = run_done
        self._pod_state = pod_state
        self.lines: list[LogLine] = []
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self._followers: dict[str, threading.Thread] = {}
        self._active = 0
        self._streams: set[Any] = set()
        self._cursors: dict[str, LogCursor] = {}
        path.parent.mkdir(parents=True, exist_ok=True)
        self._load(path)
        self._file: TextIO = path.open("a", encoding="utf-8")

    def _load(self, path: Path) -> None:
        """Resume from a log kept by an earlier session (another kernel): its lines stay, even
        when the pods are gone, and the followers continue after them."""
        if not path.is_file():
            return
        for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
            stamp, _, rest = raw.partition(" ")
            pod, _, rest = rest.partition(" ")
            index, _, text = rest.partition(" ")
            timed = split_timestamp(f"{stamp} {text}")
            if timed is None or not (index.startswith("[") and index.endswith("]")):
                continue
            self._cursors.setdefault(pod, LogCursor()).accept(timed)
            self.lines.append(LogLine(self.run_id, int(index[1:-1] or 0), "stdout", timed.text, timed.time))

    def pod_seen(self, pod: Obj) -> None:
        """Start following ``pod`` once its container has started (idempotent)."""
        name = str(pod["metadata"]["name"])
        status = pod.get("status") or {}
        started = status.get("phase") in ("Running", "Succeeded", "Failed") or any(
            ("running" in (c.get("state") or {})) or ("terminated" in (c.get("state") or {}))
            for c in status.get("containerStatuses") or ()
        )
        if not started:
            return
        with self.changed:
            if name in self._followers or self.stop.is_set():
                return
            self._active += 1
            t = threading.Thread(
                target=self._follow, args=(name, replica_index(pod)), name=f"mlres-log-{name}", daemon=True
            )
            self._followers[name] = t
        t.start()

    @property
    def drained(self) -> bool:
        with self.changed:
            return self._run_done() and self._active == 0

    def close(self) -> None:
        self.stop.set()
        with self.changed:
            streams = list(self._streams)
            self.changed.notify_all()
        for s in streams:
            s.close()

    # -- one pod ----------------------------------------------------------------------------------
    def _finished(self, pod: str) -> bool:
        state = self._pod_state(pod)
        return state is None or pod_is_done(state) or self._run_done()

    def _follow(self, pod: str, replica: int) -> None:
        with self.changed:
            cursor = self._cursors.setdefault(pod, LogCursor())
        failures = 0
        try:
            while not self.stop.is_set():
                final = self._finished(pod)
                try:
                    self._read(pod, replica, cursor, follow=not final)
                    failures = 0
                except RunNotFound:
                    return  # the pod is gone (deleted with its Job, or replaced)
                except BackendError:
                    failures += 1
                    if failures > 8 and self._finished(pod):
                        return
                    self.stop.wait(min(10.0, 0.25 * 2**failures))
                    continue
                if final:
                    return
                if self._finished(pod):
                    continue  # one last read without follow picks up the tail
                self.stop.wait(0.2)  # the stream ended while the pod runs (rotation, drop): resume
        finally:
            with self.changed:
                self._active -= 1
                self.changed.notify_all()

    def _read(self, pod: str, replica: int, cursor: LogCursor, *, follow: bool) -> None:
        cursor.new_session()
        stream = self.api.read_log(
            self.namespace, pod, container=self.container, follow=follow, since_time=cursor.since_time()
        )
        with self.changed:
            self._streams.add(stream)
        buffer = b""
        try:
            for chunk in stream:
                buffer += chunk
                *complete, buffer = buffer.split(b"\n")
                for raw in complete:
                    self._line(raw, pod, replica, cursor)
                if self.stop.is_set():
                    return
        finally:
            with self.changed:
                self._streams.discard(stream)
            stream.close()
        if buffer and not follow:
            # a finished container's last line may lack its newline; a complete read has it whole
            self._line(buffer, pod, replica, cursor)

    def _line(self, raw: bytes, pod: str, replica: int, cursor: LogCursor) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        timed = split_timestamp(text)
        if timed is None:
            line = LogLine(self.run_id, replica, "stdout", text, datetime.now(timezone.utc))
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        else:
            if not cursor.accept(timed):
                return
            line = LogLine(self.run_id, replica, "stdout", timed.text, timed.time)
            stamp = timed.stamp
        with self.changed:
            self.lines.append(line)
            self._file.write(f"{stamp} {pod} [{replica}] {line.text}\n")
            self._file.flush()
            self.changed.notify_all()

    # -- readers ----------------------------------------------------------------------------------
    def follow_lines(
        self, *, follow: bool, tail: int | None, stop: threading.Event | None
    ) -> Iterator[LogLine]:
        with self.changed:
            position = 0 if tail is None else max(0, len(self.lines) - tail)
        while True:
            with self.changed:
                batch = self.lines[position:]
                position += len(batch)
                done = self._run_done() and self._active == 0
                if not batch and follow and not done and not (stop and stop.is_set()):
                    self.changed.wait(timeout=0.5)
                    continue
            yield from batch
            if not follow or (stop and stop.is_set()):
                return
            with self.changed:
                if done and position >= len(self.lines):
                    return
