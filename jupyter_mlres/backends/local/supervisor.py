"""The per-run supervisor: ``python -m jupyter_mlres.backends.local.supervisor RUN_DIR``.

Started detached (its own session) by :class:`LocalBackend.submit`, it owns the run until the end,
so the run outlives the kernel that submitted it. It waits for GPUs, links volumes, starts the
replicas, copies their output into the full log, enforces the memory limit, the deadline and
cancellation, and writes status, events and exit codes. The kernel side only reads those files
and asks for cancellation (the ``cancel`` file plus SIGTERM to this process). When the kernel
that submitted the run handed over a notification channel, every write is followed by a poke on
it, so the kernel reads the files the moment they change instead of polling them.

Single-threaded on purpose: one ``select`` loop reads every pipe, so the log has one writer and
``preexec_fn`` (CPU affinity) is safe to use.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import sys
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Final

from jupyter_mlres.backends.local import launch
from jupyter_mlres.backends.local.daskstatus import DaskStatusReader
from jupyter_mlres.backends.local.files import append_json_line, read_json, write_json_atomic
from jupyter_mlres.backends.local.gpus import GpuAllocator, detect_gpus
from jupyter_mlres.backends.local.layout import RunDir
from jupyter_mlres.backends.local.logfile import LogWriter
from jupyter_mlres.backends.local.notify import Notifier
from jupyter_mlres.backends.local.plan import Plan
from jupyter_mlres.backends.local.quantities import format_bytes
from jupyter_mlres.backends.local.records import StatusRecord, event_record, now, pending_replica
from jupyter_mlres.backends.local.volumes import prepare_mounts, release_mounts
from jupyter_mlres.core.runs import JobPhase

if TYPE_CHECKING:
    import psutil

# psutil (tens of ms to import) is imported only once the replicas run: starting them first
# keeps a short job's start-to-finish time low.

__all__ = ["main"]

CHECK_INTERVAL: Final = 0.1
"""Seconds between checks of exits, cancellation, deadline and memory."""
GPU_RETRY_INTERVAL: Final = 0.5
PIPE_GRACE: Final = 2.0
"""Seconds a replica's pipes may stay open after it exited (a leaked child holding them)."""
READ_SIZE: Final = 1 << 20
PIPE_SIZE: Final = 1 << 20
_F_SETPIPE_SZ: Final = 1031
_OOM_EXIT: Final = 137
_EXITED: Final = "exited"
_JUPYTER_ONLY_ENV: Final = ("JPY_", "KERNEL_", "IPY_")


@dataclass
class _Replica:
    index: int
    proc: launch.ForkedProcess
    started: float
    open_streams: int = 2
    exit_code: int | None = None
    exited_at: float | None = None
    stop_reason: str = ""
    """Why we are stopping it (``OOMKilled``, ``Cancelled``, ``DeadlineExceeded``, ``Terminated``)."""
    stop_message: str = ""
    kill_at: float | None = None
    phase: JobPhase = JobPhase.RUNNING
    reason: str = ""
    message: str = ""
    tree: dict[int, psutil.Process] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.exit_code is not None and self.open_streams == 0


Launched = tuple[list[launch.ForkedProcess], dict[str, str]]


