"""`search/pareto.py --log-comparison` on a real MLflow SQLite store holding two searches of one
dataset (written the way a search writes them: parent runs opened and published by search/),
and the links the closing summary prints."""
from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image

from search import pareto
from search.results.front import Outcome
from search.results.study_report import StudyReport
from search.space.schema import ObjectivesSpec, default_tracking_uri
from search.tracking.comparison_run import COMPARED_TAG, COMPARISON_EXPERIMENT, NOTE_TAG, PLOT
from search.tracking.experiment import EXPERIMENT_KIND_TAG, MODEL_TRAINING, experiment_id, open_parent_run
from search.tracking.links import LOCAL_UI, run_page, runs_table, ui_base
from search.tracking.publish import publish_study

pytestmark = pytest.mark.slow  # real MLflow stores


# (accuracy, speed) per trial of two searches of demo-ct; the second's front dominates the first's
SEARCHES = {"s-one": [(0.20, 80.0), (0.17, 87.0), (0.15, 70.0)], "s-two": [(0.22, 80.0), (0.19, 87.0)]}
BLUE, ORANGE = (31, 119, 180), (255, 127, 14)   # matplotlib's first two tab10 colours


@pytest.fixture
def store(tmp_path: Path) -> Path:
    client = MlflowClient(default_tracking_uri(tmp_path))
    objectives = ObjectivesSpec()
    for search, points in SEARCHES.items():
        experiment = experiment_id(client, "worldtune/lightweight", tmp_path / "mlflow_artifacts")
        parent = open_parent_run(client, experiment, search, "demo-ct", {"trials": len(points)})
        outcomes = [Outcome(trial_id=f"{search}-{i}", status="finished", accuracy=acc, speed=fps,
                            values={"lr": 1e-3 * (i + 1)}, speed_protocol="pytorch fp32, batch 1")
                    for i, (acc, fps) in enumerate(points)]
        report = StudyReport.build("demo-ct", outcomes, objectives, experiment_id=experiment, parent_run_id=parent)
        publish_study(client, parent, report, ["lr"], objectives, title=f"lightweight / demo-ct ({search})")
    return tmp_path


def _colour_pixels(png: Path, colour: tuple[int, int, int]) -> int:
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    return int((np.abs(pixels - colour).sum(axis=2) < 30).sum())


def test_log_comparison_overlays_both_searches_fronts_in_an_mlflow_run(store: Path,
                                                                       capsys: pytest.CaptureFixture) -> None:
    assert pareto.main(["--storage", str(store), "--log-comparison"]) == 0
    printed = capsys.readouterr().out
    client = MlflowClient(default_tracking_uri(store))
    experiment = client.get_experiment_by_name(COMPARISON_EXPERIMENT)
    assert experiment.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    (run,) = client.search_runs([experiment.experiment_id])
    parents = client.search_runs([client.get_experiment_by_name("worldtune/lightweight").experiment_id])
    assert sorted(run.data.tags[COMPARED_TAG].split(",")) == sorted(p.info.run_id for p in parents)
    assert sorted(run.data.params.values()) == ["lightweight / demo-ct (s-one)", "lightweight / demo-ct (s-two)"]
    assert all(run_page(LOCAL_UI, p.info.experiment_id, p.info.run_id) in run.data.tags[NOTE_TAG] for p in parents)
    assert f"fronts overlaid:  {run_page(LOCAL_UI, experiment.experiment_id, run.info.run_id, PLOT)}" in printed
    folder = Path(client.download_artifacts(run.info.run_id, "comparison", str(store / "dl")))
    assert {p.name for p in folder.iterdir()} == {"fronts.png", "fronts.html", "comparison.csv", "comparison.md"}
    page = (folder / "fronts.html").read_text()
    tooltips = re.findall(r"<title>(.*?)</title>", page, re.S)[1:]   # the first is the page's
    assert len(tooltips) == 5, "one per trial, each with its values and speed protocol"
    assert "trial s-two-0 (lightweight / demo-ct (s-two)), recommended\nmap 0.2200, fps 80.0\nlr = 0.001\n" \
           "speed: pytorch fp32, batch 1" in tooltips
    with (folder / "comparison.csv").open() as stream:
        table = {row["search"]: row for row in csv.DictReader(stream)}
    assert table["s-two"]["covers"] == "s-one: 100%" and table["s-one"]["covers"] == "s-two: 0%"
    assert "| lightweight | s-two | demo-ct | 2 | 2 | 2 |" in (folder / "comparison.md").read_text()
    # both fronts are drawn, each in its own colour
    assert _colour_pixels(folder / "fronts.png", BLUE) > 500 and _colour_pixels(folder / "fronts.png", ORANGE) > 500


def test_an_experiment_made_before_the_kind_tag_gets_it_when_used_again(tmp_path: Path) -> None:
    client = MlflowClient(default_tracking_uri(tmp_path))
    old = client.create_experiment("worldtune/old", artifact_location=(tmp_path / "a").as_uri())
    assert EXPERIMENT_KIND_TAG not in client.get_experiment(old).tags
    assert experiment_id(client, "worldtune/old", tmp_path) == old
    assert client.get_experiment(old).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING


@pytest.mark.parametrize("uri, base", [
    ("sqlite:////tmp/runs/mlflow.db", "http://127.0.0.1:5000"),
    ("http://10.0.0.5:5000", "http://10.0.0.5:5000"),
    ("https://bob:s3cr3t@mlflow.example.com/team/", "https://mlflow.example.com/team"),
])
def test_links_go_to_the_ui_that_serves_the_store_and_open_the_runs_view(uri: str, base: str) -> None:
    assert ui_base(uri) == base
    assert runs_table(base, "3") == f"{base}/#/experiments/3/runs?workflowType=machine_learning"
    link = run_page(base, "3", "abc", "pareto/front.png")
    assert re.fullmatch(re.escape(base) + r"/#/experiments/3/runs/abc/artifactPath/pareto/front\.png\?"
                        r"workflowType=machine_learning", link)
