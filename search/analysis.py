"""After a search: the advisor, the parameter-impact matrices and the comparison across datasets.

Computed once, when every study has ended (the advisor's cross-domain check and the comparison
need all datasets), from the trials' MLflow child runs (search/histories.py), then logged on each
study's parent run under `analysis/`: `advice.md`, `impact.md` and `comparison.md` (the same
text the closing summary prints), plus the metric `advisor_findings`.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from search.advisor import Advice, advise, format_advice
from search.histories import load_histories
from search.impact import format_impact, impact_matrix
from search.plan import SearchPlan
from search.report import comparison
from search.summary import StudyReport
from search.tracking import DATASET_TAG, SEARCH_TAG, experiment_id, find_run

ARTIFACT_DIR = "analysis"


@dataclass(frozen=True)
class SearchAnalysis:
    """Texts per dataset (advisor section, impact table) and the cross-dataset comparison."""

    advice: dict[str, str]
    impact: dict[str, str]
    comparison: str
    findings: list[Advice]


def analyse(plan: SearchPlan, reports: Sequence[StudyReport]) -> SearchAnalysis:
    """Everything the closing summary adds to the fronts, logged on the parent runs too."""
    client = MlflowClient(plan.mlflow_uri)
    objectives = plan.space.spec.objectives
    histories = {report.dataset: load_histories(client, report.outcomes, report.run_ids, objectives.accuracy)
                 for report in reports}
    findings = advise(histories, objectives)
    analysis = SearchAnalysis(
        advice={name: format_advice(name, findings, len(trials)) for name, trials in histories.items()},
        impact={study.name: format_impact(impact_matrix(study.name, report.outcomes, study.space.parameters),
                                          objectives)
                for study, report in zip(plan.studies, reports)},
        comparison=comparison(histories, objectives), findings=findings)
    publish_analysis(client, plan, analysis)
    return analysis


def publish_analysis(client: MlflowClient, plan: SearchPlan, analysis: SearchAnalysis) -> None:
    """`analysis/*.md` and `advisor_findings` on each study's parent run."""
    experiment = experiment_id(client, plan.experiment_name, plan.mlflow_artifacts)
    for name in analysis.advice:
        parent = find_run(client, experiment, {SEARCH_TAG: plan.search_id, DATASET_TAG: name})
        client.log_text(parent, analysis.advice[name] + "\n", f"{ARTIFACT_DIR}/advice.md")
        client.log_text(parent, analysis.impact[name] + "\n", f"{ARTIFACT_DIR}/impact.md")
        client.log_text(parent, analysis.comparison + "\n", f"{ARTIFACT_DIR}/comparison.md")
        count = sum(advice.dataset == name for advice in analysis.findings)
        client.log_batch(parent, metrics=[Metric("advisor_findings", float(count), 0, 0)])
