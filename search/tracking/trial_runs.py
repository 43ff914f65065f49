"""The Tune callback that fills a study's MLflow child runs while its trials run.

`TrialRuns` runs in the search driver: each trial's child run (search/tracking/experiment.py)
gets its values as params, every epoch's metrics at step = epoch (the speed lane's figures among
them, from the first epoch on), the architecture key and speed protocol as tags, its checkpoint
path, and at the end a status tag: how it ended (`TrialEnd`, trainables/contract.py); a diverged
or failed trial's run ends FAILED with the error. Values and errors are redacted (search/redact.py).
The tracking URI and artifact location are absolute: Tune changes each trial's working folder.
"""
from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient
from ray import tune

from search.redact import redact
from search.results.front import Outcome
from search.tracking.experiment import (
    INFEASIBLE_TAG,
    PARENT_TAG,
    STATUS_TAG,
    TRIAL_TAG,
    UNSCORED_TAG,
    find_run,
    param_value,
)
from search.tracking.outbox import Outbox, outbox_for
from trainables import contract

EPOCH_METRIC = contract.EPOCH
"""Logged with every epoch's report: its steps are the epochs a child run already has."""
SPEED_TAGS = (contract.ARCH_KEY, contract.SPEED_PROTOCOL)
"""From the speed lane, in every report: tagged on the child run once, with the first."""
ERROR_TAG_CHARS = 5000
ENDED_RUN_STATUSES = ("FINISHED", "FAILED", "KILLED")


def numeric_metrics(result: dict[str, Any]) -> dict[str, float]:
    """The finite numbers of a Tune result (booleans as 0/1), without Tune's bookkeeping."""
    skip = {"training_iteration", "timestamp", "time_this_iter_s", "time_total_s", "pid", "time_since_restore",
            "iterations_since_restore", "timesteps_total", "episodes_total", "timesteps_since_restore"}
    return {key: float(value) for key, value in result.items()
            if key not in skip and isinstance(value, int | float) and math.isfinite(float(value))}


