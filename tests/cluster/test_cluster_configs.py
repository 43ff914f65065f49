"""cluster/ checked offline: launcher YAMLs through Ray's own cluster-config validation, KubeRay
manifests against the fields KubeRay requires, the image recipe against the project's pins, the
shipped job package, and no file opening the dashboard, MLflow or metrics to the internet."""
from __future__ import annotations

import copy
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from search.space.loading import load_space
from search.study.plan import DRIVER_RESOURCE
from tests.project import ROOT

CLUSTER = ROOT / "cluster"
LAUNCHER = sorted(CLUSTER.glob("*.yaml"))
KUBERAY = sorted((CLUSTER / "kuberay").glob("*.yaml"))
WORLD = {"0.0.0.0/0", "::/0"}
PRIVATE_PORTS = {8265: "dashboard", 5000: "MLflow", 8080: "metrics", 9090: "Prometheus", 3000: "Grafana",
                 6379: "GCS", 10001: "Ray client"}


def _submit_module():
    spec = importlib.util.spec_from_file_location("cluster_submit", CLUSTER / "submit.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prepared(file: Path) -> dict[str, Any]:
    return prepare_config(yaml.safe_load(file.read_text()))


def _docs() -> list[tuple[Path, dict]]:
    return [(file, doc) for file in KUBERAY for doc in yaml.safe_load_all(file.read_text()) if doc]


def _one(kind: str) -> dict:
    (doc,) = [doc for _, doc in _docs() if doc["kind"] == kind]
    return doc


def test_there_are_launcher_configs_for_aws_and_gcp() -> None:
    assert {yaml.safe_load(f.read_text())["provider"]["type"] for f in LAUNCHER} == {"aws", "gcp"}


@pytest.mark.parametrize("file", LAUNCHER, ids=lambda f: f.name)
def test_launcher_config_passes_rays_own_validation(file: Path) -> None:
    validate_config(_prepared(file))
    broken = yaml.safe_load(file.read_text()) | {"max_worker": 8}  # a typo must not pass
    with pytest.raises(jsonschema.ValidationError, match="max_worker"):
        validate_config(prepare_config(broken))


@pytest.mark.parametrize("file", LAUNCHER, ids=lambda f: f.name)
def test_trial_drivers_live_on_the_on_demand_head_and_workers_are_spot_gpus(file: Path) -> None:
    config = _prepared(file)
    types = config["available_node_types"]
    head = types[config["head_node_type"]]
    assert head["resources"][DRIVER_RESOURCE] >= 1 and head["resources"]["CPU"] == 0
    workers = [t for name, t in types.items() if name != config["head_node_type"]]
    assert workers and all(t["max_workers"] > t["min_workers"] for t in workers), "workers autoscale"
    spot = {"aws": lambda c: c.get("InstanceMarketOptions", {}).get("MarketType") == "spot",
            "gcp": lambda c: c.get("scheduling", {}).get("provisioningModel") == "SPOT"}[config["provider"]["type"]]
    assert all(spot(t["node_config"]) for t in workers) and not spot(head["node_config"])
    assert "--gpus all" in config["docker"]["worker_run_options"]


def _exposures(config: Any, where: str = "") -> list[str]:
    """Every place in a config that opens something other than SSH to the whole internet, or binds
    the dashboard or MLflow to an address other than 127.0.0.1."""
    found: list[str] = []
    if isinstance(config, dict):
        for rule in config.get("IpPermissions", []):
            cidrs = {r.get("CidrIp") for r in rule.get("IpRanges", [])} | \
                {r.get("CidrIpv6") for r in rule.get("Ipv6Ranges", [])}
            ports = (rule.get("FromPort"), rule.get("ToPort"))
            if cidrs & WORLD and ports != (22, 22):
                found.append(f"{where}.IpPermissions: ports {ports[0]}-{ports[1]} from the internet")
        ssh_only = [{"IPProtocol": "tcp", "ports": ["22"]}]
        if WORLD & set(config.get("sourceRanges", [])) and config.get("allowed") != ssh_only:
            found.append(f"{where}.sourceRanges: open to the internet")
        found += [hit for key, value in config.items() for hit in _exposures(value, f"{where}.{key}")]
    elif isinstance(config, list):
        found += [hit for i, value in enumerate(config) for hit in _exposures(value, f"{where}[{i}]")]
    elif isinstance(config, str):
        for flag in re.findall(r"--dashboard-host[= ](\S+)", config):
            if flag != "127.0.0.1":
                found.append(f"{where}: dashboard bound to {flag}")
        if re.search(r"\bmlflow (server|ui)\b.*--host[= ](?!127\.0\.0\.1)", config):
            found.append(f"{where}: MLflow bound beyond 127.0.0.1")
    return found


def _kubernetes_exposures(file: Path, doc: dict) -> list[str]:
    found = [f"{file.name}: {doc['kind']} {name}" for name in [doc["metadata"]["name"]]
             if doc["kind"] == "Ingress" or doc.get("spec", {}).get("type") in ("LoadBalancer", "NodePort")]
    spec = doc.get("spec", {})
    head = spec.get("headGroupSpec") or spec.get("rayClusterSpec", {}).get("headGroupSpec")
    if head and head.get("serviceType", "ClusterIP") != "ClusterIP":
        found.append(f"{file.name}: head service {head['serviceType']}")
    text = json.dumps(doc)
    found += [f"{file.name}: {key}" for key in ('"hostNetwork": true', '"hostPort"') if key in text]
    return found + [f"{file.name}{hit}" for hit in _exposures({k: v for k, v in doc.items()}) if "dashboard" not in hit]


def test_no_cluster_file_opens_dashboard_mlflow_or_metrics_to_the_internet() -> None:
    for file in LAUNCHER:
        config = _prepared(file)
        assert _exposures(config) == [], file.name
        assert "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"]), file.name
    for file, doc in _docs():
        assert _kubernetes_exposures(file, doc) == []
    script = (CLUSTER / "mlflow-server.sh").read_text()
    assert '--host "${MLFLOW_HOST:-127.0.0.1}"' in script