class Supervisor:
    def __init__(
        self,
        run_dir: Path,
        *,
        launched: Launched | None = None,
        cancelled: bool = False,
        notify_fd: int | None = None,
    ) -> None:
        self.launched = launched
        self.notifier = Notifier(notify_fd)
        self.dir = RunDir(run_dir)
        self.plan = Plan.from_json(read_json(self.dir.plan))
        self.status: StatusRecord = read_json(self.dir.status)
        self.replicas: list[_Replica] = []
        self.allocator = GpuAllocator(self.dir.gpu_state)
        self.cancel_signalled = cancelled
        self.started_mono = time.monotonic()
        self.links: list[dict[str, Any]] = []
        self.log: LogWriter | None = None
        self.dask = DaskStatusReader(self.dir.dask_status) if self.plan.dask_workers else None

    # -- files ---------------------------------------------------------------------------------
    def event(
        self,
        reason: str,
        message: str = "",
        *,
        replica: int | None = None,
        phase: JobPhase | None = None,
        warning: bool = False,
    ) -> None:
        append_json_line(
            self.dir.events, event_record(reason, message, replica=replica, phase=phase, warning=warning)
        )
        self.notifier.changed()

    def save_status(self) -> None:
        write_json_atomic(self.dir.status, self.status)
        self.notifier.changed()

    def cancel_requested(self) -> bool:
        return self.cancel_signalled or self.dir.cancel_request.exists()

    # -- lifecycle -----------------------------------------------------------------------------
    def run(self) -> int:
        # Only SIGTERM is handled (a handler, unlike SIG_IGN, is not inherited by the replicas).
        # In its own session the supervisor gets no terminal signals anyway.
        signal.signal(signal.SIGTERM, self._on_sigterm)
        try:
            if self.launched is not None:
                self.start_replicas([], {}, self.launched)
            else:
                if self.cancel_requested():
                    return self.finish_without_start(
                        JobPhase.CANCELLED, "Cancelled", "cancelled before it started"
                    )
                devices = self.acquire_gpus()
                if devices is None:
                    return 0
                mounts = prepare_mounts(self.plan.mounts)
                self.links = list(mounts.links)
                if self.links:
                    write_json_atomic(self.dir.links, self.links)
                for reason, message, warning in mounts.events:
                    self.event(reason, message, warning=warning)
                self.start_replicas(devices, mounts.env)
            self.pump()
            self.finish()
        except BaseException as e:
            self.crash(e)
            return 1
        finally:
            self.release()
            self.notifier.flush()
        return 0

    def release(self) -> None:
        """Give back GPUs and mount links; before the terminal status, so that a reader who
        sees the run finished also sees them free. Idempotent."""
        if self.plan.gpus:
            self.allocator.release(self.plan.run_id)
        links, self.links = self.links, []
        if links:
            release_mounts(links, self.dir.path.parent, self.plan.run_id)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        self.cancel_signalled = True

    def finish_without_start(
        self, phase: JobPhase, reason: str, message: str, *, warning: bool = False
    ) -> int:
        for r in self.status["replicas"]:
            r.update({"phase": phase.value, "reason": reason, "message": message})
        self.status.update(
            {"phase": phase.value, "reason": reason, "message": message, "finished": now().isoformat()}
        )
        self.save_status()
        self.event(reason, message, phase=phase, warning=warning)
        return 0

    # -- GPUs ----------------------------------------------------------------------------------
    def acquire_gpus(self) -> list[str] | None:
        """The devices granted; None when the run ended while waiting (cancelled, impossible)."""
        # GPU limits are per container, so per replica: each replica gets its own devices.
        count = self.plan.gpus * self.plan.replicas
        if count == 0:
            return []
        devices = self.plan.gpu_devices if self.plan.gpu_devices is not None else detect_gpus()
        source = "settings.local_gpu_devices" if self.plan.gpu_devices is not None else "nvidia-smi -L"
        resource = self.plan.gpu_resource
        if self.plan.replicas > 1:
            resource += f", {self.plan.gpus} per replica"
        if count > len(devices):
            self.finish_without_start(
                JobPhase.FAILED,
                "Unschedulable",
                f"{count} GPU(s) ({resource}) requested, but this machine has {len(devices)} "
                f"(from {source}); it can never start here",
                warning=True,
            )
            return None
        import psutil

        own_start = psutil.Process().create_time()
        last_message = ""
        while True:
            allocation = self.allocator.allocate(self.plan.run_id, count, devices, os.getpid(), own_start)
            if allocation.devices is not None:
                if last_message:
                    self.status.update({"reason": "", "message": ""})
                    self.save_status()
                return list(allocation.devices)
            message = (
                f"{count} GPU(s) ({resource}) requested, {allocation.free} of {allocation.total} free"
                + (f" (held by {', '.join(allocation.holders)})" if allocation.holders else "")
                + "; waiting until enough are free (cancel to give up)"
            )
            if message != last_message:
                last_message = message
                for r in self.status["replicas"]:
                    r.update({"reason": "Unschedulable", "message": message})
                self.status.update({"reason": "Unschedulable", "message": message})
                self.save_status()
                self.event("Unschedulable", message, phase=JobPhase.PENDING, warning=True)
            deadline = time.monotonic() + GPU_RETRY_INTERVAL
            while time.monotonic() < deadline:
                if self.cancel_requested():
                    self.finish_without_start(
                        JobPhase.CANCELLED, "Cancelled", "cancelled while waiting for GPUs"
                    )
                    return None
                if self.past_deadline():
                    self.finish_without_start(
                        JobPhase.FAILED, "DeadlineExceeded", self.deadline_message(), warning=True
                    )
                    return None
                self.notifier.flush()
                time.sleep(0.05)

    def past_deadline(self) -> bool:
        limit = self.plan.deadline_seconds
        return limit is not None and time.monotonic() - self.started_mono > limit

    def deadline_message(self) -> str:
        return f"the run exceeded its deadline (activeDeadlineSeconds={self.plan.deadline_seconds:g})"

    # -- start -----------------------------------------------------------------------------------
    def start_replicas(
        self,
        devices: list[str],
        mount_env: dict[str, str],
        launched: Launched | None = None,
    ) -> None:
        plan = self.plan
        started_iso = now().isoformat()
        procs, env = launched or launch.start_replicas(
            str(self.dir.path), read_json(self.dir.plan), devices, mount_env
        )
        world = plan.replicas
        cpus = launch.available_cpus()
        affinity_note = ""
        if plan.cpu_limit is not None:
            wanted = launch.cpu_count_for(plan.cpu_limit)
            if hasattr(os, "sched_setaffinity"):
                affinity_note = f"pinned to {min(wanted, len(cpus))} of {len(cpus)} cores"
                if wanted > len(cpus):
                    affinity_note += f" (the limit asks for {wanted}; this machine has {len(cpus)})"
            else:
                affinity_note = "core pinning is not available on this OS"
            affinity_note = (
                f"cpu limit {plan.cpu_limit:g}: {affinity_note}; "
                f"{', '.join(launch.THREAD_ENV_VARS[:3])}, ... = {env[launch.THREAD_ENV_VARS[0]]}"
            )
        parts = [p for p in (affinity_note,) if p]
        if plan.memory_limit is not None:
            parts.append(
                f"memory limit {plan.memory_limit_text or format_bytes(plan.memory_limit)}: "
                "a watchdog kills a replica whose process tree's RSS goes above it (OOMKilled, exit 137)"
            )
        if plan.gpus:
            per_replica = [
                f"replica {i}: {','.join(launch.replica_devices(devices, self.plan.gpus, i))}"
                for i in range(world)
            ]
            parts.append(f"GPUs (CUDA_VISIBLE_DEVICES): {'; '.join(per_replica)}")
        if world > 1:
            parts.append(f"{world} replicas: MASTER_ADDR=127.0.0.1 MASTER_PORT={env['MASTER_PORT']}")
        if plan.dask_workers is not None:
            low, high = plan.dask_workers
            memory = format_bytes(plan.dask_worker_memory) if plan.dask_worker_memory else "no limit"
            parts.append(
                f"dask: a LocalCluster of {low}..{high} worker process(es)"
                + (" (adaptive)" if low != high else "")
                + f", memory limit per worker {memory}"
            )
        self.event("Scheduled", "; ".join(parts) if parts else "no resource limits to apply")

        now_mono = time.monotonic()
        self.replicas = [_Replica(index, proc, now_mono) for index, proc in enumerate(procs)]
        import psutil

        for replica in self.replicas:
            pid = replica.proc.pid
            try:
                replica.tree[pid] = psutil.Process(pid)
                pid_started: float | None = replica.tree[pid].create_time()
            except psutil.Error:
                pid_started = None
            self.status["replicas"][replica.index].update(
                {
                    "phase": JobPhase.RUNNING.value,
                    "reason": "",
                    "message": "",
                    "pid": pid,
                    "pid_started": pid_started,
                }
            )
        self.status.update(
            {"phase": JobPhase.RUNNING.value, "reason": "", "message": "", "started": started_iso}
        )
        self.save_status()
        for replica in self.replicas:
            self.event("Started", f"pid {replica.proc.pid}", replica=replica.index, phase=JobPhase.RUNNING)
        self.event("Running", f"{world} replica(s) running", phase=JobPhase.RUNNING)

    # -- the loop ------------------------------------------------------------------------------
    def pump(self) -> None:
        selector = selectors.DefaultSelector()
        self.log = log = LogWriter(self.dir.log)
        for replica in self.replicas:
            for pipe, stream in ((replica.proc.stdout, "stdout"), (replica.proc.stderr, "stderr")):
                assert pipe is not None
                fd = pipe.fileno()
                _grow_pipe(fd)
                selector.register(fd, selectors.EVENT_READ, (replica, stream))
            # Wakes the loop the moment the replica exits (Linux 5.3+; else the checks find it).
            pidfd = _pidfd(replica.proc.pid)
            if pidfd is not None:
                selector.register(pidfd, selectors.EVENT_READ, (replica, _EXITED))
        next_check = 0.0
        next_memory_check = 0.0
        while not all(r.done for r in self.replicas):
            # A replica whose pipes closed is usually exiting: look at it again very soon.
            closing = any(r.open_streams == 0 and r.exit_code is None for r in self.replicas)
            self.notifier.flush()
            ready = selector.select(timeout=0.005 if closing else CHECK_INTERVAL)
            wall = time.time()
            received = 0
            exited = False
            for key, _ in ready:
                replica, stream = key.data
                if stream == _EXITED:
                    selector.unregister(key.fd)
                    os.close(key.fd)
                    exited = True
                    continue
                try:
                    data = os.read(key.fd, READ_SIZE)
                except BlockingIOError:  # pragma: no cover - select said it was readable
                    continue
                if data:
                    log.feed(replica.index, stream, data, wall)
                    received += len(data)
                else:
                    self._close_stream(selector, key.fd, replica, stream, wall)
            log.flush()
            if received:
                self.notifier.changed()
            mono = time.monotonic()
            if mono >= next_check or closing or exited:
                next_check = mono + CHECK_INTERVAL
                self.check(mono, selector, wall)
                self.check_dask()
                if self.plan.memory_limit is not None and mono >= next_memory_check:
                    next_memory_check = mono + 2 * CHECK_INTERVAL
                    self.check_memory()
            if 0 < received < 65536:
                # Let output accumulate a little: fewer, larger reads keep up with floods.
                time.sleep(0.002)
        log.close(time.time())
        for key in list(selector.get_map().values()):
            if key.data[1] == _EXITED:
                os.close(key.fd)
        selector.close()

    def _close_stream(
        self, selector: selectors.BaseSelector, fd: int, replica: _Replica, stream: str, wall: float
    ) -> None:
        selector.unregister(fd)
        pipe = replica.proc.stdout if stream == "stdout" else replica.proc.stderr
        if pipe is not None:
            pipe.close()
        assert self.log is not None
        self.log.end_of_stream(replica.index, stream, wall)
        replica.open_streams -= 1

    def check(self, mono: float, selector: selectors.BaseSelector, wall: float) -> None:
        for replica in self.replicas:
            if replica.exit_code is None:
                code = replica.proc.poll()
                if code is not None:
                    self.replica_exited(replica, code, mono)
            elif (
                replica.open_streams
                and replica.exited_at is not None
                and mono - replica.exited_at > PIPE_GRACE
            ):
                for key in list(selector.get_map().values()):
                    if key.data[0] is replica and key.data[1] != _EXITED:
                        self._close_stream(selector, key.fd, replica, key.data[1], wall)
            if replica.kill_at is not None and replica.exit_code is None and mono >= replica.kill_at:
                _kill_group(replica, signal.SIGKILL)
                replica.kill_at = None
        running = [r for r in self.replicas if r.exit_code is None and not r.stop_reason]
        if not running:
            return
        if self.cancel_requested():
            self.stop(running, "Cancelled", "cancelled by the user", mono)
        elif self.past_deadline():
            self.stop(running, "DeadlineExceeded", self.deadline_message(), mono)
        else:
            failed = next((r for r in self.replicas if r.phase == JobPhase.FAILED), None)
            if failed is not None:
                self.stop(running, "Terminated", f"stopped because replica {failed.index} failed", mono)

    def check_dask(self) -> None:
        """Workers of the run's local Dask cluster become replicas 1, 2, ... (see daskstatus.py)."""
        if self.dask is None:
            return
        changes = self.dask.poll()
        if not changes:
            return
        records = self.status["replicas"]
        for change in changes:
            if change.index is not None and change.phase is not None:
                while len(records) <= change.index:
                    records.append(pending_replica(len(records)))
                records[change.index].update(
                    {"phase": change.phase.value, "reason": change.reason, "message": change.message}
                )
        self.save_status()
        for change in changes:
            self.event(change.reason, change.message, replica=change.index, phase=change.phase)

    def close_dask_workers(self, phase: JobPhase) -> None:
        """Workers still up when the job ended went with its cluster."""
        if self.dask is None:
            return
        self.check_dask()
        worker_phase = JobPhase.SUCCEEDED if phase == JobPhase.SUCCEEDED else phase
        for record in self.status["replicas"][1:]:
            if not JobPhase(record["phase"]).is_terminal:
                record.update(
                    {"phase": worker_phase.value, "reason": "ClusterClosed", "message": "closed with the job"}
                )

    def stop(self, replicas: list[_Replica], reason: str, message: str, mono: float) -> None:
        for replica in replicas:
            replica.stop_reason, replica.stop_message = reason, message
            replica.kill_at = mono + self.plan.grace_seconds
            _kill_group(replica, signal.SIGTERM)

    def check_memory(self) -> None:
        import psutil

        limit = self.plan.memory_limit
        assert limit is not None
        for replica in self.replicas:
            if replica.exit_code is not None or replica.stop_reason == "OOMKilled":
                continue
            rss = _tree_rss(replica)
            if rss > limit:
                replica.stop_reason = "OOMKilled"
                replica.stop_message = (
                    f"memory use {format_bytes(rss)} went above the limit "
                    f"{self.plan.memory_limit_text or format_bytes(limit)} (resources.limits.memory); "
                    "the local memory watchdog killed the replica"
                )
                for proc in list(replica.tree.values()):
                    with contextlib.suppress(psutil.Error):
                        proc.kill()
                _kill_group(replica, signal.SIGKILL)

    def replica_exited(self, replica: _Replica, code: int, mono: float) -> None:
        exit_code = 128 - code if code < 0 else code
        replica.exited_at = mono
        # Like a container: when the main process ends, whatever it left behind in its group goes.
        _kill_group(replica, signal.SIGKILL)
        if replica.stop_reason == "OOMKilled":
            exit_code = _OOM_EXIT
            phase, reason, message = JobPhase.FAILED, "OOMKilled", replica.stop_message
        elif replica.stop_reason == "Cancelled":
            phase, reason, message = JobPhase.CANCELLED, "Cancelled", replica.stop_message
        elif replica.stop_reason and code != 0:
            phase, reason, message = JobPhase.FAILED, replica.stop_reason, replica.stop_message
        elif code == 0:
            phase, reason, message = JobPhase.SUCCEEDED, "Completed", "exit code 0"
        else:
            phase, reason = JobPhase.FAILED, "Error"
            message = f"exit code {exit_code}"
            if code < 0:
                message += f" (killed by {signal.Signals(-code).name})"
        replica.exit_code = exit_code
        replica.phase, replica.reason, replica.message = phase, reason, message
        record = self.status["replicas"][replica.index]
        record.update({"phase": phase.value, "reason": reason, "message": message, "exit_code": exit_code})
        self.save_status()
        self.event(reason, message, replica=replica.index, phase=phase, warning=phase != JobPhase.SUCCEEDED)

    def finish(self) -> None:
        phases = [r.phase for r in self.replicas]
        if all(p == JobPhase.SUCCEEDED for p in phases):
            phase, reason, message = JobPhase.SUCCEEDED, "Completed", f"{len(phases)} replica(s) succeeded"
        elif any(r.stop_reason == "Cancelled" for r in self.replicas) and not any(
            r.reason in ("OOMKilled", "Error") for r in self.replicas
        ):
            phase, reason, message = JobPhase.CANCELLED, "Cancelled", "cancelled by the user"
        else:
            first = min(
                (r for r in self.replicas if r.phase == JobPhase.FAILED and r.reason != "Terminated"),
                key=lambda r: r.exited_at or 0.0,
                default=next(r for r in self.replicas if r.phase != JobPhase.SUCCEEDED),
            )
            phase, reason = JobPhase.FAILED, first.reason
            message = f"replica {first.index}: {first.message}"
        self.release()
        self.close_dask_workers(phase)
        self.status.update(
            {"phase": phase.value, "reason": reason, "message": message, "finished": now().isoformat()}
        )
        self.save_status()
        self.event(reason, message, phase=phase, warning=phase != JobPhase.SUCCEEDED)

    def crash(self, error: BaseException) -> None:
        traceback.print_exc()
        for replica in self.replicas:
            if replica.exit_code is None:
                _kill_group(replica, signal.SIGKILL)
        message = f"the local supervisor failed: {error!r} (details in {self.dir.supervisor_log})"
        if self.log is not None:
            with contextlib.suppress(OSError):
                self.log.close(time.time())
        try:
            self.release()
        except Exception:
            traceback.print_exc()
        for record in self.status["replicas"]:
            if not JobPhase(record["phase"]).is_terminal:
                record.update(
                    {"phase": JobPhase.FAILED.value, "reason": "SupervisorError", "message": message}
                )
        self.status.update(
            {
                "phase": JobPhase.FAILED.value,
                "reason": "SupervisorError",
                "message": message,
                "finished": now().isoformat(),
            }
        )
        self.save_status()
        self.event("SupervisorError", message, phase=JobPhase.FAILED, warning=True)


