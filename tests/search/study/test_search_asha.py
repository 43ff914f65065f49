"""`scheduler: {type: asha}` in a real search (local Ray, Optuna and MLflow in SQLite, real trials):
ASHA stops a trial at its first rung, and the stop is recorded as such everywhere.

Which trial ASHA stops is made certain, not left to chance:
- every image of the data set holds one object, the whole image, so a model fresh from its
  initial weights already finds it (mAP 1.0 after one epoch): at 160 px its coarse level's
  boxes, clipped to the image, are the image;
- the second trial starts from the same weights with every class logit's bias at -100: no score
  ever passes the detection threshold, so its mAP is 0.0 after one epoch (the loss is 0 too,
  so one epoch cannot move it);
- the two trials are enqueued in the persistent Optuna study (Optuna's warm start), one at a time:
  the good one reaches the rung (epoch 1 of 2) first, and the silenced one, under the rung's
  cutoff, must stop there.
The silenced trial runs at 96 px, so it is faster than the good one: on (mAP, fps) it is not
dominated, so the Pareto-aware scheduler would have kept it (ASHA ranks by accuracy alone) and
only its stopped status keeps it off the front.
"""
from __future__ import annotations

import json
import pickle
import re
import shutil
from pathlib import Path

import optuna
import pytest
import torch
from mlflow.tracking import MlflowClient
from ray.tune.schedulers import ASHAScheduler

from search.results.front import dominates
from search.space.loading import load_space
from search.space.schema import default_tracking_uri
from search.study.pareto_scheduler import continues
from search.study.tuner import make_scheduler, max_epochs
from search.tracking.experiment import PARENT_TAG, STATUS_TAG, TRIAL_TAG, experiment_name
from tests.project import FAST, QUICK_SPEED
from tests.studies import run_enqueued_study
from trainables.contract import HISTORY_FILE, TrialEnd
from trainables.dataset_files import DatasetFiles

pytestmark = pytest.mark.slow  # a real search on a local Ray

EPOCHS = 2
GOOD, SILENCED = "good", "silenced"
SIZES = {GOOD: 160, SILENCED: 96}


def _whole_image_dataset(demo: Path, root: Path) -> DatasetFiles:
    """The demo images, each with one object of one class: the whole image."""
    files = DatasetFiles.standard("plates", root)
    for split in ("train", "val"):
        source = json.loads((demo / "annotations" / f"instances_{split}.json").read_text())
        shutil.copytree(demo / "images" / split, files.split(split).image_dir)
        annotations = [{"id": image["id"], "image_id": image["id"], "category_id": 1,
                        "bbox": [0, 0, image["width"], image["height"]], "area": image["width"] * image["height"],
                        "iscrowd": 0} for image in source["images"]]
        files.split(split).annotation_file.parent.mkdir(parents=True, exist_ok=True)
        files.split(split).annotation_file.write_text(json.dumps(
            {"images": source["images"], "annotations": annotations, "categories": [{"id": 1, "name": "plate"}]}))
    files.class_text_file.write_text(json.dumps([["metal plate"]]))
    return files


def _start_checkpoints(data: DatasetFiles, clip: Path, folder: Path) -> dict[str, str]:
    """The study's model with its initial weights, and the same with its class logits silenced."""
    from trainables.configs.yolo_world import build_trial_config
    from trainables.params import TrialParams
    from trainables.yolo_world.models import build_model

    torch.manual_seed(0)
    config = build_trial_config(TrialParams.from_dict(FAST | {"text_encoder": str(clip), "cls_loss": "bce"}), data,
                                folder / "init_work_dir", num_data_workers=0)
    model = build_model(config["model"])
    model.init_weights()
    weights = model.state_dict()
    biases = [key for key in weights if re.fullmatch(r"bbox_head\.head_module\.cls_contrasts\.\d\.bias", key)]
    assert len(biases) == 3, f"one class-logit bias per level: {biases}"
    paths = {GOOD: folder / "initial.pth", SILENCED: folder / "silenced.pth"}
    torch.save(weights, paths[GOOD])
    torch.save(weights | {key: torch.full_like(weights[key], -100.0) for key in biases}, paths[SILENCED])
    return {name: str(path) for name, path in paths.items()}


def _space(folder: Path, data: DatasetFiles, clip: Path, checkpoints: dict[str, str]) -> Path:
    fixed = {k: v for k, v in FAST.items() if k != "image_size"} | {"epochs": EPOCHS, "cls_loss": "bce", "lr": 1e-3}
    space = {"name": "asha", "datasets": [{"name": data.name, "root": str(data.root)}],
             "model": {"text_encoder": str(clip)},
             "parameters": {"load_from": {"type": "choice", "values": [checkpoints[GOOD], checkpoints[SILENCED]]},
                            "image_size": {"type": "choice", "values": [SIZES[SILENCED], SIZES[GOOD]]}},
             "fixed": fixed, "sampler": {"type": "tpe", "seed": 0},
             "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
             "budget": {"trials": 2, "max_concurrent": 1},
             "resources": {"workers": 1, "cpus_per_worker": 1}, "speed": QUICK_SPEED.as_dict(),
             "storage": {"root": str(folder / "runs")}}
    file = folder / "asha.yaml"
    file.write_text(json.dumps(space))  # JSON is YAML
    return file


