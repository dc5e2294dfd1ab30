"""The issue's seed examples, as written, and the basic rendering contract."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import jupyter_mlres as mlres
from tests.core.k8s_schema import validate_all


@pytest.fixture
def training_py(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "training.py"
    path.write_text("def train(epochs=1):\n    return epochs\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return path


def test_code_to_function_from_a_file(training_py: Path) -> None:
    fn = mlres.code_to_function(
        "training.py", name="training", handler="train", kind="mpijob", image="mlrun/ml-models-gpu"
    )
    assert fn.name == "training"
    assert fn.kind == "mpijob"
    assert fn.spec.code == training_py.read_text()
    assert fn.spec.handler == "train"
    assert fn.spec.image == "mlrun/ml-models-gpu"


def test_code_to_function_by_name() -> None:
    fn = mlres.code_to_function("training", kind="job", handler="my_training_function")
    assert (fn.name, fn.kind, fn.spec.handler, fn.spec.code) == (
        "training",
        "job",
        "my_training_function",
        None,
    )
    # A preview works without code; a real run needs it.
    assert fn.to_manifests()[0]["data"]["main.py"] == ""
    with pytest.raises(mlres.SpecError) as err:
        fn.to_run(run_id="training-1")
    assert err.value.path == "code"


def test_code_to_function_missing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(mlres.SpecError) as err:
        mlres.code_to_function("nope.py")
    assert err.value.path == "filename"


def test_new_function_renders_a_basic_job() -> None:
    fn = mlres.new_function(name="etl", kind="job", image="python:3.11-slim", code="print('hi')")
    fn.with_requests(cpu=2).with_limits(mem="4Gi", cpu=4)
    manifests = fn.to_manifests(mlres.Settings())
    assert [m["kind"] for m in manifests] == ["ConfigMap", "Job"]
    configmap, job = manifests
    assert configmap["data"]["main.py"] == "print('hi')"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["resources"] == {"requests": {"cpu": "2"}, "limits": {"cpu": "4", "memory": "4Gi"}}
    assert container["command"] == ["python3", "/mlres/code/mlres_runner.py"]
    assert "print('hi')" not in str(container)  # the code only travels in the ConfigMap
    validate_all(manifests)


def test_seed_calls_chain_and_render() -> None:
    fn = mlres.new_function(name="train", image="python:3.11-slim", code="pass")
    assert fn.with_requests(cpu=2) is fn
    assert fn.gpus(1) is fn
    fn.spec.replicas = 2
    assert (
        fn.apply(mlres.mount_pvc(pvc_name="data-claim", volume_name="data", volume_mount_path="/data")) is fn
    )
    manifests = fn.to_manifests()
    assert [m["kind"] for m in manifests] == ["ConfigMap", "Service", "Job"]
    job = manifests[-1]
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 2
    pod = job["spec"]["template"]["spec"]
    assert pod["subdomain"] == "train"
    assert pod["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "1"}
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["WORLD_SIZE"] == "2"
    assert env["MASTER_ADDR"] == "train-0.train"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-claim"}} in pod["volumes"]
    validate_all(manifests)


def test_to_yaml_is_valid_multi_document_yaml() -> None:
    fn = mlres.new_function(name="etl", code="print('hi')\n").with_requests(cpu=0.5, mem="1Gi")
    text = fn.to_yaml()
    documents = [d for d in yaml.safe_load_all(text) if d is not None]
    assert documents == fn.to_manifests()
    assert "cpu: 500m" in text


def test_to_run_matches_the_internals_contract() -> None:
    fn = mlres.new_function(name="etl", code="x = 1", handler="main")
    run = fn.to_run(run_id="etl-abc12", params={"n": 3}, attachments={"capture.pkl": b"\x00\x01"})
    assert run.run_id == "etl-abc12"
    assert set(run.files) == {"mlres_runner.py", "main.py", "job.json"}
    configmap, job = run.manifests
    assert configmap["metadata"]["name"] == job["metadata"]["name"] == "etl-abc12"
    assert configmap["binaryData"] == {"capture.pkl": "AAE="}
    labels = job["spec"]["template"]["metadata"]["labels"]
    assert labels == {
        "app.kubernetes.io/managed-by": "jupyter-mlres",
        "app.kubernetes.io/name": "etl",
        "jupyter-mlres.io/run-id": "etl-abc12",
    }
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["MLRES_RUN_ID"] == "etl-abc12"
    assert env["MLRES_CODE_DIR"] == "/mlres/code"
    assert env["MLRES_RESULT_PATH"] == "/dev/termination-log"
    import json

    assert json.loads(run.files["job.json"]) == {
        "name": "etl",
        "handler": "main",
        "params": {"n": 3},
        "returns": [],
        "kind": "job",
        "replicas": 1,
    }
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
