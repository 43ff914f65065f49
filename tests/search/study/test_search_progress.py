"""The driver's console progress (search/study/progress.py) on a real local Ray Tune run with ASHA: a
line per epoch, and a trial the scheduler stops is said to be stopped, not left looking alive."""
from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import ray
from ray import tune
from ray.tune.schedulers import ASHAScheduler

from search.study.progress import EpochProgress

pytestmark = pytest.mark.slow  # a real Ray Tune run


EPOCHS = 4


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


def test_epoch_lines_and_a_line_for_each_trial_the_scheduler_stops(local_ray, capsys) -> None:
    def trial(config: dict) -> None:  # nested: Ray pickles it by value (tests/ is not importable on workers)
        for epoch in range(1, EPOCHS + 1):
            tune.report({"epoch": epoch, "map": config["quality"] * epoch, "train_loss": 1 / epoch,
                         "finished_budget": epoch == EPOCHS, "fps": 30.0})  # the lane's speed: every report

    scheduler = ASHAScheduler(metric="map", mode="max", max_t=EPOCHS, grace_period=1, reduction_factor=2)
    tuner = tune.Tuner(trial, param_space={"quality": tune.grid_search([1.0, 0.5, 0.25]), "epochs": EPOCHS},
                       tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=1),
                       run_config=tune.RunConfig(verbose=0, callbacks=[EpochProgress("demo", accuracy="map",
                                                                                     speed="fps")]))
    results = tuner.fit()
    output = capsys.readouterr().out
    by_trial: dict[str, list[str]] = {}
    for trial_id, text in re.findall(r"^\[worldtune\] demo (\w+): (.*)$", output, re.MULTILINE):
        by_trial.setdefault(trial_id, []).append(text)
    best = next(r for r in results if r.config["quality"] == 1.0)
    stopped = [r for r in results if r.metrics["finished_budget"] is not True]
    assert stopped, "ASHA stopped the worse trials at the first rung"
    assert by_trial[best.metrics["trial_id"]] == [
        "epoch 1/4: map 1, train_loss 1, fps 30", "epoch 2/4: map 2, train_loss 0.5, fps 30",
        "epoch 3/4: map 3, train_loss 0.3333, fps 30", "epoch 4/4: map 4, train_loss 0.25, fps 30"]
    for result in stopped:
        lines = by_trial[result.metrics["trial_id"]]
        epoch = result.metrics["epoch"]
        assert lines[-1] == f"stopped early after epoch {epoch}/4 by the scheduler or the time limit (partial " \
            "accuracy, so not on the Pareto front)", lines
        assert len(lines) == epoch + 1
