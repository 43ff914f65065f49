"""Run one dataset study end to end: MLflow parent run, the Tuner (new or restored), the front.

The outcomes come from Tune's ResultGrid, which after `--resume` holds the trials finished
before the interruption too, so the front always covers the whole study.
"""
from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient
from ray import tune

from search.front import Outcome
from search.plan import SearchPlan, StudyPlan
from search.publish import publish_study
from search.summary import StudyReport
from search.tracking import TrialRuns, child_runs, experiment_id, open_parent_run, outcome
from search.tuner import make_tuner, restore_tuner


def _parent_params(plan: SearchPlan, study: StudyPlan) -> dict[str, object]:
    spec = plan.space.spec
    return {"space_file": plan.space.file, "dataset_root": study.dataset.root,
            "train_annotations": study.dataset.train.annotation_file, "train_images": study.dataset.train.image_dir,
            "val_annotations": study.dataset.val.annotation_file, "val_images": study.dataset.val.image_dir,
            "class_texts": study.dataset.class_text_file, "trials": spec.budget.trials,
            "max_concurrent": plan.max_concurrent, "sampler": spec.sampler.type, "seed": spec.sampler.seed,
            "scheduler": spec.scheduler.type, "workers": plan.resources.workers,
            "gpus_per_worker": plan.resources.gpus_per_worker, "cpus_per_worker": plan.resources.cpus_per_worker,
            "searched": ",".join(study.space.parameters), "fixed": study.space.fixed,
            "tune_experiment": study.experiment_dir, "optuna_storage": f"sqlite:///{study.optuna_db}"}


def outcomes_of(results: tune.ResultGrid, accuracy: str, speed: str) -> list[Outcome]:
    found = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        found.append(outcome(trial_id, result.config or {}, metrics, errored=result.error is not None,
                             accuracy=accuracy, speed=speed))
    return found


def run_study(plan: SearchPlan, study: StudyPlan, *, resume: bool, verbose: int = 1) -> StudyReport:
    """Fit (or continue) the study's Tuner and publish its front on the parent run."""
    objectives = plan.space.spec.objectives
    client = MlflowClient(plan.mlflow_uri)
    experiment = experiment_id(client, plan.experiment_name, plan.mlflow_artifacts)
    parent = open_parent_run(client, experiment, plan.search_id, study.name, _parent_params(plan, study))
    if resume and tune.Tuner.can_restore(str(study.experiment_dir)):
        print(f"[worldtune] {study.name}: resuming {study.experiment_dir}", flush=True)
        tuner = restore_tuner(plan, study)
    else:
        callback = TrialRuns(tracking_uri=plan.mlflow_uri, experiment_id=experiment, parent_run_id=parent,
                             accuracy=objectives.accuracy, speed=objectives.speed)
        tuner = make_tuner(plan, study, [callback], verbose=verbose)
    results = tuner.fit()
    report = StudyReport.build(study.name, outcomes_of(results, objectives.accuracy, objectives.speed),
                               objectives, child_runs(client, experiment, parent))
    publish_study(client, parent, report, list(study.space.parameters), objectives,
                  title=f"{plan.space.name} / {study.name} ({plan.search_id})")
    return report
