"""Train's reports reach Tune from the trial's own thread: every epoch, in order, with its
checkpoint, also the last one reported right before `fit()` returns, and a failing run's
error after the epochs it did report."""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import pytest
import ray.train
from ray import cloudpickle, tune
from ray.train.torch import TorchTrainer

from trainables.resources import TrialResources
from trainables.tune_reports import QueuedReports, fit_reporting_to_tune

pytestmark = pytest.mark.slow  # real Train worker groups inside real Tune trials

EPOCHS = 4
cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the workers cannot import a test module


def _train(config: dict) -> None:
    """Reports EPOCHS epochs back to back (the last one right before returning), each with a
    checkpoint; fails after `fail_after` of them when set."""
    for epoch in range(1, EPOCHS + 1):
        if epoch - 1 == config["fail_after"]:
            raise ValueError(f"broken at epoch {epoch}")
        with tempfile.TemporaryDirectory() as folder:
            (Path(folder) / "state.json").write_text(json.dumps({"epoch": epoch}))
            ray.train.report({"epoch": epoch}, checkpoint=ray.train.Checkpoint.from_directory(folder))


def _trial(params: dict, storage: str) -> None:
    reports = QueuedReports()
    trainer = TorchTrainer(_train, train_loop_config=params, scaling_config=ray.train.ScalingConfig(num_workers=1),
                           run_config=ray.train.RunConfig(name=tune.get_context().get_trial_id(), storage_path=storage,
                                                          callbacks=[reports]))
    fit_reporting_to_tune(trainer.fit, reports)


def test_every_epoch_reaches_tune_in_order_and_a_failure_after_its_epochs(local_ray, tmp_path: Path) -> None:
    trainable = tune.with_resources(tune.with_parameters(_trial, storage=str(tmp_path / "train")),
                                    TrialResources().driver_resources())
    tuner = tune.Tuner(trainable, param_space={"fail_after": tune.grid_search([None, 2])},
                       run_config=tune.RunConfig(name="reports", storage_path=str(tmp_path), verbose=0))
    finished, failed = sorted(tuner.fit(), key=lambda result: result.config["fail_after"] is not None)

    assert finished.error is None
    history = finished.metrics_dataframe
    assert history["epoch"].tolist() == list(range(1, EPOCHS + 1))
    assert history["training_iteration"].tolist() == list(range(1, EPOCHS + 1)), "one Tune iteration per epoch"
    epochs = [json.loads((Path(path) / "state.json").read_text())["epoch"] for path in history["checkpoint_path"]]
    assert epochs == list(range(1, EPOCHS + 1)), "each report names its own checkpoint"

    assert failed.error is not None and "broken at epoch 3" in str(failed.error)
    assert failed.metrics_dataframe["epoch"].tolist() == [1, 2], "the epochs before the error reached Tune"
