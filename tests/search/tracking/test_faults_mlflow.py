"""A real `mlflow server` (127.0.0.1, SQLite) that stops mid-search and comes back: the search
goes on, queues its MLflow writes, replays them when the server is back, and ends with every
trial and every epoch in MLflow, consistent with the Optuna study.

The same search checks two security defaults from the outside: its Ray dashboard listens on
127.0.0.1 only, and secrets (tokens and keys in the environment, a password in the MLflow URI)
appear nowhere: not in what it prints, not in Ray's logs, not in the results folder, not in the
MLflow store.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from search.space.schema import default_tracking_uri
from search.tracking.experiment import PARENT_TAG, SEARCH_TAG, STATUS_TAG, TRIAL_TAG, experiment_name
from tests.browser import listening_hosts
from tests.processes import kill_search, ray_tmpdir
from tests.project import ROOT, write_space
from trainables.contract import HISTORY_FILE

pytestmark = pytest.mark.slow  # real searches against an MLflow server that goes away


SECRETS = {"HF_TOKEN": "hf_canary_9f3a1c77e2", "AWS_SECRET_ACCESS_KEY": "awscanary/Q8r7T6y5U4",
           "MLFLOW_TRACKING_TOKEN": "mlflowcanary-4b5c6d7e"}
URI_PASSWORD = "uricanary-1a2b3c4d"


class MlflowServer:
    """`mlflow server` on 127.0.0.1 with a SQLite store, stoppable and restartable on its port."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(self.port),
                   "--backend-store-uri", default_tracking_uri(self.folder),
                   "--default-artifact-root", str(self.folder / "artifacts"), "--workers", "1"]
        with open(self.folder / "server.log", "a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=log, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"{self.url}/health", timeout=2)
                return
            except OSError:
                time.sleep(0.5)
        raise AssertionError(f"mlflow server did not start: {(self.folder / 'server.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=60)


@dataclass
class Outage:
    root: Path            # the search's results folder
    server: MlflowServer
    stdout: str
    stderr: str
    ray_tmp: Path         # Ray's session folders (logs) of the search
    dashboard_hosts: set[str]
    down_s: float


def _wait(condition, timeout_s: float, what: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, f"the search ended while waiting for: {what}"
        assert time.monotonic() < deadline, f"timed out waiting for: {what}"
        time.sleep(0.5)


def _epochs_logged(server: MlflowServer, space: str = "outage") -> int:
    client = MlflowClient(server.url)
    experiment = client.get_experiment_by_name(experiment_name(space))
    if experiment is None:
        return 0
    runs = client.search_runs([experiment.experiment_id])
    return sum(len(client.get_metric_history(r.info.run_id, "map")) for r in runs if TRIAL_TAG in r.data.tags)


def _epochs_on_disk(train_storage: Path) -> dict[str, int]:
    """Trial id -> the epochs its latest checkpoint holds (read from disk: MLflow is down)."""
    epochs: dict[str, int] = {}
    for history in train_storage.rglob(HISTORY_FILE):
        trial = history.parent.parent.name  # <trial id>/checkpoint_<time>/history.json
        try:
            epochs[trial] = max(epochs.get(trial, 0), len(json.loads(history.read_text())))
        except (OSError, json.JSONDecodeError):  # being copied into storage right now
            continue
    return epochs


def _epochs_registered(train_storage: Path) -> dict[str, int]:
    """Trial id -> the epoch of its latest checkpoint that Ray Train has registered (in its
    checkpoint manager's snapshot): the one a resumed run starts from. A checkpoint folder alone
    is not that: the worker writes it before the Train controller registers it."""
    epochs: dict[str, int] = {}
    for snapshot in train_storage.rglob("checkpoint_manager_snapshot.json"):
        try:
            latest = json.loads(snapshot.read_text())["latest_checkpoint_result"]
        except (OSError, json.JSONDecodeError, KeyError):  # being written right now
            continue
        if latest:
            epochs[snapshot.parent.name] = latest["metrics"]["epoch"]
    return epochs


def _a_trial_finished(train_storage: Path, epochs: int) -> bool:
    return epochs in _epochs_on_disk(train_storage).values()


def _dashboard_hosts(stdout: Path) -> set[str]:
    """The local addresses the printed dashboard port listens on."""
    found = re.search(r"dashboard http://[^:\s]+:(\d+)", stdout.read_text())
    if not found:
        return set()
    return listening_hosts(int(found.group(1)))


@pytest.fixture(scope="module")
def outage(small_demo_root: Path, tiny_clip_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outage]:
    """A 2-trial, 3-epoch search whose MLflow server is down from the first logged epoch until the
    first trial has finished."""
    folder = tmp_path_factory.mktemp("outage")
    (folder / "mlflow").mkdir()
    server = MlflowServer(folder / "mlflow")  # its own folder: the space file holds the URI password
    server.start()
    ray_tmp = ray_tmpdir()
    space = write_space(folder, "outage", tiny_clip_path, epochs=3, trials=2, max_concurrent=1)
    settings = json.loads(space.read_text())  # the URI in the file: a command line is public (ps)
    settings["storage"]["mlflow_uri"] = f"http://worldtune:{URI_PASSWORD}@127.0.0.1:{server.port}"
    space.write_text(json.dumps(settings))
    env = os.environ | SECRETS | {"WORLDTUNE_DATA_DIR": str(small_demo_root), "RAY_TMPDIR": str(ray_tmp)}
    out, err = folder / "stdout.txt", folder / "stderr.txt"
    with out.open("w") as stdout, err.open("w") as stderr:
        driver = subprocess.Popen([sys.executable, str(ROOT / "search" / "run.py"), "--space", str(space)],
                                  cwd=folder, env=env, stdout=stdout, stderr=stderr, start_new_session=True)
    try:
        _wait(lambda: "dashboard http" in out.read_text(), 120, "the dashboard URL", driver)
        hosts = _dashboard_hosts(out)
        _wait(lambda: _epochs_logged(server) >= 1, 300, "the first epoch in MLflow", driver)
        server.stop()
        stopped = time.monotonic()
        _wait(lambda: _a_trial_finished(folder / "runs" / "train", 3), 300,
              "the first trial to finish while MLflow is down", driver)
        server.start()
        down_s = time.monotonic() - stopped
        _wait(lambda: driver.poll() is not None, 600, "the search to end", driver)
    finally:
        if driver.poll() is None:
            print(out.read_text()[-6000:], err.read_text()[-4000:])  # where it stood
            kill_search(driver, ray_tmp)
    assert driver.returncode == 0, err.read_text()[-4000:]
    yield Outage(folder / "runs", server, out.read_text(), err.read_text(), ray_tmp, hosts, down_s)
    server.stop()
    shutil.rmtree(ray_tmp, ignore_errors=True)


def test_the_search_survives_an_mlflow_outage_and_logs_everything_once_it_is_back(outage: Outage) -> None:
    print(f"MLflow was down {outage.down_s:.0f} s")
    assert "is unreachable" in outage.stderr and "is back after" in outage.stderr
    assert "MLflow gap" not in outage.stdout, "nothing left unlogged: the server came back in time"
    client = MlflowClient(outage.server.url)
    experiment = client.get_experiment_by_name(experiment_name("outage"))
    runs = client.search_runs([experiment.experiment_id])
    (parent,) = [r for r in runs if SEARCH_TAG in r.data.tags]
    children = [r for r in runs if TRIAL_TAG in r.data.tags]
    assert parent.info.status == "FINISHED"
    assert {a.path for a in client.list_artifacts(parent.info.run_id, "pareto")} >= {"pareto/trials.json"}
    assert len(children) == 2 and {c.data.tags[PARENT_TAG] for c in children} == {parent.info.run_id}
    assert {(c.info.status, c.data.tags[STATUS_TAG]) for c in children} == {("FINISHED", "finished")}
    for child in children:
        assert [m.step for m in client.get_metric_history(child.info.run_id, "map")] == [1, 2, 3]
    (db,) = (outage.root / "optuna").glob("*.db")
    study = optuna.load_study(study_name="demo-defects", storage=f"sqlite:///{db}")
    assert sorted(tuple(t.values) for t in study.trials) == sorted(
        (c.data.metrics["map"], c.data.metrics["fps"]) for c in children), "MLflow agrees with Optuna"


def test_the_dashboard_of_a_search_listens_on_localhost_only(outage: Outage) -> None:
    assert outage.dashboard_hosts == {"127.0.0.1"}


def _files(*folders: Path) -> Iterator[Path]:
    for folder in folders:
        yield from (p for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def test_no_secret_appears_in_output_logs_results_or_mlflow(outage: Outage) -> None:
    secrets = [*SECRETS.values(), URI_PASSWORD]
    assert not [s for s in secrets if s in outage.stdout + outage.stderr]
    assert "***@127.0.0.1" in outage.stdout, "the printed MLflow URI is there, its password masked"
    files = list(_files(outage.root, outage.server.folder, outage.ray_tmp))
    assert any("session_" in str(p) and p.suffix in (".log", ".out", ".err") for p in files), "Ray's logs read"
    leaks = [(p.name, s) for p in files for s in secrets if s.encode() in p.read_bytes()]
    # Known, in Ray itself: Tune copies AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN
    # into each trial's runtime env, which Ray's runtime-env agent logs (docs/reliability.md).
    ray_known = [(name, s) for name, s in leaks if name == "runtime_env_agent.log"
                 and s == SECRETS["AWS_SECRET_ACCESS_KEY"]]
    assert leaks == ray_known, "a secret leaked outside the known Ray path"


def test_the_outbox_queues_writes_while_mlflow_is_down_and_replays_them_in_order(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from search.tracking.outbox import Outbox

    server = MlflowServer(tmp_path)
    outbox = Outbox(server.url, retry_every_s=0.2)
    outbox.send("create", lambda client: client.create_experiment("queued"))
    outbox.send("create again", lambda client: client.create_experiment("queued"))  # rejected once up
    outbox.send("tag", lambda client: client.set_experiment_tag(
        client.get_experiment_by_name("queued").experiment_id, "order", "kept"))
    assert outbox.drain(1.0) == ["create", "create again", "tag"], "nothing is written while down"
    assert "is unreachable" in capsys.readouterr().err
    server.start()
    try:
        assert outbox.drain(30.0) == []
        experiment = MlflowClient(server.url).get_experiment_by_name("queued")
        assert experiment.tags["order"] == "kept"
        err = capsys.readouterr().err
        assert "rejected 'create again'" in err and "is back after" in err
    finally:
        server.stop()


def test_a_study_that_ends_while_mlflow_is_down_reports_the_gap_and_keeps_the_front(
        tmp_path: Path, tiny_clip_path: Path, small_demo_root: Path, capsys: pytest.CaptureFixture,
        monkeypatch) -> None:
    from search.results.study_report import StudyReport
    from search.space.loading import load_space
    from search.study.plan import Cluster, make_plan
    from search.study.runner import _report_gap

    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    space = write_space(tmp_path, "gap", tiny_clip_path, trials=1)
    plan = make_plan(load_space(space, {"storage.mlflow_uri": f"http://u:{URI_PASSWORD}@127.0.0.1:1"}),
                     Cluster(cpus=2, gpus=0), "gap-1")
    (study,) = plan.studies
    report = StudyReport.build(study.name, [], plan.space.spec.objectives)
    _report_gap(plan, study, report, ["metrics of trial a", "metrics of trial a", "end of trial a"], "refused")
    printed = capsys.readouterr().out
    assert "MLflow gap in study demo-defects" in printed and "3 write(s) not logged" in printed
    assert "metrics of trial a (x2); end of trial a" in printed and URI_PASSWORD not in printed
    assert {p.name for p in (study.experiment_dir / "pareto").iterdir()} == {"trials.json", "front.csv",
                                                                            "front.png", "front.html"}


def test_a_driver_killed_while_mlflow_is_down_resumes_and_loses_nothing(
        small_demo_root: Path, tiny_clip_path: Path, tmp_path: Path, ray_tmp: Path) -> None:
    """Both faults at once. MLflow goes away after the first epoch; the driver and its Ray cluster
    are killed once trial 1 has finished and Ray Train has registered trial 2's epoch-k checkpoint
    (k = 1 or 2), with MLflow writes queued (trial 1's last epochs and end, trial 2's run).
    `--resume` with MLflow back:
    - trial 1 is not run again; trial 2 continues from its epoch-k checkpoint and trains epochs
      k+1..3 only (its history, mmengine's log and the printed progress agree);
    - every trial and every epoch is in MLflow once, consistent with the Optuna study."""
    (tmp_path / "mlflow").mkdir()
    server = MlflowServer(tmp_path / "mlflow")
    server.start()
    space = write_space(tmp_path, "killed-in-outage", tiny_clip_path, epochs=3, trials=2, max_concurrent=1)
    settings = json.loads(space.read_text())
    settings["storage"]["mlflow_uri"] = server.url
    space.write_text(json.dumps(settings))
    command = [sys.executable, str(ROOT / "search" / "run.py"), "--space", str(space)]
    env = os.environ | {"WORLDTUNE_DATA_DIR": str(small_demo_root), "RAY_TMPDIR": str(ray_tmp)}
    train = tmp_path / "runs" / "train"
    driver = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(lambda: _epochs_logged(server, "killed-in-outage") >= 1, 300, "the first epoch in MLflow", driver)
        server.stop()
        _wait(lambda: sorted(_epochs_registered(train).values()) in ([1, 3], [2, 3]), 300,
              "one trial finished and the next one's first epoch, while MLflow is down", driver)
    finally:
        kill_search(driver, ray_tmp)
        killed_at = time.time()
        server.start()
    try:
        registered = _epochs_registered(train)
        (finished,) = [trial for trial, epochs in registered.items() if epochs == 3]
        (interrupted,) = registered.keys() - {finished}
        k = registered[interrupted]  # the epoch of the checkpoint it resumes from
        (work_dir,) = train.glob(f"*/demo-defects/{interrupted}/work_dir")
        logs_before = set(work_dir.glob("*/*.log"))  # mmengine's log of the Runner that was killed
        client = MlflowClient(server.url)
        experiment = client.get_experiment_by_name(experiment_name("killed-in-outage"))
        before = [r for r in client.search_runs([experiment.experiment_id]) if TRIAL_TAG in r.data.tags]
        assert [len(client.get_metric_history(r.info.run_id, "map")) for r in before] == [1], \
            "MLflow went away after the first epoch: the rest was only queued when the driver died"

        resume_started = time.time()
        resumed = subprocess.run(command + ["--resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                                 timeout=600)
        assert resumed.returncode == 0, resumed.stderr[-4000:]
        assert "resuming" in resumed.stdout

        def progress(trial: str) -> list[str]:
            prefix = f"[worldtune] demo-defects {trial}: "
            return [line.removeprefix(prefix) for line in resumed.stdout.splitlines() if line.startswith(prefix)]
        assert progress(finished) == [], "the finished trial printed no progress: it did not rerun"
        assert [line.split(":")[0] for line in progress(interrupted)] == [f"epoch {e}/3" for e in range(k + 1, 4)], \
            f"the resumed process reports epochs {k + 1}..3 only (resumed from epoch {k}): {progress(interrupted)}"

        # The interrupted trial's own record, in its last checkpoint: one entry per epoch trained, each
        # stamped when it was trained. A trial that started again from scratch has no entry from
        # before the kill (its history starts empty); a resumed one keeps those of its checkpoint.
        children = {r.data.tags[TRIAL_TAG]: r for r in client.search_runs([experiment.experiment_id])
                    if TRIAL_TAG in r.data.tags}
        assert children.keys() == {finished, interrupted}
        history = Path(children[interrupted].data.tags["checkpoint_path"]) / HISTORY_FILE
        epochs = json.loads(history.read_text())
        assert [e["epoch"] for e in epochs] == [1, 2, 3], f"each epoch trained once: {epochs}"
        assert [e["epoch"] for e in epochs if e["timestamp"] < killed_at] == list(range(1, k + 1))
        assert [e["epoch"] for e in epochs if e["timestamp"] > resume_started] == list(range(k + 1, 4))
        # mmengine's log of the resumed Runner: it loaded epoch k's checkpoint and trained only after it
        (resumed_log,) = set(work_dir.glob("*/*.log")) - logs_before
        text = resumed_log.read_text()
        assert f"resumed epoch: {k}, iter: " in text, text[-3000:]
        trained = sorted({int(e) for e in re.findall(r"Epoch\(train\) *\[(\d+)\]", text)})
        assert trained == list(range(k + 1, 4)), f"epochs trained after the resume: {trained}"

        # MLflow: every epoch once, also those whose report died with the driver (logged from the
        # checkpoint's history), and trial 1's end, which only the outbox of the killed driver held.
        for child in children.values():
            assert (child.info.status, child.data.tags[STATUS_TAG]) == ("FINISHED", "finished")
            assert [m.step for m in client.get_metric_history(child.info.run_id, "map")] == [1, 2, 3]
        (db,) = (tmp_path / "runs" / "optuna").glob("*.db")
        study = optuna.load_study(study_name="demo-defects", storage=f"sqlite:///{db}")
        assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE] * 2, "no trial was asked twice"
        assert sorted(tuple(t.values) for t in study.trials) == sorted(
            (c.data.metrics["map"], c.data.metrics["fps"]) for c in children.values()), "MLflow agrees with Optuna"
    finally:
        server.stop()
