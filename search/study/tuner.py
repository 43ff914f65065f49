"""One dataset study -> a Ray Tune Tuner: OptunaSearch on (accuracy, speed[, retention]), early
stopping, trials.

Multi-objective OptunaSearch takes the metric and mode lists itself; TuneConfig gets none (lists
there raise). The Optuna study lives in a SQLite file per study, so it survives the driver and
can be inspected (optuna-dashboard). `--resume` restores the Tune experiment: finished trials
stay finished, interrupted ones restart and their Train runs continue from the last checkpoint.
"""
from __future__ import annotations

from typing import Any

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from search.space.schema import ObjectivesSpec, SamplerSpec, SchedulerSpec
from search.study.pareto_scheduler import ParetoRungScheduler
from search.study.plan import SearchPlan, StudyPlan
from search.study.searcher import TruthfulOptunaSearch
from trainables.api import ConfigBuilder, make_trainable
from trainables.params import TrialParams


def make_sampler(spec: SamplerSpec) -> optuna.samplers.BaseSampler:
    """Multivariate TPE (Optuna's default TPE is independent per parameter for multi-objective),
    Optuna's Gaussian-process sampler (the best of them at 20 trials in the replay benchmark,
    docs/benchmarks.md), NSGA-II, or random; constant liar keeps concurrent TPE trials apart. Each
    reads the trials' constraint values (`search/study/searcher.py`) on its own."""
    if spec.type == "tpe":
        return optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=spec.seed)
    if spec.type == "gp":
        # parameters under a `when` fall outside its joint space and are sampled at random: expected
        return optuna.samplers.GPSampler(seed=spec.seed, warn_independent_sampling=False)
    if spec.type == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=spec.seed)
    return optuna.samplers.RandomSampler(seed=spec.seed)


def make_scheduler(spec: SchedulerSpec, objectives: ObjectivesSpec, max_epochs: int) -> TrialScheduler | None:
    """Pareto-aware successive halving on (accuracy, speed), or ASHA on accuracy alone, one rung
    per `reduction_factor` of epochs; None: run all."""
    if spec.type == "none":
        return None
    if spec.type == "pareto":
        return ParetoRungScheduler(accuracy=objectives.accuracy, speed=objectives.speed, max_t=max_epochs,
                                   grace_period=spec.grace_period, reduction_factor=spec.reduction_factor)
    return ASHAScheduler(time_attr="training_iteration", metric=objectives.accuracy, mode="max", max_t=max_epochs,
                         grace_period=min(spec.grace_period, max_epochs), reduction_factor=spec.reduction_factor)


def max_epochs(study: StudyPlan) -> int:
    """The schedulers' `max_t`: the most epochs (Tune iterations) any trial of the study runs."""
    searched = study.space.parameters.get("epochs")
    if searched is not None:
        return int(searched.high if searched.type == "int" else max(searched.values or [1]))
    return int(study.space.fixed.get("epochs", TrialParams().epochs))


def _trainable(plan: SearchPlan, study: StudyPlan) -> Any:
    """The study's trial function; data-loading processes per worker: its CPUs beyond the one
    that trains."""
    workers = max(int(plan.resources.cpus_per_worker) - 1, 0)
    builder = ConfigBuilder(study.dataset, workers, speed_cache=plan.speed_cache,
                            speed_protocol=plan.space.spec.speed, retention=plan.retention)
    return make_trainable(builder, plan.resources, study.train_storage,
                          constraints=plan.space.spec.objectives.constraints)


def make_tuner(plan: SearchPlan, study: StudyPlan, callbacks: list[tune.Callback], *,
               verbose: int = 1) -> tune.Tuner:
    """A fresh Tuner for this study (the Optuna study file is created or reopened)."""
    spec = plan.space.spec
    objectives = spec.objectives.metrics
    study.optuna_db.parent.mkdir(parents=True, exist_ok=True)
    searcher = TruthfulOptunaSearch(space=study.space, metric=objectives, mode=["max"] * len(objectives),
                                    sampler=make_sampler(spec.sampler), constraints=spec.objectives.constraints,
                                    min_retention=spec.objectives.min_retention,
                                    study_name=study.name,
                                    storage=optuna.storages.RDBStorage(study.optuna_url))
    return tune.Tuner(
        _trainable(plan, study),
        tune_config=tune.TuneConfig(search_alg=searcher,
                                    scheduler=make_scheduler(spec.scheduler, spec.objectives,
                                                             max_epochs(study)),
                                    num_samples=spec.budget.trials, max_concurrent_trials=plan.max_concurrent,
                                    time_budget_s=spec.budget.time_limit_s),
        run_config=tune.RunConfig(name=study.name, storage_path=str(study.tune_storage), callbacks=callbacks,
                                  verbose=verbose,
                                  failure_config=tune.FailureConfig(max_failures=0)),
    )


def restore_tuner(plan: SearchPlan, study: StudyPlan) -> tune.Tuner:
    """The interrupted study's Tuner: finished trials are kept, unfinished ones run again."""
    return tune.Tuner.restore(str(study.experiment_dir), _trainable(plan, study), resume_unfinished=True,
                              resume_errored=False, restart_errored=False)
