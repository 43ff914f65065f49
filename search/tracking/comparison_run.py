"""A comparison of fronts as an MLflow run (`search/pareto.py --log-comparison`).

MLflow shows one run's artifacts at a time, so fronts of several searches or datasets are put
side by side in a run of their own, in the experiment `worldtune-comparisons` (apart from the
`worldtune/<space>` experiments, which hold searches): `comparison/fronts.png` (the fronts
overlaid), `fronts.html` (the same, with a tooltip per trial), `comparison.csv` and
`comparison.md` (the table pareto.py prints), the compared parent runs as params and a tag, and
a description that links each of them.
"""
from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from mlflow.entities import Param, RunStatus
from mlflow.tracking import MlflowClient

from search.results.front_html import fronts_html
from search.results.plots import FrontSeries, plot_fronts
from search.results.tables import markdown_table, write_csv
from search.tracking.experiment import experiment_id
from search.tracking.links import run_page
from search.tracking.store import StoredStudy

COMPARISON_EXPERIMENT = "worldtune-comparisons"
ARTIFACT_DIR = "comparison"
PLOT = f"{ARTIFACT_DIR}/fronts.png"
COMPARED_TAG = "worldtune.compared_runs"
NOTE_TAG = "mlflow.note.content"   # the run's description on its MLflow page


def study_label(study: StoredStudy) -> str:
    return f"{study.experiment.split('/', 1)[-1]} / {study.dataset} ({study.search_id})"


def _objective(studies: Sequence[StoredStudy], name: str) -> str:
    return " | ".join(sorted({getattr(study.objectives, name) for study in studies}))


def log_comparison(client: MlflowClient, studies: Sequence[StoredStudy], table: Sequence[dict[str, object]], *,
                   artifacts: Path | None, ui: str) -> tuple[str, str]:
    """Log the comparison of `studies` (with pareto.py's `table`); returns (experiment id, run id)."""
    experiment = experiment_id(client, COMPARISON_EXPERIMENT, artifacts)
    labels = [study_label(study) for study in studies]
    links = [f"- [{label}]({run_page(ui, s.report.experiment_id, s.run.info.run_id)})"
             for label, s in zip(labels, studies) if s.report.experiment_id]
    note = "\n".join([f"Accuracy/speed fronts of {len(studies)} studies, overlaid in `{PLOT}`:", *links])
    run_id = client.create_run(experiment, run_name=f"fronts of {len(studies)} studies", tags={
        COMPARED_TAG: ",".join(study.run.info.run_id for study in studies), NOTE_TAG: note}).info.run_id
    client.log_batch(run_id, params=[Param(f"study_{index + 1}", label) for index, label in enumerate(labels)])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        series = [FrontSeries(label, study.report.outcomes, study.report.front, study.report.recommendation.outcome)
                  for label, study in zip(labels, studies)]
        title, axes = f"Pareto fronts of {len(studies)} studies", {
            "accuracy": _objective(studies, "accuracy"), "speed": _objective(studies, "speed")}
        plot_fronts(series, folder / Path(PLOT).name, title=title, **axes)
        (folder / "fronts.html").write_text(fronts_html(series, title=title, **axes))
        write_csv(table, folder / "comparison.csv")
        (folder / "comparison.md").write_text(markdown_table(list(table[0]), [list(row.values()) for row in table])
                                              + "\n")
        client.log_artifacts(run_id, tmp, artifact_path=ARTIFACT_DIR)
    client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
    return experiment, run_id