def test_the_exposure_check_catches_open_ports() -> None:
    config = _prepared(LAUNCHER[0])
    opened = copy.deepcopy(config)
    opened["provider"]["security_group"] = {"GroupName": "x", "IpPermissions": [
        {"FromPort": 8265, "ToPort": 8265, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    assert len(_exposures(opened)) == 1
    ssh = copy.deepcopy(config)
    ssh["provider"]["security_group"] = {"GroupName": "x", "IpPermissions": [
        {"FromPort": 22, "ToPort": 22, "IpProtocol": "tcp", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]}
    assert _exposures(ssh) == []
    assert _exposures(["ray start --head --dashboard-host=0.0.0.0", "mlflow server --host 0.0.0.0"]) != []
    service = {"kind": "Service", "metadata": {"name": "dash"}, "spec": {"type": "LoadBalancer"}}
    assert _kubernetes_exposures(Path("x.yaml"), service) == ["x.yaml: Service dash"]


def _containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


def _check_pod(template: dict, where: str) -> None:
    containers = _containers(template)
    assert containers and all(c.get("name") and c.get("image") for c in containers), where
    volumes = {v["name"] for v in template["spec"].get("volumes", [])}
    for container in containers:
        missing = {m["name"] for m in container.get("volumeMounts", [])} - volumes
        assert not missing, f"{where}: volumeMounts without a volume: {missing}"


def test_kuberay_raycluster_carries_the_fields_kuberay_requires() -> None:
    cluster = _one("RayCluster")
    assert cluster["apiVersion"] == "ray.io/v1" and cluster["metadata"]["name"]
    spec = cluster["spec"]
    assert spec["rayVersion"] == ray.__version__, "the image's Ray must be the one the cluster runs"
    head = spec["headGroupSpec"]
    _check_pod(head["template"], "headGroupSpec")
    for params in [head["rayStartParams"]] + [g["rayStartParams"] for g in spec["workerGroupSpecs"]]:
        assert all(isinstance(v, str) for v in params.values()), "rayStartParams is map[string]string"
    assert head["rayStartParams"]["num-cpus"] == "0"
    assert json.loads(json.loads(head["rayStartParams"]["resources"]))[DRIVER_RESOURCE] >= 1
    for group in spec["workerGroupSpecs"]:
        assert group["groupName"] and group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        _check_pod(group["template"], group["groupName"])
        assert any("nvidia.com/gpu" in c["resources"]["limits"] for c in _containers(group["template"]))
    claims = {v["persistentVolumeClaim"]["claimName"] for t in [head["template"]] + [g["template"] for g in
              spec["workerGroupSpecs"]] for v in t["spec"]["volumes"] if "persistentVolumeClaim" in v}
    pvc = _one("PersistentVolumeClaim")
    assert claims == {pvc["metadata"]["name"]} and pvc["spec"]["accessModes"] == ["ReadWriteMany"]


def test_kuberay_rayjob_runs_a_valid_space_on_that_cluster(tmp_path: Path) -> None:
    job = _one("RayJob")
    assert job["apiVersion"] == "ray.io/v1" and job["metadata"]["name"]
    assert job["spec"]["clusterSelector"] == {"ray.io/cluster": _one("RayCluster")["metadata"]["name"]}
    assert isinstance(yaml.safe_load(job["spec"]["runtimeEnvYAML"])["env_vars"], dict)
    words = job["spec"]["entrypoint"].split()
    assert words[:2] == ["python", "/opt/worldtune/search/run.py"]
    space = words[words.index("--space") + 1]
    assert space.startswith("/opt/worldtune/")
    load_space(ROOT / space.removeprefix("/opt/worldtune/"))  # raises on a bad space
    assert "--storage" in words, "results must go to the shared volume, not the job's temp folder"


def _dockerfile_args() -> dict[str, str]:
    text = (CLUSTER / "Dockerfile").read_text()
    return {m[0]: m[1].strip('"') for m in re.findall(r"^ARG (\w+)=(\S+)", text, re.M)}


def test_image_recipe_pins_what_the_project_pins() -> None:
    args = _dockerfile_args()
    pins = dict(re.findall(r'"([\w-]+)(?:\[[^]]*\])?==([^"]+)"', (ROOT / "pyproject.toml").read_text()))
    setup = dict(re.findall(r"^(\w+_VERSION)=(\S+)", (ROOT / "scripts" / "setup.sh").read_text(), re.M))
    assert args["TORCH_VERSION"] == pins["torch"] == setup["TORCH_VERSION"]
    assert args["MMCV_VERSION"] == pins["mmcv"] == setup["MMCV_VERSION"]
    assert args["SETUPTOOLS_VERSION"] == setup["SETUPTOOLS_VERSION"]
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert tuple(map(int, args["PYTHON_VERSION"].split("."))) >= tuple(map(int, required.strip(">=").split(".")))
    major, minor = args["CUDA_VERSION"].split(".")[:2]
    assert args["TORCH_INDEX_URL"].endswith(f"/cu{major}{minor}"), "torch's CUDA must be the image's nvcc"
    assert args["TORCH_CUDA_ARCH_LIST"] and "FORCE_CUDA=1" in (CLUSTER / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (.+) \S+$", (CLUSTER / "Dockerfile").read_text(), re.M):
        assert all((ROOT / part).exists() for part in source.split()), source


def test_every_config_uses_one_image_that_holds_the_paths_they_run() -> None:
    images = {yaml.safe_load(f.read_text())["docker"]["image"] for f in LAUNCHER}
    images |= {c["image"] for _, doc in _docs() if doc["kind"] == "RayCluster"
               for t in [doc["spec"]["headGroupSpec"]["template"],
                         *(g["template"] for g in doc["spec"]["workerGroupSpecs"])]
               for c in _containers(t)}
    assert len(images) == 1
    assert "WORKDIR /opt/worldtune" in (CLUSTER / "Dockerfile").read_text()
    used = set(re.findall(r"/opt/worldtune/([\w/.-]+)", "".join(f.read_text() for f in LAUNCHER + KUBERAY)))
    assert used and all((ROOT / path).exists() for path in used), used


def test_job_package_ships_the_code_and_leaves_out_environments_data_and_results(tmp_path: Path) -> None:
    from ray._private.runtime_env.packaging import create_package

    submit = _submit_module()
    def plain(pattern: str) -> str:  # .dockerignore patterns start at the root, gitignore's anywhere
        return pattern.removeprefix("/").removeprefix("**/")

    ignored = [line for line in (CLUSTER / "Dockerfile.dockerignore").read_text().splitlines()
               if line and not line.startswith("#")]
    assert list(map(plain, ignored)) == list(map(plain, submit.RUNTIME_ENV_EXCLUDES)), \
        "the image context and the job package leave out the same"
    checkout = tmp_path / "checkout"  # the committed files, plus what a user's checkout also holds
    for name in subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                               check=True).stdout.split():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, checkout / name)
    for folder in (".venv/lib", "data/demo-defects", "outputs", "worldtune_runs/tune", "search/__pycache__"):
        (checkout / folder).mkdir(parents=True, exist_ok=True)
        (checkout / folder / "file.bin").write_bytes(b"x")
    package = tmp_path / "job.zip"
    create_package(str(checkout), package, include_gitignore=False, excludes=submit.RUNTIME_ENV_EXCLUDES)
    names = set(zipfile.ZipFile(package).namelist())
    tracked = subprocess.run(["git", "ls-files", "search", "trainables", "spaces", "cluster"], cwd=ROOT,
                             capture_output=True, text=True, check=True).stdout.split()
    assert tracked and set(tracked) <= names, "every committed source file is shipped"
    assert {"search/run.py", "trainables/yolo_world/data/__init__.py", "spaces/lightweight.yaml"} <= names
    tops = {name.split("/")[0] for name in names}
    assert not tops & {".git", ".venv", "data", "outputs", "worldtune_runs"}, tops
    assert not any("__pycache__" in name for name in names)
    assert package.stat().st_size < 20 << 20, f"{package.stat().st_size} bytes shipped per job"


def test_submit_checks_the_space_before_contacting_any_cluster(tmp_path: Path) -> None:
    bad = ROOT / "spaces" / "lightweight.yaml"
    outside = tmp_path / "mine.yaml"
    outside.write_text(bad.read_text())
    command = [sys.executable, str(CLUSTER / "submit.py"), "--address", "http://127.0.0.1:9", "--space"]
    done = subprocess.run(command + [str(outside)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "must be inside the project folder" in done.stderr and str(outside) in done.stderr
    done = subprocess.run(command + ["spaces/no-such.yaml"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 2 and "no-such.yaml" in done.stderr


def test_submit_entrypoint_and_runtime_env() -> None:
    submit = _submit_module()
    assert submit.entrypoint("python", "spaces/a b.yaml", ["--trials", "3"]) == \
        "python search/run.py --space 'spaces/a b.yaml' --trials 3"
    env = submit.runtime_env(["WORLDTUNE_DATA_DIR=/mnt/x=y"])
    assert env["working_dir"] == str(ROOT) and env["env_vars"]["WORLDTUNE_DATA_DIR"] == "/mnt/x=y"
    with pytest.raises(submit.WorldtuneError, match="NAME=VALUE"):
        submit.runtime_env(["JUSTANAME"])


def test_submit_tries_again_while_the_job_agent_is_busy_and_only_then(capsys) -> None:
    submit = _submit_module()
    busy = RuntimeError(f"Request failed with status code 500: {submit.AGENT_BUSY}, please try again later..")
    answers: list = [busy, busy, "worldtune_x_1"]

    def head() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert submit.submit_retrying(head, waits_s=(0, 0, 0)) == "worldtune_x_1" and not answers
    assert capsys.readouterr().out.count("job agent is busy") == 2
    answers[:] = [busy, busy]
    with pytest.raises(RuntimeError, match=submit.AGENT_BUSY):
        submit.submit_retrying(head, waits_s=(0,))
    answers[:] = [RuntimeError("Request failed with status code 400: bad runtime_env"), "never"]
    with pytest.raises(RuntimeError, match="bad runtime_env"):
        submit.submit_retrying(head, waits_s=(0, 0))
    assert answers == ["never"], "other errors are not retried"
    first, second = submit.job_id_for("spaces/lightweight.yaml"), submit.job_id_for("spaces/lightweight.yaml")
    assert first.startswith("worldtune_lightweight_") and first != second