@pytest.fixture(scope="module")
def asha_search(small_demo_root: Path, tiny_clip_path: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> tuple[object, object, object, dict[str, str]]:
    """(the study's report, the plan, the study plan, which checkpoint each trial started from)."""
    folder = tmp_path_factory.mktemp("asha")
    data = _whole_image_dataset(small_demo_root / "demo-defects", folder / "plates")
    checkpoints = _start_checkpoints(data, tiny_clip_path, folder)
    space = load_space(_space(folder, data, tiny_clip_path, checkpoints))
    first = [{"load_from": checkpoints[name], "image_size": SIZES[name]}  # the good trial reaches the rung first
             for name in (GOOD, SILENCED)]
    return (*run_enqueued_study(space, "asha-1", first), checkpoints)


def _which(values: dict, checkpoints: dict[str, str]) -> str:
    return next(name for name, path in checkpoints.items() if values["load_from"] == path)


def test_the_search_ran_asha_from_make_scheduler(asha_search) -> None:
    _, plan, study, _ = asha_search
    spec = plan.space.spec
    built = make_scheduler(spec.scheduler, spec.objectives, max_epochs(study))
    assert isinstance(built, ASHAScheduler) and max_epochs(study) == EPOCHS
    # the scheduler the study's Tuner ran with, as Tune saved it with the experiment
    state = pickle.loads((study.experiment_dir / "tuner.pkl").read_bytes())
    ran = state["_tune_config"].scheduler
    assert type(ran) is type(built)

    def settings(asha: ASHAScheduler) -> tuple:
        """What it ranks by, its budget, its halving and its rungs (epochs, descending)."""
        return (asha._metric, asha._mode, asha._time_attr, asha._max_t, asha._reduction_factor,
                [milestone for milestone, _ in asha._brackets[0]._rungs])
    assert settings(ran) == settings(built) == ("map", "max", "training_iteration", EPOCHS, 2, [2, 1])


def test_asha_stops_the_inaccurate_trial_at_the_first_rung(asha_search) -> None:
    report, _, _, checkpoints = asha_search
    outcomes = {_which(o.values, checkpoints): o for o in report.outcomes}
    assert set(outcomes) == {GOOD, SILENCED}
    good, silenced = outcomes[GOOD], outcomes[SILENCED]
    assert good.status == TrialEnd.FINISHED and good.epochs == EPOCHS and good.accuracy > 0
    assert silenced.status == TrialEnd.STOPPED_EARLY, "ASHA stopped it: mAP 0 under the rung's cutoff"
    assert silenced.epochs == 1 < EPOCHS and silenced.accuracy == 0.0
    history = json.loads((Path(silenced.checkpoint) / HISTORY_FILE).read_text())
    assert [entry["epoch"] for entry in history] == [1], "its last checkpoint holds the one epoch it trained"
    assert not history[-1]["finished_budget"]


def test_the_stopped_trial_is_pruned_in_optuna(asha_search) -> None:
    report, _, study, checkpoints = asha_search
    trials = optuna.load_study(study_name=study.name, storage=study.optuna_url).trials
    states = {_which(t.params, checkpoints): t.state for t in trials}
    assert states == {GOOD: optuna.trial.TrialState.COMPLETE, SILENCED: optuna.trial.TrialState.PRUNED}
    (complete,) = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    (good,) = [o for o in report.outcomes if o.status == TrialEnd.FINISHED]
    assert complete.values == [good.accuracy, good.speed]


def test_the_stopped_trial_has_its_status_and_one_epoch_in_mlflow(asha_search) -> None:
    report, plan, _, checkpoints = asha_search
    client = MlflowClient(default_tracking_uri(plan.root))
    experiment = client.get_experiment_by_name(experiment_name("asha"))
    runs = [r for r in client.search_runs([experiment.experiment_id]) if TRIAL_TAG in r.data.tags]
    assert len(runs) == 2 and {r.data.tags[PARENT_TAG] for r in runs} == {report.parent_run_id}
    by_name = {_which({"load_from": r.data.params["load_from"]}, checkpoints): r for r in runs}
    silenced, good = by_name[SILENCED], by_name[GOOD]
    assert silenced.data.tags[STATUS_TAG] == TrialEnd.STOPPED_EARLY.value
    assert silenced.info.status == TrialEnd.STOPPED_EARLY.mlflow_status == "FINISHED"
    assert [m.step for m in client.get_metric_history(silenced.info.run_id, "map")] == [1]
    assert good.data.tags[STATUS_TAG] == TrialEnd.FINISHED.value and good.info.status == "FINISHED"
    assert [m.step for m in client.get_metric_history(good.info.run_id, "map")] == list(range(1, EPOCHS + 1))


def test_the_stopped_trial_is_kept_off_the_front_though_nothing_dominates_it(asha_search) -> None:
    report, _, _, checkpoints = asha_search
    outcomes = {_which(o.values, checkpoints): o for o in report.outcomes}
    good, silenced = outcomes[GOOD], outcomes[SILENCED]
    assert silenced.speed > good.speed, f"96 px is faster than 160 px: {silenced.speed} vs {good.speed}"
    assert not dominates(good, silenced), "were it eligible, the fast stopped trial would be on the front"
    assert continues((silenced.accuracy, silenced.speed), [(good.accuracy, good.speed)], 2), \
        "the Pareto-aware scheduler would have kept it: the stop is ASHA's, on accuracy alone"
    assert [o.trial_id for o in report.front] == [good.trial_id]
    assert report.recommendation.outcome is not None and report.recommendation.outcome.trial_id == good.trial_id
