"""After a search: the advisor, the parameter-impact matrices and the comparison across datasets.

Computed once, when every study has ended (the advisor's cross-domain check and the comparison
need all datasets), from the trials' MLflow child runs (search/results/histories.py), then logged on each
study's parent run under `analysis/`: `advice.md`, `impact.md` and `comparison.md` (the same
text the closing summary prints), `next.yaml` (the next search's space, search/results/next_space.py;
also written to the results folder), plus the metric `advisor_findings`. The writes go through the
search's MLflow outbox: if MLflow is away at the end, the summary is still printed, the curves
the advisor judges are missing (it says so) and the files wait for MLflow like the front does.
"""
from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from search.redact import credentials_to_environment, redact
from search.results.across_datasets import comparison
from search.results.advisor import Advice, advise, format_advice
from search.results.histories import TrialHistory, load_histories
from search.results.impact import format_impact, impact_matrix
from search.results.next_space import write_next_space
from search.results.study_report import StudyReport
from search.study.plan import SearchPlan
from search.tracking.experiment import DATASET_TAG, SEARCH_TAG, experiment_id, find_run
from search.tracking.outbox import MLFLOW_WAIT_S, outbox_for

ARTIFACT_DIR = "analysis"


@dataclass(frozen=True)
class SearchAnalysis:
    """Texts per dataset (advisor section, impact table) and the cross-dataset comparison."""

    advice: dict[str, str]
    impact: dict[str, str]
    comparison: str
    findings: list[Advice]
    next_space: Path | None = None   # the space file with the findings applied


def _histories(client: MlflowClient, report: StudyReport, accuracy: str) -> list[TrialHistory]:
    """The study's trial histories; without curves (outcomes only) while MLflow cannot be read."""
    try:
        return load_histories(client, report.outcomes, report.run_ids, accuracy)
    except MlflowException as error:
        print(f"[worldtune] {report.dataset}: the advisor runs without per-epoch curves, MLflow cannot be "
              f"read ({str(error).splitlines()[0][:200]})", file=sys.stderr, flush=True)
        return [TrialHistory(outcome) for outcome in report.outcomes]


def analyse(plan: SearchPlan, reports: Sequence[StudyReport]) -> SearchAnalysis:
    """Everything the closing summary adds to the fronts, logged on the parent runs too."""
    outbox = outbox_for(credentials_to_environment(plan.mlflow_uri))
    objectives = plan.space.spec.objectives
    histories = {report.dataset: _histories(outbox.client, report, objectives.accuracy) for report in reports}
    findings = advise(histories, objectives)
    analysis = SearchAnalysis(
        advice={name: format_advice(name, findings, len(trials)) for name, trials in histories.items()},
        impact={study.name: format_impact(impact_matrix(study.name, report.outcomes, study.space.parameters),
                                          objectives)
                for study, report in zip(plan.studies, reports)},
        comparison=comparison(histories, objectives), findings=findings,
        next_space=write_next_space(plan, reports, findings))
    outbox.send(f"the analysis of search {plan.search_id}", lambda client: publish_analysis(client, plan, analysis))
    outbox.drain(MLFLOW_WAIT_S)
    return analysis


def publish_analysis(client: MlflowClient, plan: SearchPlan, analysis: SearchAnalysis) -> None:
    """`analysis/*.md` and `advisor_findings` on each study's parent run."""
    experiment = experiment_id(client, plan.experiment_name, plan.mlflow_artifacts)
    for name in analysis.advice:
        parent = find_run(client, experiment, {SEARCH_TAG: plan.search_id, DATASET_TAG: name})
        client.log_text(parent, analysis.advice[name] + "\n", f"{ARTIFACT_DIR}/advice.md")
        client.log_text(parent, analysis.impact[name] + "\n", f"{ARTIFACT_DIR}/impact.md")
        client.log_text(parent, analysis.comparison + "\n", f"{ARTIFACT_DIR}/comparison.md")
        if analysis.next_space is not None:
            client.log_text(parent, redact(analysis.next_space.read_text()), f"{ARTIFACT_DIR}/next.yaml")
        count = sum(advice.dataset == name for advice in analysis.findings)
        client.log_batch(parent, metrics=[Metric("advisor_findings", float(count), 0, 0)])
