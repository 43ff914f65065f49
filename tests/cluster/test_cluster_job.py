"""A search submitted as a Ray job to a multi-node Ray cluster, end to end, on this machine.

Three real Ray nodes (`ray start`, token authentication on, like a cluster of cluster/): a head
with no CPUs that advertises the trial-driver resource, and two 1-CPU workers. A real MLflow
server from cluster/mlflow-server.sh. `cluster/submit.py` ships the project and follows a
1-trial, 2-worker search, which must succeed, log to that server, place the trial's driver on the
head and its two Train workers on the two other nodes; headless Chromium then shows the job on
the dashboard's jobs page.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from search.study.plan import DRIVER_RESOURCE
from search.tracking.experiment import PARENT_TAG, SEARCH_TAG, STATUS_TAG, experiment_name
from tests.browser import CHROMIUM, Browser, free_port, start_process, stop_process, wait_for
from tests.project import ROOT

pytestmark = pytest.mark.slow  # a three-node Ray cluster and a browser


BIN = Path(sys.executable).parent


@dataclass
class LocalCluster:
    dashboard: str
    token: str
    env: dict[str, str]

    def api(self, path: str) -> dict:
        request = urllib.request.Request(self.dashboard + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def listed(self, what: str) -> list[dict]:
        """Ray's state API through the dashboard: nodes, actors (dead ones too)."""
        return self.api(f"/api/v0/{what}?limit=1000&detail=1")["data"]["result"]["result"]


