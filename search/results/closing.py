"""The end-of-search summary: each study's front and pick, the analysis, the links to MLflow and
the commands to compare and export."""
from __future__ import annotations

from collections.abc import Sequence

from search.results.analysis import SearchAnalysis
from search.results.next_space import run_command
from search.results.study_report import StudyReport, format_study
from search.study.plan import SearchPlan
from search.tracking.links import FRONT_PLOT, run_page, runs_table, ui_base


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
        parts += ["", format_study(report, list(study.space.parameters), spec.objectives,
                                   early_stopping=spec.scheduler.type != "none"),
                  f"  files: Tune {study.experiment_dir}, checkpoints {study.train_storage}, "
                  f"Optuna {study.optuna_url}"]
        if analysis is not None:
            parts += ["", analysis.advice[study.name], "", analysis.impact[study.name]]
    if analysis is not None:
        parts += ["", analysis.comparison]
        if analysis.next_space is not None:
            parts += ["", f"Next search (this one's findings applied, each change commented in the file):  "
                          f"{run_command(analysis.next_space)}"]
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
