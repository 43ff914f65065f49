"""What a study ended with, as rows and text: the front table, the recommendation, where to look.

The same rows go to the terminal at the end of a run, to the parent run's `front.csv`, and to
`search/pareto.py`'s output, so the three always agree.
"""
from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from search.front import Outcome, Recommendation, hypervolume, pareto_front, recommend
from search.mlflow_links import FRONT_PLOT, run_page, runs_table, ui_base
from search.plan import SearchPlan
from search.schema import ObjectivesSpec

if TYPE_CHECKING:  # search/analysis.py builds on this module
    from search.analysis import SearchAnalysis


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

    @classmethod
    def build(cls, dataset: str, outcomes: Sequence[Outcome], objectives: ObjectivesSpec,
              run_ids: dict[str, str] | None = None, end_to_end: str | None = None,
              experiment_id: str | None = None, parent_run_id: str | None = None) -> StudyReport:
        front = pareto_front(outcomes)
        return cls(dataset=dataset, outcomes=sorted(outcomes, key=lambda o: o.trial_id), front=front,
                   hypervolume=hypervolume(front),
                   recommendation=recommend(outcomes, min_speed=objectives.min_fps,
                                            max_params_m=objectives.max_params_m),
                   run_ids=dict(run_ids or {}), end_to_end=end_to_end, experiment_id=experiment_id,
                   parent_run_id=parent_run_id)


def rows(report: StudyReport, searched: Sequence[str]) -> list[dict[str, object]]:
    """One row per trial: objectives, size, status, front membership, and the searched values."""
    front_ids = {o.trial_id for o in report.front}
    best = report.recommendation.outcome
    return [{"trial": o.trial_id, "status": o.status, "accuracy": o.accuracy, "speed": o.speed,
             "arch": o.arch_key, "fps_e2e": o.fps_e2e, "params_m": o.params_m, "gflops": o.gflops, "epochs": o.epochs,
             "front": o.trial_id in front_ids, "recommended": best is not None and o.trial_id == best.trial_id,
             **{name: o.values.get(name) for name in searched}}
            for o in report.outcomes]


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "*" if value else ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def text_table(table: Sequence[dict[str, object]]) -> str:
    """Fixed-width text table of `rows` (front and recommended shown as '*')."""
    if not table:
        return "  (no trials)"
    columns = list(table[0])
    cells = [[_cell(row[c]) for c in columns] for row in table]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  " + "  ".join(v.ljust(w) for v, w in zip(values, widths))  # noqa: E731
    return "\n".join([line(columns)] + [line(r) for r in cells])


def write_csv(table: Sequence[dict[str, object]], path: Path) -> Path:
    """`rows` (or any table of dicts) as CSV: the header is the first row's keys."""
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(table[0]) if table else ["trial"])
        writer.writeheader()
        writer.writerows(table)
    return path


