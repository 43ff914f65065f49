"""The end of a study on its MLflow parent run: the front as table + plot, hypervolume, the pick.

Artifacts under `pareto/`: `trials.json` (every trial's outcome: what `search/pareto.py` and
`search/export.py` read back), `front.csv` (the table), `front.png` (the plot) and `front.html`
(the same plot with a tooltip per trial: its values and speed protocol).
"""
from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mlflow.entities import Metric, RunStatus
from mlflow.tracking import MlflowClient

from search.results.front_html import fronts_html
from search.results.plots import FrontSeries, RetentionAxis, plot_front
from search.results.study_report import StudyReport, rows
from search.results.tables import write_csv
from search.space.schema import ObjectivesSpec
from search.tracking.links import FRONT_PLOT

ARTIFACT_DIR, FRONT_FILE = FRONT_PLOT.split("/")
TRIALS_FILE = "trials.json"
RECOMMENDED_TAG = "worldtune.recommended_trial"


def write_files(report: StudyReport, folder: Path, searched: Sequence[str], objectives: ObjectivesSpec,
                title: str) -> list[Path]:
    """trials.json, front.csv and front.png for `report` in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    trials = folder / TRIALS_FILE
    trials.write_text(json.dumps({
        "dataset": report.dataset, "accuracy": objectives.accuracy, "speed": objectives.speed,
        "min_fps": objectives.min_fps, "max_params_m": objectives.max_params_m,
        "retention": objectives.retention_set, "min_retention": objectives.min_retention, "searched": list(searched),
        "run_ids": report.run_ids, "end_to_end": report.end_to_end,
        "outcomes": [o.as_dict() for o in report.outcomes]}, indent=1, default=str))
    write_csv(rows(report, searched), folder / "front.csv")
    retention = (RetentionAxis(report.retention_set, objectives.min_retention) if report.retention_set else None)
    plot = plot_front(report.outcomes, report.front, report.recommendation, folder / FRONT_FILE, title=title,
                      accuracy=objectives.accuracy, speed=objectives.speed, retention=retention)
    page = folder / "front.html"
    page.write_text(fronts_html([FrontSeries(report.dataset, report.outcomes, report.front,
                                             report.recommendation.outcome)],
                                title=title, accuracy=objectives.accuracy, speed=objectives.speed))
    return [trials, folder / "front.csv", plot, page]


def publish_study(client: MlflowClient, parent_run_id: str, report: StudyReport, searched: Sequence[str],
                  objectives: ObjectivesSpec, title: str) -> None:
    """Log the study's front on its parent run and close the run."""
    with tempfile.TemporaryDirectory() as tmp:
        write_files(report, Path(tmp), searched, objectives, title)
        client.log_artifacts(parent_run_id, tmp, artifact_path=ARTIFACT_DIR)
    metrics = {"hypervolume": report.hypervolume, "front_size": len(report.front),
               "trials_total": len(report.outcomes), "trials_full_budget": sum(o.on_budget for o in report.outcomes)}
    client.log_batch(parent_run_id, metrics=[Metric(k, float(v), 0, 0) for k, v in metrics.items()])
    for o in report.outcomes:  # the front's end-to-end figures, on their child runs too
        if o.fps_e2e is not None and o.trial_id in report.run_ids:
            client.log_metric(report.run_ids[o.trial_id], "fps_e2e", o.fps_e2e)
    best = report.recommendation.outcome
    client.set_tag(parent_run_id, "worldtune.hypervolume_reference", "0 on every objective")
    client.set_tag(parent_run_id, "worldtune.recommendation", report.recommendation.reason)
    client.set_tag(parent_run_id, RECOMMENDED_TAG, best.trial_id if best else "")
    client.set_terminated(parent_run_id, RunStatus.to_string(RunStatus.FINISHED))
