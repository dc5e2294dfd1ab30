"""A tiny kubelet + Job controller for the emulator that runs real containers with podman.

It watches Jobs through the API (as a controller would), creates one Pod per completion index,
runs it with ``podman run --pull=never --network none`` (code from the ConfigMap, env incl. the
downward-API rank and Secret refs, memory/CPU limits, the termination message file), patches pod
and Job status as the real ones would, copies ``podman logs -f`` into the pod's log, and removes
containers whose Job was deleted. Sandbox workarounds (containers.conf, runc, ulimits): see
/work/shared/TESTING.md and scripts/build-test-image.sh.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path
from typing import Any

from jupyter_mlres.core.preflight import parse_quantity

from .helpers import Kube

IMAGE = os.environ.get("MLRES_TEST_IMAGE", "localhost/mlres-py:local")


def podman_env(workdir: Path) -> dict[str, str]:
    """Environment for podman on this sandbox: our own containers.conf (nothing under /etc)."""
    conf = workdir / "containers.conf"
    if not conf.exists():
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nofile = hard if hard != resource.RLIM_INFINITY else 1048576
        conf.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc=4096:4096"]\n'
            "[engine]\n"
            'runtime = "runc"\n'  # crun refuses this host's hybrid cgroups
        )
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman_unavailable(workdir: Path) -> str:
    """Why the podman tests cannot run here ('' when they can)."""
    if shutil.which("podman") is None:
        return "podman is not installed (bash scripts/system-deps.sh installs it)"
    env = podman_env(workdir)
    probe = subprocess.run(["podman", "image", "exists", IMAGE], env=env, capture_output=True)
    if probe.returncode != 0:
        return f"image {IMAGE} is missing (bash scripts/build-test-image.sh builds it)"
    run = subprocess.run(
        ["podman", "run", "--rm", "--pull=never", "--network", "none", IMAGE, "python3", "-c", "import json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if run.returncode != 0:
        return f"podman cannot run containers here: {run.stderr.strip()[-300:]}"
    return ""


class PodmanKubelet:
    def __init__(self, kube: Kube, workdir: Path) -> None:
        self.kube = kube
        self.ns = kube.ns
        self.workdir = workdir
        self.env = podman_env(workdir)
        self.stop = threading.Event()
        self.containers: dict[str, list[str]] = {}  # job -> container names
        self.threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # -- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> PodmanKubelet:
        t = threading.Thread(target=self._watch_jobs, name="podman-kubelet", daemon=True)
        t.start()
        self.threads.append(t)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        with self._lock:
            names = [n for names in self.containers.values() for n in names]
        if names:
            self._podman("rm", "-f", "-t", "0", *names, check=False)
        for t in self.threads:
            t.join(15)

    def _podman(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, check=check, timeout=120
        )

    def running_containers(self, job: str) -> list[str]:
        out = self._podman(
            "ps", "-a", "--filter", f"label=mlres.job={job}", "--format", "{{.Names}}", check=False
        )
        return [line for line in out.stdout.split() if line]

    # -- the controller -----------------------------------------------------------------------------
    def _watch_jobs(self) -> None:
        # short server-side timeouts, resumed from the last resourceVersion: the loop notices
        # ``stop`` within a second (closing a urllib response from another thread can block)
        base = f"{self.kube.cluster.url}/apis/batch/v1/namespaces/{self.ns}/jobs"
        seen: set[str] = set()
        rv = str(
            self.kube.request("GET", f"/apis/batch/v1/namespaces/{self.ns}/jobs")["metadata"][
                "resourceVersion"
            ]
        )
        while not self.stop.is_set():
            req = urllib.request.Request(
                f"{base}?watch=true&timeoutSeconds=1&resourceVersion={rv}",
                headers={"User-Agent": "mlres-test-kubelet"},
            )
            with urllib.request.urlopen(req, timeout=30) as resp:
                for raw in resp:
                    event = json.loads(raw)
                    job = event["object"]
                    rv = str(job["metadata"].get("resourceVersion") or rv)
                    self._job_event(event["type"], job, seen)

    def _job_event(self, etype: str, job: dict[str, Any], seen: set[str]) -> None:
        name = job["metadata"]["name"]
        if etype == "ADDED" and name not in seen:
            seen.add(name)
            t = threading.Thread(target=self._run_job, args=(job,), daemon=True)
            t.start()
            self.threads.append(t)
        elif etype == "DELETED":
            with self._lock:
                names = self.containers.pop(name, [])
            if names:
                self._podman("rm", "-f", "-t", "0", *names, check=False)

    def _run_job(self, job: dict[str, Any]) -> None:
        name = job["metadata"]["name"]
        completions = int(job["spec"].get("completions") or 1)
        results: dict[int, int] = {}
        threads = []
        for index in range(completions):
            t = threading.Thread(
                target=lambda i=index: results.__setitem__(i, self._run_pod(job, i)), daemon=True
            )
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        if self.stop.is_set() or any(code is None for code in results.values()):
            return
        try:
            if all(code == 0 for code in results.values()):
                self.kube.complete(name)
            else:
                self.kube.fail(name, "BackoffLimitExceeded", "Job has reached the specified backoff limit")
        except Exception:  # the Job was deleted meanwhile (cancel)
            pass

    # -- the kubelet --------------------------------------------------------------------------------
    def _run_pod(self, job: dict[str, Any], index: int) -> int | None:
        name = job["metadata"]["name"]
        pod = self.kube.create_pod(name, index)
        spec = job["spec"]["template"]["spec"]
        container = spec["containers"][0]
        code_dir = Path(tempfile.mkdtemp(dir=self.workdir, prefix=f"{pod}-"))
        cm = self.kube.request("GET", f"/api/v1/namespaces/{self.ns}/configmaps/{name}")
        for fname, text in cm["data"].items():
            (code_dir / fname).write_text(text)
        term = code_dir / "termination-log"
        term.write_text("")
        args = [
            "run",
            "-d",
            "--pull=never",
            "--network",
            "none",
            "--name",
            f"mlres-{pod}",
            "--label",
            f"mlres.job={name}",
            "-v",
            f"{code_dir}:/mlres/code:ro",
            "-v",
            f"{term}:/dev/termination-log",
        ]
        for key, value in self._env(job, container, index).items():
            args += ["-e", f"{key}={value}"]
        limits = (container.get("resources") or {}).get("limits") or {}
        memory = limits.get("memory")
        if memory:
            args += ["--memory", str(int(parse_quantity(memory)))]
        if limits.get("cpu"):
            args += ["--cpus", str(parse_quantity(limits["cpu"]))]
        args += [container["image"], *container["command"], *(container.get("args") or [])]
        started = self._podman(*args, check=False)
        cname = f"mlres-{pod}"
        if started.returncode != 0:
            self.kube.waiting(pod, "CreateContainerError", started.stderr.strip()[-200:])
            return 1
        with self._lock:
            self.containers.setdefault(name, []).append(cname)
        self.kube.running(pod)
        logs = subprocess.Popen(
            ["podman", "logs", "-f", cname], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        assert logs.stdout is not None
        for raw in logs.stdout:
            self.kube.em.log(self.ns, pod, raw.decode("utf-8", "replace").rstrip("\n"))
        logs.wait()
        waited = self._podman("wait", cname, check=False)
        if waited.returncode != 0 or not waited.stdout.strip().lstrip("-").isdigit():
            return None  # removed: the Job was deleted
        exit_code = int(waited.stdout.strip())
        # podman reports no OOMKilled on this cgroup-v1 host: exit 137 under a memory limit is one
        reason = "OOMKilled" if exit_code == 137 and memory else ("Completed" if exit_code == 0 else "Error")
        try:
            self.kube.terminated(pod, exit_code, reason=reason, message=term.read_text()[:4096])
        except Exception:
            return None
        return exit_code

    def _env(self, job: dict[str, Any], container: dict[str, Any], index: int) -> dict[str, str]:
        env: dict[str, str] = {}
        if job["spec"].get("completionMode") == "Indexed":
            env["JOB_COMPLETION_INDEX"] = str(index)
        for item in container.get("env") or ():
            if "value" in item:
                env[item["name"]] = item["value"]
                continue
            source = item.get("valueFrom") or {}
            if "fieldRef" in source and re.search(r"job-completion-index", source["fieldRef"]["fieldPath"]):
                env[item["name"]] = str(index)
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                secret = self.kube.request("GET", f"/api/v1/namespaces/{self.ns}/secrets/{ref['name']}")
                env[item["name"]] = (secret.get("stringData") or {}).get(ref["key"], "")
        return env