# -- process helpers ---------------------------------------------------------------------------


def _pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _grow_pipe(fd: int) -> None:
    # A bigger pipe lets a job print bursts without waiting for the supervisor (Linux only).
    try:
        import fcntl

        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
    except (OSError, ImportError):
        pass


def _kill_group(replica: _Replica, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(replica.proc.pid, sig)


def _tree_rss(replica: _Replica) -> int:
    """RSS of the replica and all its descendants (processes are cached between checks)."""
    import psutil

    root = replica.tree.get(replica.proc.pid)
    if root is None:
        return 0
    try:
        members = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    seen: dict[int, psutil.Process] = {}
    for proc in members:
        cached = replica.tree.get(proc.pid, proc)
        try:
            total += cached.memory_info().rss
            seen[proc.pid] = cached
        except psutil.Error:
            continue
    replica.tree = seen
    return total


def main(argv: list[str] | None = None, *, launched: Launched | None = None, cancelled: bool = False) -> int:
    """Supervise the run in ``argv[0]`` (poking the channel on fd ``argv[1]`` if given);
    ``launched`` are replicas the boot code already started."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or (len(args) == 2 and not args[1].isdigit()):
        print("usage: python -m jupyter_mlres.backends.local.supervisor RUN_DIR [NOTIFY_FD]", file=sys.stderr)
        return 2
    notify_fd = int(args[1]) if len(args) == 2 else None
    return Supervisor(Path(args[0]), launched=launched, cancelled=cancelled, notify_fd=notify_fd).run()


if __name__ == "__main__":
    sys.exit(main())
