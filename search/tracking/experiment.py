"""MLflow's layout of a search: an experiment per space file, a parent run per dataset study, a
child run per trial, found again by their tags (a resumed search continues the same runs).

The tags are what every reader of the store (search/pareto.py, export.py, the analysis) finds
studies and trials by; the trial side of the layout is search/tracking/trial_runs.py.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow.entities import Param
from mlflow.tracking import MlflowClient

from search.redact import redact

EXPERIMENT_PREFIX = "worldtune/"
TRIAL_TAG, SEARCH_TAG, DATASET_TAG, STATUS_TAG = ("worldtune.trial_id", "worldtune.search_id",
                                                  "worldtune.dataset", "worldtune.status")
INFEASIBLE_TAG = "worldtune.infeasible"
"""On a trial that broke a limit and was never trained: which one (`fps 42.1 < min_fps 60`)."""
UNSCORED_TAG = "worldtune.unscored"
"""On a trained trial whose model has no retention figure: why (a reparameterized model)."""
PARENT_TAG = "mlflow.parentRunId"
EXPERIMENT_KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"
"""MLflow 3's UI opens an experiment without this tag on its GenAI pages (traces, no runs)."""


def experiment_id(client: MlflowClient, name: str, artifacts: Path | None) -> str:
    """The experiment `name`, created on first use (with an absolute artifact location, or the
    server's default when `artifacts` is None), and marked as model training for MLflow's UI."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        location = None if artifacts is None else (artifacts / name.replace("/", "-")).as_uri()
        return client.create_experiment(name, artifact_location=location, tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING})
    if EXPERIMENT_KIND_TAG not in experiment.tags:  # made by a worldtune that did not set it yet
        client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
    return experiment.experiment_id


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
        client.log_batch(run_id, params=[Param(k, param_value(v)) for k, v in params.items()])
    else:
        client.update_run(run_id, status="RUNNING")
    return run_id


def param_value(value: Any) -> str:
    return redact(str(value))[:6000]  # MLflow's limit on a param value


def child_runs(client: MlflowClient, experiment: str, parent_run_id: str) -> dict[str, str]:
    """trial id -> child run id, for one study."""
    runs = client.search_runs([experiment], filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
                              max_results=10000)
    return {run.data.tags[TRIAL_TAG]: run.info.run_id for run in runs if TRIAL_TAG in run.data.tags}


def experiment_name(space: str) -> str:
    """The experiment of every search of a space file."""
    return EXPERIMENT_PREFIX + space
