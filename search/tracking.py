"""MLflow: one experiment per space file, a parent run per dataset study, a child run per trial.

`TrialRuns` is a Tune callback (it runs in the search driver): each trial's child run gets its
values as params, every epoch's metrics at step = epoch, the final speed / size metrics, its
checkpoint path and a status tag (finished, stopped_early, diverged, error). Runs are found by
tag, so a resumed search continues the same parent and child runs instead of duplicating them.
The tracking URI and artifact location are absolute: Tune changes each trial's working folder.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunStatus
from mlflow.tracking import MlflowClient
from ray import tune

from search.front import Outcome


TRIAL_TAG, SEARCH_TAG, DATASET_TAG, STATUS_TAG = ("worldtune.trial_id", "worldtune.search_id",
                                                  "worldtune.dataset", "worldtune.status")
PARENT_TAG = "mlflow.parentRunId"


def experiment_id(client: MlflowClient, name: str, artifacts: Path) -> str:
    """The space's experiment, created with an absolute artifact location on first use."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    return client.create_experiment(name, artifact_location=(artifacts / name.replace("/", "-")).as_uri())


def find_run(client: MlflowClient, experiment: str, tags: dict[str, str]) -> str | None:
    query = " and ".join(f"tags.`{key}` = '{value}'" for key, value in tags.items())
    runs = client.search_runs([experiment], filter_string=query, max_results=1)
    return runs[0].info.run_id if runs else None


def open_parent_run(client: MlflowClient, experiment: str, search_id: str, dataset: str,
                    params: dict[str, Any]) -> str:
    """The study's parent run: reopened when resuming, else created with the study's settings."""
    tags = {SEARCH_TAG: search_id, DATASET_TAG: dataset}
    run_id = find_run(client, experiment, tags)
    if run_id is None:
        run = client.create_run(experiment, run_name=f"{dataset} ({search_id})", tags=tags)
        run_id = run.info.run_id
        client.log_batch(run_id, params=[Param(k, _param(v)) for k, v in params.items()])
    else:
        client.update_run(run_id, status="RUNNING")
    return run_id


def _param(value: Any) -> str:
    return str(value)[:6000]  # MLflow's limit on a param value


def numeric_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a Tune result (booleans as 0/1), without Tune's bookkeeping."""
    skip = {"training_iteration", "timestamp", "time_this_iter_s", "time_total_s", "pid", "time_since_restore",
            "iterations_since_restore", "timesteps_total", "episodes_total", "timesteps_since_restore"}
    return {key: float(value) for key, value in result.items()
            if key not in skip and isinstance(value, int | float) and math.isfinite(float(value))}


def outcome(trial_id: str, values: dict[str, Any], result: dict[str, Any], *, errored: bool,
            accuracy: str, speed: str) -> Outcome:
    """A terminated trial's outcome from its last result; `finished` only when it ran its budget."""
    if errored:
        status = "error"
    elif result.get("status") == "diverged":
        status = "diverged"
    else:
        status = "finished" if result.get("finished_budget") is True else "stopped_early"
    return Outcome(trial_id=trial_id, status=status, accuracy=result.get(accuracy), speed=result.get(speed),
                   params_m=result.get("params_m"), gflops=result.get("gflops"), epochs=result.get("epoch"),
                   checkpoint=result.get("checkpoint_path"), values=dict(values))


class TrialRuns(tune.Callback):
    """Tune callback: one MLflow child run per trial under the study's parent run."""

    def __init__(self, *, tracking_uri: str, experiment_id: str, parent_run_id: str, accuracy: str,
                 speed: str) -> None:
        self.tracking_uri, self.experiment_id, self.parent_run_id = tracking_uri, experiment_id, parent_run_id
        self.accuracy, self.speed = accuracy, speed
        self._client: MlflowClient | None = None
        self._runs: dict[str, str] = {}

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with the experiment
        return self.__dict__ | {"_client": None, "_runs": {}}

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = MlflowClient(self.tracking_uri)
        return self._client

    def _run(self, trial: tune.experiment.Trial) -> str:
        if trial.trial_id not in self._runs:
            tags = {TRIAL_TAG: trial.trial_id, PARENT_TAG: self.parent_run_id}
            run_id = find_run(self.client, self.experiment_id, tags)
            if run_id is None:
                run_id = self.client.create_run(self.experiment_id, run_name=f"trial {trial.trial_id}",
                                                tags=tags | {STATUS_TAG: "running"}).info.run_id
                self.client.log_batch(run_id, params=[Param(k, _param(v)) for k, v in trial.config.items()])
            self._runs[trial.trial_id] = run_id
        return self._runs[trial.trial_id]

    def on_trial_start(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        self.client.update_run(self._run(trial), status="RUNNING")

    def on_trial_result(self, iteration: int, trials: list, trial: tune.experiment.Trial, result: dict,
                        **info) -> None:
        run_id, step = self._run(trial), int(result.get("epoch") or result.get("training_iteration", 0))
        now = int(result.get("timestamp", 0) * 1000)
        self.client.log_batch(run_id, metrics=[Metric(k, v, now, step) for k, v in numeric_metrics(result).items()])
        if result.get("checkpoint_path"):
            self.client.set_tag(run_id, "checkpoint_path", result["checkpoint_path"])

    def _finish(self, trial: tune.experiment.Trial, errored: bool) -> None:
        run_id = self._run(trial)
        result = outcome(trial.trial_id, trial.config, trial.last_result or {}, errored=errored,
                         accuracy=self.accuracy, speed=self.speed)
        self.client.set_tag(run_id, STATUS_TAG, result.status)
        if trial.error_file and errored:
            self.client.set_tag(run_id, "error_file", trial.error_file)
        if (trial.last_result or {}).get("error"):
            self.client.set_tag(run_id, "error", str(trial.last_result["error"])[:5000])
        status = RunStatus.FAILED if errored else RunStatus.FINISHED
        self.client.set_terminated(run_id, RunStatus.to_string(status))

    def on_trial_complete(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        self._finish(trial, errored=False)

    def on_trial_error(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        self._finish(trial, errored=True)


def child_runs(client: MlflowClient, experiment: str, parent_run_id: str) -> dict[str, str]:
    """trial id -> child run id, for one study."""
    runs = client.search_runs([experiment], filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                              max_results=10000)
    return {run.data.tags[TRIAL_TAG]: run.info.run_id for run in runs if TRIAL_TAG in run.data.tags}