@pytest.fixture(scope="module")
def cluster(small_demo_root: Path) -> Iterator[LocalCluster]:
    """A head (0 CPUs, trial-driver slots) and two 1-CPU worker nodes, in a private temp dir so no
    other local Ray finds it; token authentication on, as Ray >= 2.59 clusters have it."""
    temp = Path(tempfile.mkdtemp(prefix="wt-", dir="/tmp"))  # short: Ray's socket paths have a limit
    token = secrets.token_hex(16)
    env = os.environ | {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token, "PATH": f"{BIN}:{os.environ['PATH']}",
                        "RAY_USAGE_STATS_ENABLED": "0", "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("RAY_ADDRESS", None)
    gcs, dashboard = free_port(), free_port()
    ray = str(BIN / "ray")
    nodes = [start_process([ray, "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
                     "--dashboard-host=127.0.0.1", f"--dashboard-port={dashboard}", "--num-cpus=0",
                     f"--resources={json.dumps({DRIVER_RESOURCE: 2})}", f"--temp-dir={temp / 'n1'}"], env,
                    temp / "head.log")]
    local = LocalCluster(dashboard=f"http://127.0.0.1:{dashboard}", token=token, env=env)
    try:
        wait_for("the head's dashboard", lambda: local.listed("nodes"), 90)
        for count in (2, 3):  # one at a time: two nodes starting at once on one host can hang
            # Each node its own temp dir, as on separate machines: nodes sharing one would unpack
            # the job's package over the folder the job runs in.
            nodes.append(start_process([ray, "start", "--block", f"--address=127.0.0.1:{gcs}", "--num-cpus=1",
                                 f"--temp-dir={temp / f'n{count}'}"], env, temp / f"worker{count}.log"))
            wait_for(f"{count} alive nodes", lambda: sum(n["state"] == "ALIVE" for n in local.listed("nodes")) == count,
                  90)
        yield local
    finally:
        for node in reversed(nodes):
            stop_process(node)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """cluster/mlflow-server.sh as a cluster's head runs it: SQLite backend, bound to 127.0.0.1."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    server = start_process(["bash", str(ROOT / "cluster" / "mlflow-server.sh"), str(folder)],
                    cluster.env | {"MLFLOW_PORT": str(port), "MLFLOW_WORKERS": "1"}, folder / "server.log")
    uri = f"http://127.0.0.1:{port}"
    try:
        wait_for("the MLflow server", lambda: urllib.request.urlopen(f"{uri}/health", timeout=5).status == 200, 90)
        yield uri
    finally:
        stop_process(server)


@pytest.fixture(scope="module")
def submitted(cluster: LocalCluster, mlflow_server: str, small_demo_root: Path,
              tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, Path, float]:
    """(submit.py's run, the storage root, seconds): a 1-trial, 2-worker search of lightweight.yaml
    on one demo set (its CPU fallback: the tiny model, 160 px, 5 epochs)."""
    storage = tmp_path_factory.mktemp("cluster-runs")
    command = [sys.executable, str(ROOT / "cluster" / "submit.py"), "--address", cluster.dashboard,
               "--space", "spaces/lightweight.yaml", "--python", sys.executable,
               "--env", f"WORLDTUNE_DATA_DIR={small_demo_root}", "--env", "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S=0.2",
               "--dataset", "demo-defects", "--trials", "1", "--workers", "2", "--scheduler", "none",
               "--storage", str(storage), "--mlflow-uri", mlflow_server]
    started = time.monotonic()
    done = subprocess.run(command, cwd=ROOT, env=cluster.env, capture_output=True, text=True, timeout=600)
    return done, storage, time.monotonic() - started


def _job_id(output: str) -> str:
    (job_id,) = re.findall(r"job id: (\S+)", output)
    return job_id


def test_submitted_search_succeeds_and_logs_to_the_mlflow_server(submitted, mlflow_server: str) -> None:
    done, storage, seconds = submitted
    print(f"submitted 1-trial search: {seconds:.0f} s")
    assert done.returncode == 0, (done.stdout + done.stderr)[-6000:]
    job_id = _job_id(done.stdout)
    assert f"job {job_id}: SUCCEEDED" in done.stdout
    assert "[worldtune] plan:" in done.stdout and "recommended" in done.stdout, "the job's log was followed"
    assert f"'{DRIVER_RESOURCE}' resource" in done.stdout, "the plan saw the head's driver slots"
    (metrics,) = re.findall(r"\[worldtune\] metrics: Prometheus config (\S+)", done.stdout)
    assert metrics.endswith("prometheus.yml"), metrics

    client = MlflowClient(mlflow_server)
    experiment = client.get_experiment_by_name(experiment_name("lightweight"))
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if SEARCH_TAG in r.data.tags]
    (child,) = [r for r in runs if r.data.tags.get(PARENT_TAG) == parent.info.run_id]
    assert parent.info.status == "FINISHED" and child.data.tags[STATUS_TAG] == "finished"
    assert [m.step for m in client.get_metric_history(child.info.run_id, "map")] == [1, 2, 3, 4, 5]
    assert child.data.params["size"] == "tiny" and {"fps", "map"} <= set(child.data.metrics)
    assert str(storage) in parent.data.params["tune_experiment"], "results on the given (shared) storage"


def test_trial_driver_on_the_head_and_its_two_workers_on_two_other_nodes(submitted, cluster: LocalCluster) -> None:
    assert submitted[0].returncode == 0
    nodes = cluster.listed("nodes")
    (head,) = [n["node_id"] for n in nodes if n["is_head_node"]]
    actors = cluster.listed("actors")
    workers = [a for a in actors if a["class_name"] == "RayTrainWorker"]
    drivers = [a for a in actors if a["class_name"] in ("ImplicitFunc", "TrainController")]
    assert len(workers) == 2, [a["class_name"] for a in actors]
    assert len({a["node_id"] for a in workers}) == 2 and head not in {a["node_id"] for a in workers}
    assert {a["class_name"] for a in drivers} == {"ImplicitFunc", "TrainController"}, \
        sorted((a["class_name"], a["node_id"] == head) for a in actors)
    assert {a["node_id"] for a in drivers} == {head}, "a lost worker node cannot take the trial's driver"


def test_dashboard_in_chromium_shows_the_submitted_job(submitted, cluster: LocalCluster, tmp_path: Path) -> None:
    assert CHROMIUM.exists(), "the dashboard test needs Debian's chromium: run scripts/setup.sh --test"
    job_id = _job_id(submitted[0].stdout)
    with Browser(CHROMIUM, tmp_path / "profile") as browser:
        browser.set_cookie("ray-authentication-token", cluster.token, cluster.dashboard)
        browser.open(f"{cluster.dashboard}/#/jobs")
        text = browser.wait_for_text(lambda page: job_id in page and "SUCCEEDED" in page, timeout=60)
        png = browser.screenshot(tmp_path / "jobs.png")
    row = next(line for line in text.splitlines() if job_id in line)
    assert "SUCCEEDED" in row or "SUCCEEDED" in text.split(job_id, 1)[1][:400], row
    assert "Authentication Token Required" not in text
    from PIL import Image

    image = Image.open(png)
    low, high = image.convert("L").getextrema()
    assert image.size[0] >= 1000 and high - low > 100, "a rendered page, not a blank one"
