"""Run one dataset study end to end: MLflow parent run, the Tuner (new or restored), the front.

The outcomes come from Tune's ResultGrid, which after `--resume` holds the trials finished
before the interruption too, so the front always covers the whole study. MLflow must answer when
a study starts; if it goes away later the study goes on, its writes wait in the outbox, and at
the end the study waits up to WORLDTUNE_MLFLOW_WAIT_S seconds for it, else reports the gap and
keeps the front next to the Tune experiment.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from ray import tune

from search.errors import WorldtuneError
from search.redact import credentials_to_environment, redact
from search.results.front import Outcome
from search.results.study_report import StudyReport
from search.study.end_to_end import with_end_to_end
from search.study.plan import SearchPlan, StudyPlan
from search.study.progress import EpochProgress
from search.study.tuner import make_tuner, restore_tuner
from search.tracking.experiment import child_runs, experiment_id, open_parent_run
from search.tracking.outbox import MLFLOW_WAIT_S, outbox_for
from search.tracking.publish import publish_study, write_files
from search.tracking.trial_runs import TrialRuns


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
            "tune_experiment": study.experiment_dir, "optuna_storage": study.optuna_url}


def outcomes_of(results: tune.ResultGrid, objectives: list[str]) -> list[Outcome]:
    found = []
    for result in results:
        metrics = result.metrics or {}
        trial_id = metrics.get("trial_id") or Path(result.path).name
        found.append(Outcome.from_result(trial_id, result.config or {}, metrics, errored=result.error is not None,
                                         objectives=objectives))
    return found


def _open_parent(plan: SearchPlan, study: StudyPlan, uri: str) -> tuple[str, str]:
    """(experiment id, parent run id); a clear error, before any trial, if MLflow is not there."""
    client = MlflowClient(uri)
    try:
        experiment = experiment_id(client, plan.experiment_name, plan.mlflow_artifacts)
        return experiment, open_parent_run(client, experiment, plan.search_id, study.name,
                                           _parent_params(plan, study))
    except Exception as error:  # MlflowException, or the store's own connection error
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise WorldtuneError(redact(f"MLflow at {uri} cannot be reached ({first[:300]}): start it, or pass "
                                    f"--mlflow-uri (default: a SQLite file in the results folder)")) from None


def _counted(items: list[str]) -> str:
    """'a; b (x3)': each distinct item once, with how often it occurs."""
    return "; ".join(item if n == 1 else f"{item} (x{n})" for item, n in Counter(items).items())


def _report_gap(plan: SearchPlan, study: StudyPlan, report: StudyReport, unsent: list[str], why: str) -> None:
    """MLflow did not come back in time: say what it lacks and where the results are instead."""
    folder = study.experiment_dir / "pareto"
    write_files(report, folder, list(study.space.parameters), plan.space.spec.objectives,
                title=f"{plan.space.name} / {study.name} ({plan.search_id})")
    print(redact(f"[worldtune] MLflow gap in study {study.name}: {plan.mlflow_uri} is unreachable ({why}); "
                 f"{len(unsent)} write(s) not logged ({_counted(unsent)}). Nothing is lost: every trial is in "
                 f"the Tune experiment {study.experiment_dir}, the front in {folder}, the Optuna study in "
                 f"{study.optuna_url}."), flush=True)


def _run_ids(client: MlflowClient, experiment: str, parent: str) -> dict[str, str]:
    """trial id -> child run (empty if MLflow went away just now: the front does without)."""
    try:
        return child_runs(client, experiment, parent)
    except MlflowException:
        return {}


def run_study(plan: SearchPlan, study: StudyPlan, *, resume: bool, verbose: int = 1) -> StudyReport:
    """Fit (or continue) the study's Tuner and publish its front on the parent run."""
    objectives = plan.space.spec.objectives
    uri = credentials_to_environment(plan.mlflow_uri)
    experiment, parent = _open_parent(plan, study, uri)
    if resume and tune.Tuner.can_restore(str(study.experiment_dir)):
        print(f"[worldtune] {study.name}: resuming {study.experiment_dir}", flush=True)
        tuner = restore_tuner(plan, study)
    else:
        callback = TrialRuns(tracking_uri=uri, experiment_id=experiment, parent_run_id=parent,
                             objectives=objectives.metrics)
        progress = EpochProgress(study.name, accuracy=objectives.accuracy, speed=objectives.speed)
        tuner = make_tuner(plan, study, [callback, progress], verbose=verbose)
    results = tuner.fit()
    outcomes, end_to_end = with_end_to_end(outcomes_of(results, objectives.metrics),
                                           study.dataset, plan.space.spec.speed)
    outbox = outbox_for(uri)
    reachable = not outbox.drain(MLFLOW_WAIT_S)  # the trials' writes first: the front lists their runs
    report = StudyReport.build(study.name, outcomes, objectives,
                               _run_ids(outbox.client, experiment, parent) if reachable else {}, end_to_end,
                               experiment_id=experiment, parent_run_id=parent)
    outbox.send(f"the front of study {study.name}",
                lambda client: publish_study(client, parent, report, list(study.space.parameters), objectives,
                                             title=f"{plan.space.name} / {study.name} ({plan.search_id})"))
    unsent = outbox.drain(MLFLOW_WAIT_S if reachable else 0.0)
    if unsent:
        _report_gap(plan, study, report, unsent, outbox.last_error)
    return report
