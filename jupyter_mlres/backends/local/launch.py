"""Start a run's replicas. Standard library only, and no jupyter_mlres imports.

Each replica is a *fork* of the process that starts it (the supervisor), which then runs the
run's ``code/mlres_runner.py`` in-process as ``__main__``, in its own session, with its own
environment, working directory, cores and pipes. No interpreter starts per replica, so a short
job is done in milliseconds. A replica whose environment changes what Python reads only at
startup (``PYTHON*`` other than ``PYTHONUNBUFFERED``, the locale) gets a fresh interpreter
instead (``exec`` after the fork), so the job sees exactly what it asked for.

The supervisor's boot code executes this file by path *before* importing jupyter_mlres, so that
a short job is already running while the supervisor loads (the cold start, without a warm
start server); it is imported normally everywhere else. ``plan`` is plan.json as a dict (see
plan.py's ``Plan``).
"""

from __future__ import annotations

import gc
import json
import math
import os
import signal
import sys
import time
from types import CodeType
from typing import IO, Any

THREAD_ENV_VARS = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "NUMEXPR_MAX_THREADS",
    "NUMBA_NUM_THREADS",
    "RAYON_NUM_THREADS",
    "TF_NUM_INTRAOP_THREADS",
    "POLARS_MAX_THREADS",
)
"""Thread-pool sizes set to the CPU limit (unless the job sets them itself)."""

_JUPYTER_ONLY_ENV = ("JPY_", "KERNEL_", "IPY_")


def can_start_at_once(plan: dict[str, Any]) -> bool:
    """True when nothing has to happen before the replicas start (no GPUs, no volumes)."""
    return not plan["gpus"] and not any(m["host_path"] for m in plan["mounts"])


def cpu_count_for(limit: float) -> int:
    """Cores a CPU limit stands for: ``1.5`` -> 2, ``250m`` -> 1."""
    return max(1, math.ceil(limit - 1e-9))


def available_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))  # pragma: no cover - not Linux


def cores_for(index: int, limit: float | None, cpus: list[int]) -> list[int] | None:
    """Cores for replica ``index``: ceil(limit) of them, replicas spread round-robin."""
    if limit is None or not hasattr(os, "sched_setaffinity"):
        return None
    wanted = cpu_count_for(limit)
    if wanted >= len(cpus):
        return None
    start = (index * wanted) % len(cpus)
    return [cpus[(start + i) % len(cpus)] for i in range(wanted)]


def replica_devices(devices: list[str], per_replica: int, index: int) -> list[str]:
    """Replica ``index``'s share of the run's GPUs (a GPU limit is per container)."""
    return devices[index * per_replica : (index + 1) * per_replica]


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def base_env(plan: dict[str, Any], mount_env: dict[str, str]) -> dict[str, str]:
    """The environment every replica shares: the kernel's (minus Jupyter's own) + the job's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_JUPYTER_ONLY_ENV) and not (k == "MPLBACKEND" and v.startswith("module://"))
    }
    env.update(mount_env)
    if plan["cpu_limit"] is not None:
        threads = str(min(cpu_count_for(plan["cpu_limit"]), len(available_cpus())))
        for name in THREAD_ENV_VARS:
            env[name] = threads
    env["CUDA_VISIBLE_DEVICES"] = ""  # no GPU unless asked for, as on Kubernetes
    env.update(plan["env"])  # the job's own env wins
    return env


STARTUP_ENV_PREFIXES = ("PYTHON", "LC_")
STARTUP_ENV_NAMES = ("LANG",)
STARTUP_ENV_EXEMPT = ("PYTHONUNBUFFERED", "PYTHONBREAKPOINT")
"""Variables Python reads once at startup (the runner itself makes output unbuffered and
``breakpoint()`` reads its variable when called). A replica whose values differ from its
supervisor's cannot be a fork: it gets a fresh interpreter."""