def checkpoint_history(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every epoch's report so far, from the reported checkpoint (empty when it has none)."""
    folder = result.get(contract.CHECKPOINT_PATH)
    history = Path(folder) / contract.HISTORY_FILE if folder else None
    if history is None or not history.is_file():  # no checkpoint, or storage this process cannot read
        return []
    return json.loads(history.read_text())


def error_text(trial: tune.experiment.Trial) -> str:
    """Why a trial failed: its last result's error (diverged), else the end of Tune's error file."""
    text = str((trial.last_result or {}).get(contract.ERROR) or "")
    if not text and trial.error_file and Path(trial.error_file).is_file():
        text = Path(trial.error_file).read_text(errors="replace")[-ERROR_TAG_CHARS:]
    return redact(text)[-ERROR_TAG_CHARS:]


class TrialRuns(tune.Callback):
    """Tune callback: one MLflow child run per trial under the study's parent run.

    Every write goes through the URI's `Outbox`, so an MLflow outage queues them instead of
    failing the search. Each epoch is logged once, at step = epoch: epochs a run already has are
    skipped, and epochs it lacks are filled in from the checkpoint's history (a report that died
    with a killed driver, or a run found again after `--resume`). At the end, trials that had ended
    before this driver started (a resumed search) are written again where MLflow lacks their end:
    a driver killed while MLflow was away took their queued writes with it.
    """

    def __init__(self, *, tracking_uri: str, experiment_id: str, parent_run_id: str,
                 objectives: Sequence[str]) -> None:
        self.tracking_uri, self.experiment_id, self.parent_run_id = tracking_uri, experiment_id, parent_run_id
        self.objectives = list(objectives)  # accuracy, speed[, retention]
        self._runs: dict[str, str] = {}
        self._epochs: dict[str, set[int]] = {}
        self._ended: set[str] = set()
        self._speed_tagged: set[str] = set()

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with the experiment
        return self.__dict__ | {"_runs": {}, "_epochs": {}, "_ended": set(), "_speed_tagged": set()}

    @property
    def outbox(self) -> Outbox:
        return outbox_for(self.tracking_uri)

    def _run(self, client: MlflowClient, trial_id: str, config: dict[str, Any]) -> str:
        """The trial's child run, found by tag or created with its values as params."""
        if trial_id not in self._runs:
            tags = {TRIAL_TAG: trial_id, PARENT_TAG: self.parent_run_id}
            run_id = find_run(client, self.experiment_id, tags)
            if run_id is None:
                run_id = client.create_run(self.experiment_id, run_name=f"trial {trial_id}",
                                           tags=tags | {STATUS_TAG: "running"}).info.run_id
            # Also for a run found again: its params may have been lost with an outage or a crash
            # right after it was created (logging the same values twice is allowed).
            client.log_batch(run_id, params=[Param(k, param_value(v)) for k, v in config.items()])
            logged = {m.step for m in client.get_metric_history(run_id, EPOCH_METRIC)}
            self._runs[trial_id], self._epochs[trial_id] = run_id, logged
        return self._runs[trial_id]

    def _send(self, what: str, trial: tune.experiment.Trial, write: Callable[[MlflowClient, str], object]) -> None:
        trial_id, config = trial.trial_id, dict(trial.config)
        self.outbox.send(f"{what} of trial {trial_id}",
                         lambda client: write(client, self._run(client, trial_id, config)))

    def _log_epochs(self, client: MlflowClient, trial_id: str, run_id: str, reports: list[dict[str, Any]]) -> None:
        logged = self._epochs[trial_id]
        metrics, steps = [], set()
        for report in reports:
            step = int(report.get(contract.EPOCH) or report.get("training_iteration", 0))
            if step in logged or step in steps:
                continue
            steps.add(step)
            now = int(report.get("timestamp", time.time()) * 1000)
            metrics += [Metric(k, v, now, step) for k, v in numeric_metrics(report).items()]
        if metrics:
            client.log_batch(run_id, metrics=metrics)
        logged |= steps

    def on_step_end(self, iteration: int, trials: list, **info) -> None:
        self.outbox.flush()  # replays queued writes soon after MLflow is back

    def on_trial_start(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        self._send("start", trial, lambda client, run_id: client.update_run(run_id, status="RUNNING"))

    def on_trial_result(self, iteration: int, trials: list, trial: tune.experiment.Trial, result: dict,
                        **info) -> None:
        reports, trial_id = checkpoint_history(result) + [dict(result)], trial.trial_id
        self._send("metrics", trial, lambda client, run_id: self._log_epochs(client, trial_id, run_id, reports))
        speed_tags = [RunTag(name, str(result[name])) for name in SPEED_TAGS if result.get(name)]
        if speed_tags and trial_id not in self._speed_tagged:
            self._speed_tagged.add(trial_id)
            self._send("speed tags", trial, lambda client, run_id: client.log_batch(run_id, tags=speed_tags))
        if result.get(contract.CHECKPOINT_PATH):
            path = str(result[contract.CHECKPOINT_PATH])
            self._send("checkpoint path", trial,
                       lambda client, run_id: client.set_tag(run_id, contract.CHECKPOINT_PATH, path))

    def _finish(self, trial: tune.experiment.Trial, errored: bool) -> None:
        result = Outcome.from_result(trial.trial_id, trial.config, trial.last_result or {}, errored=errored,
                                     objectives=self.objectives)
        ended = contract.TrialEnd(result.status)
        tags = [RunTag(STATUS_TAG, ended.value)]
        if ended.failed:
            why = error_text(trial) or f"ran its budget without reporting {' and '.join(self.objectives)}"
            tags.append(RunTag("error", why))
            if trial.error_file:
                tags.append(RunTag("error_file", trial.error_file))
        if result.infeasible:
            tags.append(RunTag(INFEASIBLE_TAG, result.infeasible))
        if result.unscored:
            tags.append(RunTag(UNSCORED_TAG, result.unscored))
        status = ended.mlflow_status

        def end(client: MlflowClient, run_id: str) -> None:
            if client.get_run(run_id).info.status in ENDED_RUN_STATUSES:
                return  # written by the driver before a resume: keep its end time
            client.log_batch(run_id, tags=tags)
            client.set_terminated(run_id, status)

        self._ended.add(trial.trial_id)
        self._send("end", trial, end)

    def on_trial_complete(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        self._finish(trial, errored=False)

    def on_trial_error(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        self._finish(trial, errored=True)

    def on_experiment_end(self, trials: list, **info) -> None:
        ended_before = [trial for trial in trials if trial.trial_id not in self._ended
                        and trial.status in (tune.experiment.Trial.TERMINATED, tune.experiment.Trial.ERROR)]
        for trial in ended_before:
            if trial.last_result:
                self.on_trial_result(0, trials, trial, trial.last_result)
            self._finish(trial, errored=trial.status == tune.experiment.Trial.ERROR)