def markdown_table(header: Sequence[str], table: Sequence[Sequence[object]]) -> str:
    """A markdown table (readable as is in a terminal): the advisor's, impact and comparison tables."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(_cell(value) for value in row) + " |" for row in table])


def skipped_compute(outcomes: Sequence[Outcome]) -> tuple[int, float | None]:
    """The epochs the infeasible trials would have trained (each trial's `epochs`, else the most
    any trial ran) and, at the mean seconds per epoch of the trials that trained, their time."""
    trained = [o for o in outcomes if o.status != "infeasible" and o.epochs and o.wall_s]
    budget = max((o.epochs for o in trained), default=0)
    epochs = sum(int(o.values.get("epochs") or budget) for o in outcomes if o.status == "infeasible")
    per_epoch = sum(o.wall_s for o in trained) / sum(o.epochs for o in trained) if trained else None
    return epochs, None if per_epoch is None else epochs * per_epoch


def _headline_counts(outcomes: Sequence[Outcome], limited: bool) -> str:
    """`2 infeasible, not trained (10 epochs, ~3.1 min saved), 1 stopped early (after epoch 2), `;
    with limits in the space the infeasible count is given even when it is 0."""
    text = ""
    skipped = [o for o in outcomes if o.status == "infeasible"]
    if skipped:
        epochs, seconds = skipped_compute(outcomes)
        saved = f", ~{seconds / 60:.1f} min" if seconds is not None else ""
        text += f"{len(skipped)} infeasible, not trained ({epochs} epochs{saved} saved), "
    elif limited:
        text += "0 infeasible, "
    stopped = sorted(str(o.epochs or "?") for o in outcomes if o.status == "stopped_early")
    if stopped:
        text += f"{len(stopped)} stopped early (after epoch {', '.join(stopped)}), "
    return text


def format_study(report: StudyReport, searched: Sequence[str], objectives: ObjectivesSpec) -> str:
    finished = sum(o.on_budget for o in report.outcomes)
    stops = _headline_counts(report.outcomes, bool(objectives.constraints))
    best = report.recommendation.outcome
    lines = [f"dataset {report.dataset}: {len(report.outcomes)} trials, {finished} ran their full budget, {stops}"
             f"front of {len(report.front)} (accuracy = {objectives.accuracy}, speed = {objectives.speed}), "
             f"hypervolume {report.hypervolume:.4g} (reference point {objectives.accuracy}=0, "
             f"{objectives.speed}=0)",
             text_table(rows(report, searched))]
    protocols = sorted({o.speed_protocol for o in report.outcomes if o.speed_protocol})
    if protocols:
        lines.append(f"  speed: the speed lane, once per architecture (arch), {'; '.join(protocols)}")
    if report.end_to_end:
        lines.append(f"  fps_e2e (front only, trained weights): {report.end_to_end}")
    infeasible = [f"{o.trial_id} {o.infeasible}" for o in report.outcomes if o.status == "infeasible"]
    if infeasible:
        lines.append(f"  infeasible (speed lane, before training): {'; '.join(infeasible)}")
    if best is None:
        lines.append(f"  recommended: none: {report.recommendation.reason}")
    else:
        lines.append(f"  recommended: trial {best.trial_id} ({report.recommendation.reason}): "
                     f"{objectives.accuracy} {best.accuracy:.4f}, {objectives.speed} {best.speed:.1f}, "
                     f"{best.params_m or 0:.2f} M params; checkpoint {best.checkpoint}")
    return "\n".join(lines)


def export_hint(reports: Sequence[StudyReport], command: str, first_dataset: str) -> str:
    """The export command for a dataset that has a recommended trial; without one export.py would
    refuse, so then the hint asks for a trial id."""
    picked = next((r.dataset for r in reports if r.recommendation.outcome is not None), None)
    if picked is not None:
        return f"Export the recommended model:  {command} --dataset {picked} --out exported/"
    return (f"Export a trial (no dataset has a recommended one):  {command} --dataset {first_dataset} "
            "--trial ID --out exported/")


def mlflow_links(reports: Sequence[StudyReport], base: str) -> list[str]:
    """The runs table (every trial, nested under its dataset's parent run) and each front."""
    studies = [r for r in reports if r.experiment_id and r.parent_run_id]
    if not studies:
        return []
    lines = [f"  trials:  {runs_table(base, studies[0].experiment_id)}"]
    lines += [f"  front of {r.dataset}:  {run_page(base, r.experiment_id, r.parent_run_id, FRONT_PLOT)}"
              for r in studies]
    return lines


def format_closing(plan: SearchPlan, reports: Sequence[StudyReport], dashboard_url: str | None,
                   analysis: SearchAnalysis | None = None) -> str:
    """The end-of-run summary: each study's front and pick, the advisor and the parameter impact,
    the comparison across datasets, where the files are, how to look."""
    spec = plan.space.spec
    parts = [f"\n[worldtune] search {plan.search_id} ({plan.space.name}) done"]
    for report, study in zip(reports, plan.studies):
        parts += ["", format_study(report, list(study.space.parameters), spec.objectives),
                  f"  files: Tune {study.experiment_dir}, checkpoints {study.train_storage}, "
                  f"Optuna sqlite:///{study.optuna_db}"]
        if analysis is not None:
            parts += ["", analysis.advice[study.name], "", analysis.impact[study.name]]
    if analysis is not None:
        parts += ["", analysis.comparison]
    uri = plan.mlflow_uri
    where = f"--mlflow-uri {uri}" if spec.storage.mlflow_uri else f"--storage {plan.root}"
    parts += ["", f"MLflow: experiment {plan.experiment_name!r} in {uri} (parent run per dataset, child run per "
                  "trial, pareto/ and analysis/ artifacts on each parent)."]
    if not spec.storage.mlflow_uri:
        parts.append(f"  .venv/bin/mlflow ui --backend-store-uri {uri}    # serves the UI; then open the links below")
    parts += mlflow_links(reports, ui_base(uri))
    parts += [
        f"Compare fronts:  .venv/bin/python search/pareto.py {where}   (add --log-comparison to see them "
        "overlaid in MLflow)",
        export_hint(reports, f".venv/bin/python search/export.py {where} --space {plan.space.name}",
                    plan.studies[0].name),
        f"Ray dashboard: {dashboard_url or 'n/a'}"
        + (" (a local cluster stops with the run; on a cluster it stays up)" if dashboard_url else ""),
    ]
    return "\n".join(parts)