class ForkedProcess:
    """A replica: the subset of ``subprocess.Popen`` the supervisor uses."""

    def __init__(self, pid: int, stdout: IO[bytes], stderr: IO[bytes]) -> None:
        self.pid = pid
        self.stdout: IO[bytes] | None = stdout
        self.stderr: IO[bytes] | None = stderr
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its code is lost
                self.returncode = 255
                return self.returncode
            if pid == self.pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def startup_env_differs(env: dict[str, str], current: dict[str, str] | os._Environ[str]) -> bool:
    def startup(source: dict[str, str] | os._Environ[str]) -> dict[str, str]:
        return {
            k: v
            for k, v in source.items()
            if (k.startswith(STARTUP_ENV_PREFIXES) or k in STARTUP_ENV_NAMES) and k not in STARTUP_ENV_EXEMPT
        }

    return startup(env) != startup(current)


def process_start_ticks(pid: int) -> str | None:
    """When ``pid`` started, in clock ticks since boot (Linux); tells a recycled pid apart."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so count from its closing paren.
    return stat[stat.rfind(b")") + 2 :].split()[19].decode()


def start_replicas(
    run_dir: str, plan: dict[str, Any], devices: list[str], mount_env: dict[str, str]
) -> tuple[list[ForkedProcess], dict[str, str]]:
    """Start every replica (own session, stdout/stderr piped); the processes and the shared env
    plus ``MASTER_PORT`` when there are several replicas."""
    env = base_env(plan, mount_env)
    world = int(plan["replicas"])
    shared = dict(env)
    if world > 1:
        shared["MASTER_PORT"] = str(free_port())
    cpus = available_cpus()
    runner = os.path.join(run_dir, "code", "mlres_runner.py")
    cwd = plan["cwd"] if os.path.isdir(plan["cwd"]) else run_dir
    procs: list[ForkedProcess] = []
    for index in range(world):
        replica_env = dict(env)
        result = "result.json" if index == 0 else f"result-{index}.json"
        replica_env["MLRES_RESULT_PATH"] = os.path.join(run_dir, result)
        for name in plan["rank_env"]:
            replica_env[name] = str(index)
        for name in plan["pod_name_env"]:
            replica_env[name] = f"{plan['run_id']}-{index}"
        if world > 1:
            replica_env.update(
                RANK=str(index),
                JOB_COMPLETION_INDEX=str(index),
                WORLD_SIZE=str(world),
                MASTER_ADDR="127.0.0.1",
                MASTER_PORT=shared["MASTER_PORT"],
            )
        if plan["gpus"]:
            replica_env["CUDA_VISIBLE_DEVICES"] = ",".join(replica_devices(devices, plan["gpus"], index))
        cores = cores_for(index, plan["cpu_limit"], cpus)
        python = plan["python"] if startup_env_differs(replica_env, os.environ) else None
        procs.append(fork_replica(runner, cwd, replica_env, cores, python=python))
    # Recorded at once: if the supervisor dies before it records them, the kernel side can still
    # find (and stop) these processes.
    tmp = os.path.join(run_dir, ".pids.json.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump({"replicas": [{"pid": p.pid, "start": process_start_ticks(p.pid)} for p in procs]}, f)
    os.replace(tmp, os.path.join(run_dir, "pids.json"))
    return procs, shared


def fork_replica(
    runner: str, cwd: str, env: dict[str, str], cores: list[int] | None, *, python: str | None = None
) -> ForkedProcess:
    """Fork one replica running ``runner``; with ``python``, it execs a fresh interpreter."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()  # or the child would print the parent's pending output again
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child (tests see its behaviour, not coverage)
        code = 1
        try:
            _become_replica(cwd, env, cores, out_w, err_w)
            if python is not None:
                os.execve(python, [python, runner], env)
            code = _run_runner(runner)
        except BaseException:
            try:
                import traceback

                traceback.print_exc()
            except BaseException:
                pass
        finally:
            os._exit(code)
    os.close(out_w)
    os.close(err_w)
    return ForkedProcess(pid, os.fdopen(out_r, "rb", buffering=0), os.fdopen(err_r, "rb", buffering=0))


