"""The lr a trial trains at: the official warm-up, capped on short runs, then a decay from the searched lr."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from mmengine.hooks import Hook

from trainables.configs.recipe import Schedule, iterations_per_epoch
from trainables.params import TrialParams

OFFICIAL = Schedule.of(TrialParams())  # 80 epochs, warm-up max(3 epochs, 1000 iterations)


def _factors(schedule: Schedule, per_epoch: int) -> list[float]:
    return [schedule.lr_factor(i, per_epoch) for i in range(schedule.epochs * per_epoch)]


def test_a_long_run_keeps_the_official_warm_up() -> None:
    assert OFFICIAL.warmup_iters(100) == 1000            # 3 epochs = 300 < the 1000-iteration floor
    assert OFFICIAL.warmup_iters(1000) == 3000           # 3 epochs
    factors = _factors(OFFICIAL, 100)
    assert factors[999] == 1.0 and factors[0] == pytest.approx(1 / 1000)
    assert factors[-1] == pytest.approx(OFFICIAL.lr_final_factor)


def test_a_small_dataset_trains_at_its_lr_after_a_capped_warm_up() -> None:
    """120 images, batch 8, 12 epochs: 180 iterations, which the 1000-iteration floor would span."""
    schedule = replace(OFFICIAL, epochs=12, batch_size=8)
    per_epoch = iterations_per_epoch(120, batch_size=8, workers=1)
    assert per_epoch == 15
    warmup = schedule.warmup_iters(per_epoch)
    assert warmup == int(schedule.warmup_max_fraction * 180) == 36
    factors = _factors(schedule, per_epoch)
    assert max(factors) == factors[warmup - 1] == factors[warmup] == 1.0, "the lr it was given, reached"
    assert all(a < b for a, b in zip(factors[:warmup - 1], factors[1:warmup])), "a rising warm-up"
    assert all(a >= b for a, b in zip(factors[warmup:], factors[warmup + 1:])), "then only decay"
    assert factors[-1] == pytest.approx(schedule.lr_final_factor)


@pytest.mark.parametrize("schedule_name", ["linear", "cosine"])
def test_the_decay_halves_at_the_middle_of_the_post_warm_up_run(schedule_name: str) -> None:
    schedule = replace(OFFICIAL, epochs=11, lr_schedule=schedule_name, lr_final_factor=0.0, warmup_min_iters=0,
                       warmup_epochs=1)
    assert schedule.lr_factor(10 + 50, 10) == pytest.approx(0.5, abs=0.01)  # 10 warm-up, 100 after


def test_iterations_split_images_over_workers_then_batches() -> None:
    assert iterations_per_epoch(24, batch_size=8, workers=2) == 2
    assert iterations_per_epoch(25, batch_size=8, workers=1) == 4
    assert iterations_per_epoch(3, batch_size=8, workers=4) == 1


def test_the_warm_up_share_is_checked() -> None:
    from trainables.params import InvalidTrialParams

    with pytest.raises(InvalidTrialParams, match="warmup_max_fraction"):
        TrialParams(warmup_max_fraction=0)


@pytest.mark.slow
def test_the_logged_lr_of_a_real_run_reaches_the_searched_lr(small_demo_root: Path, tiny_clip_path: Path,
                                                              tmp_path: Path) -> None:
    """mmengine's Runner on the trial's own config (Ray's report hook left out): the lr it logs each
    iteration rises to the searched lr at the end of the warm-up, for the weights and the biases."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401
    from trainables.configs.yolo_world import build_trial_config
    from trainables.dataset_files import DatasetFiles
    from trainables.local_training import local_config

    data = DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")
    params = TrialParams(size="tiny", image_size=160, epochs=2, batch_size=8, close_mosaic_epochs=0, lr=4e-3,
                         warmup_max_fraction=0.5, text_encoder=str(tiny_clip_path))  # else official warm-up
    runner = Runner.from_cfg(Config(local_config(build_trial_config(params, data, tmp_path / "work",
                                                                    num_data_workers=0))))
    seen: list[list[float]] = []
    runner.register_hook(_LrRecorder(seen), priority="LOW")
    runner.train()
    per_epoch = len(runner.train_dataloader)
    warmup = Schedule.of(params).warmup_iters(per_epoch)
    assert per_epoch == 3 and warmup == 3, "6 iterations: the 1000-iteration floor capped at half"
    peak = [max(lrs) for lrs in seen]
    assert peak[warmup - 1] == pytest.approx(4e-3), "the searched lr, reached"
    assert peak[0] == pytest.approx(4e-3 / warmup)
    assert max(max(lrs) for lrs in seen) == pytest.approx(4e-3), "and never exceeded, biases included"
    logged = runner.message_hub.get_scalar("train/lr").data[0]
    assert len(logged) == 6 and max(logged) <= 4e-3 * (1 + 1e-9)


class _LrRecorder(Hook):
    """A hook that keeps every parameter group's lr at each training iteration."""

    def __init__(self, seen: list[list[float]]) -> None:
        self.seen = seen

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self.seen.append([group["lr"] for group in runner.optim_wrapper.optimizer.param_groups])
