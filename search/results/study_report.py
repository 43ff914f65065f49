"""What a study ended with, as rows and text: the front table, the recommendation, where to look.

The same rows go to the terminal at the end of a run, to the parent run's `front.csv`, and to
`search/pareto.py`'s output, so the three always agree.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from search.results.front import Outcome, Recommendation, hypervolume, pareto_front, recommend
from search.results.tables import text_table
from search.space.schema import ObjectivesSpec
from trainables.contract import TrialEnd


@dataclass(frozen=True)
class StudyReport:
    """One dataset study's result; `run_ids` maps trial ids to their MLflow child runs."""

    dataset: str
    outcomes: list[Outcome]
    front: list[Outcome]
    hypervolume: float
    recommendation: Recommendation
    run_ids: dict[str, str] = field(default_factory=dict)
    end_to_end: str | None = None    # the protocol of the front's fps_e2e figures, if measured
    experiment_id: str | None = None  # MLflow: the study's experiment and parent run (the front's home)
    parent_run_id: str | None = None
    retention_set: str | None = None  # the general dataset whose zero-shot accuracy is the third objective

    @classmethod
    def build(cls, dataset: str, outcomes: Sequence[Outcome], objectives: ObjectivesSpec,
              run_ids: dict[str, str] | None = None, end_to_end: str | None = None,
              experiment_id: str | None = None, parent_run_id: str | None = None) -> StudyReport:
        front = pareto_front(outcomes)
        return cls(dataset=dataset, outcomes=sorted(outcomes, key=lambda o: o.trial_id), front=front,
                   hypervolume=hypervolume(front),
                   recommendation=recommend(outcomes, min_speed=objectives.min_fps,
                                            max_params_m=objectives.max_params_m,
                                            min_retention=objectives.min_retention),
                   run_ids=dict(run_ids or {}), end_to_end=end_to_end, experiment_id=experiment_id,
                   parent_run_id=parent_run_id, retention_set=objectives.retention_set)


def rows(report: StudyReport, searched: Sequence[str]) -> list[dict[str, object]]:
    """One row per trial: objectives, size, status, front membership, and the searched values."""
    front_ids = {o.trial_id for o in report.front}
    best = report.recommendation.outcome
    return [{"trial": o.trial_id, "status": o.status, "accuracy": o.accuracy, "speed": o.speed,
             **({"retention": o.retention} if report.retention_set else {}), "arch": o.arch_key,
             "fps_e2e": o.fps_e2e, "params_m": o.params_m, "gflops": o.gflops, "epochs": o.epochs,
             "front": o.trial_id in front_ids, "recommended": best is not None and o.trial_id == best.trial_id,
             **{name: o.values.get(name) for name in searched}}
            for o in report.outcomes]


def skipped_compute(outcomes: Sequence[Outcome]) -> tuple[int, float | None]:
    """The epochs the infeasible trials would have trained (each trial's `epochs`, else the most
    any trial ran) and, at the mean seconds per epoch of the trials that trained, their time."""
    trained = [o for o in outcomes if o.status != TrialEnd.INFEASIBLE and o.epochs and o.wall_s]
    budget = max((o.epochs for o in trained), default=0)
    epochs = sum(int(o.values.get("epochs") or budget) for o in outcomes if o.status == TrialEnd.INFEASIBLE)
    per_epoch = sum(o.wall_s for o in trained) / sum(o.epochs for o in trained) if trained else None
    return epochs, None if per_epoch is None else epochs * per_epoch


def _headline_counts(outcomes: Sequence[Outcome], limited: bool, early_stopping: bool) -> str:
    """`2 infeasible, not trained (10 epochs, ~3.1 min saved), 1 stopped early (after epoch 2), `;
    with limits in the space the infeasible count is given even when it is 0, with a scheduler the
    stopped count."""
    text = ""
    skipped = [o for o in outcomes if o.status == TrialEnd.INFEASIBLE]
    if skipped:
        epochs, seconds = skipped_compute(outcomes)
        saved = f", ~{seconds / 60:.1f} min" if seconds is not None else ""
        text += f"{len(skipped)} infeasible, not trained ({epochs} epochs{saved} saved), "
    elif limited:
        text += "0 infeasible, "
    stopped = sorted(str(o.epochs or "?") for o in outcomes if o.status == TrialEnd.STOPPED_EARLY)
    if stopped:
        text += f"{len(stopped)} stopped early (after epoch {', '.join(stopped)}), "
    elif early_stopping:
        text += "0 stopped early, "
    return text


def format_study(report: StudyReport, searched: Sequence[str], objectives: ObjectivesSpec, *,
                 early_stopping: bool = False) -> str:
    """The study's summary: headline, trial table, speed protocol, infeasible trials, the pick.
    `early_stopping`: the study ran a scheduler, so its stopped count is given even when 0."""
    finished = sum(o.on_budget for o in report.outcomes)
    stops = _headline_counts(report.outcomes, bool(objectives.constraints), early_stopping)
    best = report.recommendation.outcome
    retention = (f", retention = {objectives.accuracy} zero-shot on {report.retention_set}"
                 if report.retention_set else "")
    lines = [f"dataset {report.dataset}: {len(report.outcomes)} trials, {finished} ran their full budget, {stops}"
             f"front of {len(report.front)} (accuracy = {objectives.accuracy}, speed = {objectives.speed}{retention}), "
             f"hypervolume {report.hypervolume:.4g} (reference point 0 on every objective)",
             text_table(rows(report, searched))]
    protocols = sorted({o.speed_protocol for o in report.outcomes if o.speed_protocol})
    if protocols:
        lines.append(f"  speed: the speed lane, once per architecture (arch), {'; '.join(protocols)}; params_m: "
                     f"the deployed network's weights (millions; no text tower, whatever the strategy)")
    if report.end_to_end:
        lines.append(f"  fps_e2e (front only, trained weights): {report.end_to_end}")
    infeasible = [f"{o.trial_id} {o.infeasible}" for o in report.outcomes if o.status == TrialEnd.INFEASIBLE]
    if infeasible:
        lines.append(f"  infeasible (speed lane, before training): {'; '.join(infeasible)}")
    unscored = [f"{o.trial_id} {o.unscored}" for o in report.outcomes if o.status == TrialEnd.UNSCORED]
    if unscored:
        lines.append(f"  unscored (trained, off the front: no retention figure): {'; '.join(unscored)}")
    if best is None:
        lines.append(f"  recommended: none: {report.recommendation.reason}")
    else:
        lines.append(f"  recommended: trial {best.trial_id} ({report.recommendation.reason}): "
                     f"{objectives.accuracy} {best.accuracy:.4f}, {objectives.speed} {best.speed:.1f}, "
                     + (f"retention {best.retention:.4f}, " if best.retention is not None else "")
                     + f"{best.params_m or 0:.2f} M params; checkpoint {best.checkpoint}")
    return "\n".join(lines)