def _become_replica(cwd: str, env: dict[str, str], cores: list[int] | None, out_w: int, err_w: int) -> None:
    """In the forked child: what ``Popen(start_new_session=True, cwd=, env=, stdin=DEVNULL,
    stdout=PIPE, stderr=PIPE)`` of a fresh process would have set up."""
    os.setsid()
    # The parent's handlers and masks are not the job's: back to what a new interpreter has.
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    signal.set_wakeup_fd(-1)
    for sig in (
        signal.SIGTERM,
        signal.SIGHUP,
        signal.SIGCHLD,
        signal.SIGQUIT,
        signal.SIGUSR1,
        signal.SIGUSR2,
    ):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    # Nothing of the parent's stays open (its log, other replicas' pipes, the kernel's channel).
    # Its Python objects for those fds are never used or collected here: gc.freeze() keeps the
    # garbage collector away from them, so no stale object closes a descriptor the job reuses.
    gc.freeze()
    os.closerange(3, _max_fd())
    if cores:
        os.sched_setaffinity(0, cores)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()  # the time zone from the job's TZ, as at a fresh start


def _run_runner(runner: str) -> int:
    """Run the runner as ``python runner.py`` would and end as the interpreter would."""
    import atexit
    import runpy

    atexit._clear()  # the parent's exit handlers are not the job's
    for name in [n for n in sys.modules if n == "jupyter_mlres" or n.startswith("jupyter_mlres.")]:
        del sys.modules[name]  # the job imports its own (or none); never the supervisor's copy
    sys.argv = [runner]
    sys.path[0] = os.path.dirname(runner)
    import importlib

    importlib.invalidate_caches()  # directory listings cached before the fork may be stale
    try:
        compiled = _compiled_runner(runner)
        if compiled is None:
            runpy.run_path(runner, run_name="__main__")
        else:
            _run_as_main(compiled, runner)
        code = 0
    except SystemExit as e:
        code = _exit_status(e)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    # What interpreter shutdown does before it exits: wait for non-daemon threads, run atexit.
    shutdown = getattr(sys.modules.get("threading"), "_shutdown", None)
    if shutdown is not None:
        shutdown()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
    return code


_precompiled: dict[bytes, CodeType] = {}


def precompile_runner(path: str) -> None:
    """Compile the runner once (in a warm start server): replicas whose runner has the same
    source skip reading and compiling it (milliseconds, a good part of a short job)."""
    with open(path, "rb") as f:
        source = f.read()
    _precompiled[source] = compile(source, path, "exec")


def _compiled_runner(runner: str) -> CodeType | None:
    if not _precompiled:
        return None
    with open(runner, "rb") as f:
        source = f.read()
    code = _precompiled.get(source)
    # Tracebacks name the run's own copy of the runner, as they would had it been compiled here.
    return None if code is None else _with_filename(code, runner)


def _with_filename(code: CodeType, filename: str) -> CodeType:
    consts = tuple(_with_filename(c, filename) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _run_as_main(code: CodeType, path: str) -> None:
    """``runpy.run_path(path, run_name="__main__")`` for code compiled already."""
    import types

    main = types.ModuleType("__main__")
    main.__dict__.update({"__file__": path, "__cached__": None, "__loader__": None, "__spec__": None})
    previous = sys.modules.get("__main__")
    sys.modules["__main__"] = main
    try:
        exec(code, main.__dict__)
    finally:
        if previous is not None:
            sys.modules["__main__"] = previous


def _exit_status(e: SystemExit) -> int:
    if e.code is None:
        return 0
    if isinstance(e.code, int):
        return e.code & 0xFF
    print(e.code, file=sys.stderr)
    return 1


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):  # pragma: no cover
        return 1024
