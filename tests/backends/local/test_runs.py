"""The local backend with real processes: what a user sees of a run from start to end."""

from __future__ import annotations

import contextlib
import json
import signal
import time
from pathlib import Path

import psutil
import pytest

from jupyter_mlres.backends.base import Backend
from jupyter_mlres.backends.local import LocalBackend
from jupyter_mlres.backends.local.plan import mount_env_var
from jupyter_mlres.backends.registry import create_backend
from jupyter_mlres.core.errors import BackendError, RunNotFound, SubmitError
from jupyter_mlres.core.runs import JobPhase, RunId
from jupyter_mlres.core.settings import Settings

from .conftest import log_text, make_run, wait


def _gone(pid: int, timeout: float = 10.0) -> bool:
    """Has process ``pid`` ended (given a moment to be reaped)?"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


def _wait_for_line(backend: LocalBackend, run_id: RunId, text: str) -> None:
    for line in backend.logs(run_id, follow=True):
        if text in line.text:
            return
    pytest.fail(f"the run ended without printing {text!r}: {backend.status(run_id)}")


def test_the_registry_builds_a_local_backend_that_speaks_the_protocol(settings: Settings) -> None:
    backend = create_backend("local", settings)
    assert isinstance(backend, LocalBackend)
    assert isinstance(backend, Backend)
    assert backend.name == "local"


def test_a_handler_run_succeeds_with_its_result_and_output(backend: LocalBackend) -> None:
    run = make_run(
        """
        import sys
        def train(lr, epochs):
            print(f"lr={lr}")
            print("warning: slow", file=sys.stderr)
            return {"loss": 0.25, "epochs": epochs}
        """,
        handler="train",
        params={"lr": 0.1, "epochs": 3},
    )
    submitted = backend.submit(run)
    assert submitted.phase == JobPhase.PENDING
    status, events = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    assert [(r.phase, r.exit_code) for r in status.replicas] == [(JobPhase.SUCCEEDED, 0)]
    assert status.started is not None
    assert status.finished is not None
    assert backend.result(run.run_id) == {"loss": 0.25, "epochs": 3}
    lines = list(backend.logs(run.run_id))
    assert [(line.stream, line.text) for line in lines] == [("stdout", "lr=0.1"), ("stderr", "warning: slow")]
    assert Path(status.log_location).is_file()
    reasons = [e.reason for e in events]
    assert reasons[0] == "Submitted"
    assert events[-1].phase == JobPhase.SUCCEEDED
    assert events[-1].replica is None
    assert any(e.reason == "Started" and e.replica == 0 for e in events)


def test_a_failing_run_shows_its_traceback_and_exit_code(backend: LocalBackend) -> None:
    run = make_run(
        """
        def step():
            raise ValueError("bad batch 7")
        print("starting")
        step()
        """
    )
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.FAILED
    assert status.replicas[0].exit_code == 1
    assert status.reason == "Error"
    stderr = log_text(backend, run.run_id, "stderr")
    assert "Traceback (most recent call last):" in stderr
    assert "ValueError: bad batch 7" in stderr
    assert 'main.py", line 3, in step' in stderr
    assert backend.result(run.run_id) is None


def test_sys_exit_code_propagates(backend: LocalBackend) -> None:
    run = make_run("import sys\nsys.exit(3)\n")
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.FAILED
    assert status.replicas[0].exit_code == 3
    assert "exit code 3" in status.message


def test_cancel_stops_the_process_group_and_is_idempotent(backend: LocalBackend) -> None:
    run = make_run(
        """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print("child", child.pid, flush=True)
        time.sleep(600)
        """
    )
    backend.submit(run)
    _wait_for_line(backend, run.run_id, "child")
    child_pid = int(log_text(backend, run.run_id).split()[1])
    status = backend.cancel(run.run_id)
    assert status.phase == JobPhase.CANCELLED
    assert status.replicas[0].phase == JobPhase.CANCELLED
    assert _gone(child_pid)
    again = backend.cancel(run.run_id)
    assert again.phase == JobPhase.CANCELLED
    assert again.finished == status.finished
    events = list(backend.events(run.run_id, follow=True))
    assert events[-1].phase == JobPhase.CANCELLED


def test_cancel_kills_a_job_that_ignores_sigterm_after_the_grace_period(backend: LocalBackend) -> None:
    run = make_run(
        """
        import signal, time
        signal.signal(signal.SIGTERM, lambda *a: print("ignoring SIGTERM", flush=True))
        print("ready", flush=True)
        time.sleep(600)
        """,
        pod={"terminationGracePeriodSeconds": 1},
    )
    backend.submit(run)
    _wait_for_line(backend, run.run_id, "ready")
    status = backend.cancel(run.run_id)
    assert status.phase == JobPhase.CANCELLED
    assert "ignoring SIGTERM" in log_text(backend, run.run_id)


def test_the_memory_watchdog_kills_a_run_above_its_limit(backend: LocalBackend) -> None:
    run = make_run(
        """
        import time
        hog = []
        for _ in range(100):  # up to 2 GiB, 20 MiB at a time, touched so it is resident
            hog.append(b"x" * (20 << 20))
            time.sleep(0.01)
        time.sleep(600)
        """,
        limits={"memory": "100Mi"},
    )
    backend.submit(run)
    status, events = wait(backend, run.run_id)
    assert status.phase == JobPhase.FAILED
    assert status.reason == "OOMKilled"
    replica = status.replicas[0]
    assert (replica.reason, replica.exit_code) == ("OOMKilled", 137)
    assert "100Mi" in replica.message
    assert any(e.reason == "OOMKilled" and e.replica == 0 for e in events)


def test_replicas_get_distinct_ranks_and_one_master_port(backend: LocalBackend) -> None:
    run = make_run(
        """
        import os
        def work():
            keys = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "JOB_COMPLETION_INDEX")
            print(" ".join(f"{k}={os.environ[k]}" for k in keys))
            return int(os.environ["RANK"])
        """,
        handler="work",
        replicas=3,
    )
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    assert [r.index for r in status.replicas] == [0, 1, 2]
    by_replica = {
        line.replica: dict(kv.split("=") for kv in line.text.split()) for line in backend.logs(run.run_id)
    }
    assert sorted(by_replica) == [0, 1, 2]
    assert {r: env["RANK"] for r, env in by_replica.items()} == {0: "0", 1: "1", 2: "2"}
    assert {env["WORLD_SIZE"] for env in by_replica.values()} == {"3"}
    assert {env["MASTER_ADDR"] for env in by_replica.values()} == {"127.0.0.1"}
    ports = {env["MASTER_PORT"] for env in by_replica.values()}
    assert len(ports) == 1
    assert ports != {"29500"}
    assert backend.result(run.run_id) == 0


def test_env_comes_from_the_pod_template(backend: LocalBackend) -> None:
    run = make_run(
        """
        import json, os
        keys = ["GREETING", "EXPANDED", "TOKEN", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "CUDA_VISIBLE_DEVICES"]
        print(json.dumps({k: os.environ.get(k) for k in keys}))
        print(json.dumps(sorted(os.sched_getaffinity(0))))
        """,
        env=[
            {"name": "GREETING", "value": "hello"},
            {"name": "EXPANDED", "value": "$(GREETING) world $$(NOT)"},
            {"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "token"}}},
        ],
        secret_data={"creds": {"token": "s3cr3t"}},
        limits={"cpu": "500m"},
    )
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED, log_text(backend, run.run_id)
    env_line, cores_line = log_text(backend, run.run_id).splitlines()
    assert json.loads(env_line) == {
        "GREETING": "hello",
        "EXPANDED": "hello world $(NOT)",
        "TOKEN": "s3cr3t",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "CUDA_VISIBLE_DEVICES": "",
    }
    if len(psutil.Process().cpu_affinity() or []) > 1:
        assert len(json.loads(cores_line)) == 1


def test_a_mapped_volume_is_linked_at_its_mount_path(tmp_path: Path) -> None:
    data = tmp_path / "datasets"
    data.mkdir()
    (data / "train.csv").write_text("a,b\n1,2\n")
    mount = tmp_path / "mnt" / "data"
    backend = LocalBackend(
        Settings(local_run_root=str(tmp_path / "runs"), local_volume_map={"pvc:datasets": str(data)})
    )
    run = make_run(
        f"""
        import os
        print(open({str(mount / "train.csv")!r}).read().splitlines()[1])
        print(os.environ["MLRES_MOUNT_{"_".join(mount.parts[1:]).upper().replace("-", "_")}"])
        """,
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "datasets"}}],
        mounts=[{"name": "data", "mountPath": str(mount)}],
    )
    backend.submit(run)
    status, events = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED, log_text(backend, run.run_id)
    assert log_text(backend, run.run_id).splitlines() == ["1,2", str(data)]
    mounted = [e for e in events if e.reason == "VolumeMounted"]
    assert len(mounted) == 1
    assert "pvc:datasets" in mounted[0].message
    assert str(mount) in mounted[0].message
    assert not mount.exists(), "the link is gone"
    assert not mount.parent.exists(), "the directory made for it is gone"


def test_an_existing_mount_path_is_never_clobbered(tmp_path: Path) -> None:
    data = tmp_path / "datasets"
    data.mkdir()
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    backend = LocalBackend(
        Settings(local_run_root=str(tmp_path / "runs"), local_volume_map={"pvc:datasets": str(data)})
    )
    run = make_run(
        "import os\nprint(os.environ['MLRES_MOUNT_"
        + "_".join(taken.parts[1:]).upper().replace("-", "_")
        + "'])\n",
        volumes=[
            {"name": "data", "persistentVolumeClaim": {"claimName": "datasets"}},
            {"name": "other", "persistentVolumeClaim": {"claimName": "unmapped"}},
        ],
        mounts=[{"name": "data", "mountPath": str(taken)}, {"name": "other", "mountPath": "/srv/other"}],
    )
    backend.submit(run)
    status, events = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    assert log_text(backend, run.run_id) == str(data)
    assert (taken / "keep.txt").read_text() == "mine"
    assert not taken.is_symlink()
    elsewhere = [e for e in events if e.reason == "VolumeNotAtMountPath"]
    assert len(elsewhere) == 1
    assert "left untouched" in elsewhere[0].message
    (not_honoured,) = [e for e in events if e.reason == "NotHonoured"]
    assert "pvc:unmapped" in not_honoured.message
    assert "local_volume_map" in not_honoured.message


def test_settings_that_cannot_apply_locally_are_named_in_one_event(backend: LocalBackend) -> None:
    run = make_run(
        "print('ok')",
        image="registry.example/train:1",
        pod={
            "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {}}},
            "nodeSelector": {"pool": "gpu"},
            "priorityClassName": "high-priority",
            "nodeName": "node-7",
        },
    )
    backend.submit(run)
    status, events = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    (event,) = [e for e in events if e.reason == "NotHonoured"]
    assert event.warning
    for name in (
        "tolerations",
        "affinity",
        "nodeSelector",
        "priorityClassName",
        "nodeName",
        "registry.example/train:1",
    ):
        assert name in event.message


def test_a_fresh_backend_reattaches_to_a_run_whose_kernel_is_gone(settings: Settings, tmp_path: Path) -> None:
    # The "kernel": a process that submits a run and exits at once, as a crashed kernel would.
    run = make_run(
        """
        import time
        for i in range(5):
            print("tick", i)
            time.sleep(0.2)
        def done():
            return "finished"
        """,
        handler="done",
    )
    script = tmp_path / "kernel.py"
    script.write_text(
        "import os, pickle, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parents[3])!r})\n"
        "from jupyter_mlres.backends.local import LocalBackend\n"
        "from jupyter_mlres.core.settings import Settings\n"
        f"run = pickle.loads({__import__('pickle').dumps(run)!r})\n"
        f"LocalBackend(Settings(local_run_root={settings.local_run_root!r})).submit(run)\n"
        "os._exit(0)\n"
    )
    import subprocess
    import sys

    subprocess.run([sys.executable, str(script)], check=True, timeout=60)
    fresh = LocalBackend(settings)
    assert [s.run_id for s in fresh.list_runs()] == [run.run_id]
    lines = [line.text for line in fresh.logs(run.run_id, follow=True)]
    assert lines == [f"tick {i}" for i in range(5)]
    status, events = wait(fresh, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    assert fresh.result(run.run_id) == "finished"
    assert events[-1].phase == JobPhase.SUCCEEDED


def test_a_dead_supervisor_is_reported_and_its_replicas_stopped(backend: LocalBackend) -> None:
    run = make_run("import time\nprint('up', flush=True)\ntime.sleep(600)\n")
    backend.submit(run)
    _wait_for_line(backend, run.run_id, "up")
    supervisor = json.loads((backend.run_dir(run.run_id) / "supervisor.json").read_text())
    replica_pid = json.loads((backend.run_dir(run.run_id) / "status.json").read_text())["replicas"][0]["pid"]
    process = psutil.Process(supervisor["pid"])
    process.send_signal(signal.SIGKILL)
    with contextlib.suppress(psutil.NoSuchProcess):  # the backend's reaper may be first
        process.wait(10)
    status = backend.status(run.run_id)
    assert status.phase == JobPhase.FAILED
    assert status.reason == "SupervisorLost"
    assert _gone(replica_pid)


def test_logs_tail_and_follow(backend: LocalBackend) -> None:
    run = make_run(
        """
        import time
        for i in range(20):
            print("line", i)
        time.sleep(0.3)
        print("last")
        """
    )
    backend.submit(run)
    followed = [line.text for line in backend.logs(run.run_id, follow=True)]
    assert followed == [f"line {i}" for i in range(20)] + ["last"]
    assert [line.text for line in backend.logs(run.run_id, tail=2)] == ["line 19", "last"]
    assert list(backend.logs(run.run_id, tail=0)) == []


def test_a_result_above_4_kib_is_replaced_by_a_clear_error(backend: LocalBackend) -> None:
    run = make_run("def big():\n    return 'x' * 5000\n", handler="big")
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    with pytest.raises(BackendError, match=r"result too large: \d+ bytes > 4096"):
        backend.result(run.run_id)
    assert "result too large" in log_text(backend, run.run_id, "stderr")


def test_captured_values_are_loaded_before_the_code(backend: LocalBackend) -> None:
    import pickle

    run = make_run(
        "def scaled(x):\n    return x * factor\n",
        handler="scaled",
        params={"x": 7},
        attachments={"capture.pkl": pickle.dumps({"factor": 6})},
    )
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED
    assert backend.result(run.run_id) == 42


def test_a_capture_needing_a_missing_package_names_it(backend: LocalBackend) -> None:
    # A pickle that refers to a module the job's Python does not have (like cloudpickle).
    capture = b"\x80\x04cmlres_missing_pkg.sub\nthing\n."
    run = make_run("print('never')", attachments={"capture.pkl": capture})
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.FAILED
    assert status.replicas[0].exit_code == 2
    stderr = log_text(backend, run.run_id, "stderr")
    assert "need the Python package 'mlres_missing_pkg'" in stderr
    assert "Traceback" not in stderr


def test_unknown_runs_and_duplicate_ids_are_clear_errors(backend: LocalBackend) -> None:
    with pytest.raises(RunNotFound, match="no local run named 'nope'"):
        backend.status(RunId("nope"))
    with pytest.raises(RunNotFound):
        list(backend.logs(RunId("../etc")))
    run = make_run("print(1)")
    backend.submit(run)
    with pytest.raises(SubmitError, match="already exists"):
        backend.submit(run)
    wait(backend, run.run_id)


def test_list_runs_newest_first(backend: LocalBackend) -> None:
    first, second = make_run("print(1)"), make_run("print(2)")
    backend.submit(first)
    time.sleep(0.01)
    backend.submit(second)
    assert [s.run_id for s in backend.list_runs()] == [second.run_id, first.run_id]
    wait(backend, first.run_id)
    wait(backend, second.run_id)


def test_the_deadline_fails_a_run_that_takes_too_long(backend: LocalBackend) -> None:
    run = make_run("import time\ntime.sleep(600)\n", job={"activeDeadlineSeconds": 1})
    backend.submit(run)
    status, _ = wait(backend, run.run_id)
    assert status.phase == JobPhase.FAILED
    assert status.reason == "DeadlineExceeded"


def test_cancel_right_after_submit(backend: LocalBackend) -> None:
    run = make_run("import time\ntime.sleep(600)\n")
    backend.submit(run)
    status = backend.cancel(run.run_id)
    assert status.phase == JobPhase.CANCELLED
    events = list(backend.events(run.run_id, follow=True))
    assert events[-1].phase == JobPhase.CANCELLED
    for replica in json.loads((backend.run_dir(run.run_id) / "status.json").read_text())["replicas"]:
        if replica["pid"]:
            assert _gone(replica["pid"])


def test_secret_and_config_map_volumes_carried_by_the_run_are_written_for_it(
    backend: LocalBackend, tmp_path: Path
) -> None:
    creds, cfg = tmp_path / "etc" / "creds", tmp_path / "etc" / "cfg"
    run = make_run(
        f"""
        import os, stat
        for path in ({str(creds / "token")!r}, {str(cfg / "mode")!r}):
            print(open(path).read(), oct(stat.S_IMODE(os.stat(path).st_mode)))
        print(os.environ[{mount_env_var(str(creds))!r}] != {str(creds)!r})
        """,
        volumes=[
            {"name": "creds", "secret": {"secretName": "creds"}},
            {"name": "cfg", "configMap": {"name": "cfg"}},
        ],
        mounts=[
            {"name": "creds", "mountPath": str(creds), "readOnly": True},
            {"name": "cfg", "mountPath": str(cfg)},
        ],
        secret_data={"creds": {"token": "t0k"}},
    )
    manifests = [
        *run.manifests[:-1],
        {"kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"mode": "fast"}},
    ]
    run = type(run)(
        run_id=run.run_id,
        function=run.function,
        manifests=[*manifests, run.manifests[-1]],
        files=run.files,
        secret_data=run.secret_data,
    )
    backend.submit(run)
    status, events = wait(backend, run.run_id)
    assert status.phase == JobPhase.SUCCEEDED, log_text(backend, run.run_id)
    assert log_text(backend, run.run_id).splitlines() == ["t0k 0o600", "fast 0o644", "True"]
    volume_events = [e.message for e in events if e.reason.startswith("Volume")]
    assert len(volume_events) == 2
    assert "readOnly is not enforced locally" in volume_events[0]
    assert "t0k" not in (backend.run_dir(run.run_id) / "events.jsonl").read_text()


def test_replicas_started_before_the_supervisor_recorded_them_are_found(tmp_path: Path) -> None:
    import subprocess
    import sys

    from jupyter_mlres.backends.local.backend import _replica_pids
    from jupyter_mlres.backends.local.launch import process_start_ticks
    from jupyter_mlres.backends.local.layout import RunDir

    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    recycled = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        started = process_start_ticks(ours.pid)
        assert started is not None
        # The second pid was recorded for a replica that started at another time: a stranger now.
        replicas = [{"pid": ours.pid, "start": started}, {"pid": recycled.pid, "start": "1"}]
        (tmp_path / "pids.json").write_text(json.dumps({"replicas": replicas}))
        record = {"replicas": [{"pid": None, "pid_started": None}]}
        assert _replica_pids(RunDir(tmp_path), record) == [ours.pid]  # type: ignore[arg-type]
    finally:
        for proc in (ours, recycled):
            proc.kill()
            proc.wait()
