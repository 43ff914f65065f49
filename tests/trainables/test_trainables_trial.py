"""A YOLO-World trial on a real local Ray: data-parallel Train workers, Tune reports, resume, divergence."""
from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real trials on Ray Train


ray = pytest.importorskip("ray")
from ray import tune  # noqa: E402

from tests.project import QUICK_SPEED  # noqa: E402
from trainables.api import TrialResources, make_trainable  # noqa: E402
from trainables.configs.yolo_world import build_trial_config  # noqa: E402
from trainables.dataset_files import DatasetFiles  # noqa: E402
from trainables.params import TrialParams  # noqa: E402

FAST = dict(size="tiny", epochs=2, batch_size=8, image_size=160, close_mosaic_epochs=1, warmup_epochs=0.5,
            warmup_min_iters=2, lr=1e-3)


@pytest.fixture(scope="module")
def defects(small_demo_root: Path) -> DatasetFiles:
    return DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")


def _tune(params: dict, data: DatasetFiles, storage: Path, workers: int = 1,
          speed_cache: Path | None = None) -> tune.ResultGrid:
    def build(values: dict, work_dir: str) -> dict:
        return build_trial_config(TrialParams.from_dict(values), data, work_dir, num_data_workers=0,
                                  speed_cache=speed_cache, speed_protocol=QUICK_SPEED)

    tuner = tune.Tuner(make_trainable(build, TrialResources(workers=workers), storage / "train_runs"),
                       param_space=params, tune_config=tune.TuneConfig(max_concurrent_trials=1),
                       run_config=tune.RunConfig(name="trial", storage_path=str(storage), verbose=0))
    return tuner.fit()


def test_two_worker_trial_reports_every_epoch_with_map_speed_and_checkpoint(
        local_ray, defects: DatasetFiles, tiny_clip_path: Path, tmp_path: Path) -> None:
    (result,) = _tune(FAST | dict(text_encoder=str(tiny_clip_path)), defects, tmp_path, workers=2)
    assert result.error is None
    history = result.metrics_dataframe
    assert history["training_iteration"].tolist() == [1, 2]
    assert history["epoch"].tolist() == [1, 2]
    assert history["map"].between(0, 1).all() and history["map_50"].between(0, 1).all()
    assert history["train_loss"].gt(0).all()
    assert {"ap_scratch", "recall50_stain", "map_small", "lr", "wall_s"} <= set(history.columns)
    # 2 iterations per worker and epoch, no warm-up (under a fifth of 4), then a linear decay to 0.01 lr
    assert history["lr"].tolist() == pytest.approx([1e-3 * (1 - 0.99 / 3), 1e-5])
    final = result.metrics
    assert final["finished_budget"] is True
    assert history["fps"].gt(0).all() and history["fps"].nunique() == 1, "the lane's speed, from epoch 1 on"
    assert history["arch_key"].nunique() == 1 and final["speed_cached"] is False
    assert final["gflops"] > 0 and 0.05 < final["params_m"] < 20
    assert final["speed_protocol"].startswith("pytorch fp32, batch 1, 160 px, network only")
    assert (Path(final["checkpoint_path"]) / "checkpoint.pth").is_file()


def test_a_v1_trial_with_templates_fewer_negatives_and_balanced_sampling_trains(
        local_ray, defects: DatasetFiles, tiny_clip_path: Path, tmp_path: Path) -> None:
    """The seed's knobs together in one real trial: the dual VL-PAN trains, is timed, and reports."""
    (result,) = _tune(FAST | dict(text_encoder=str(tiny_clip_path), version="v1", prompt_templates="ensemble",
                                  synonyms=False, neg_texts=2, repeat_factor_thr=0.3, epochs=1,
                                  close_mosaic_epochs=0), defects, tmp_path)
    assert result.error is None
    final = result.metrics
    assert final["finished_budget"] is True and 0 <= final["map"] <= 1 and final["train_loss"] > 0
    assert final["fps"] > 0 and final["params_m"] > 0
    assert final["train_iters"] > 3  # rare-class images repeat: more than the 24 images' 3 batches of 8


def test_trials_that_differ_only_in_training_share_one_speed_measurement(
        local_ray, defects: DatasetFiles, tiny_clip_path: Path, tmp_path: Path) -> None:
    """Two trials, lr apart: the second reads the first's figure from the speed cache."""
    space = FAST | dict(text_encoder=str(tiny_clip_path), epochs=1, close_mosaic_epochs=0,
                        lr=tune.grid_search([1e-3, 2e-3]))
    results = sorted(_tune(space, defects, tmp_path, speed_cache=tmp_path / "speed"),
                     key=lambda r: r.metrics["trial_id"])
    assert all(r.error is None for r in results)
    assert len({r.metrics["arch_key"] for r in results}) == 1
    assert len({r.metrics["fps"] for r in results}) == 1
    assert sorted(r.metrics["speed_cached"] for r in results) == [False, True]
    assert len(list((tmp_path / "speed").glob("*.json"))) == 1


def test_a_restarted_train_run_resumes_from_its_latest_checkpoint(
        local_ray, defects: DatasetFiles, tiny_clip_path: Path, tmp_path: Path) -> None:
    import ray.train
    from ray.train.torch import TorchTrainer

    from trainables.worker import train_worker

    metrics = []
    for epochs in (1, 2):  # the same run name and storage: the second fit continues the first
        params = TrialParams.from_dict(FAST | dict(text_encoder=str(tiny_clip_path), epochs=epochs,
                                                   close_mosaic_epochs=0))
        cfg = build_trial_config(params, defects, str(tmp_path / "work"), num_data_workers=0)
        trainer = TorchTrainer(train_worker, train_loop_config={"mmengine": cfg},
                               scaling_config=ray.train.ScalingConfig(num_workers=1),
                               run_config=ray.train.RunConfig(name="run", storage_path=str(tmp_path / "runs")))
        metrics.append(trainer.fit().metrics)
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert metrics[1]["wall_s"] > metrics[0]["wall_s"], "the resumed run continues the first run's clock"
    logs = "".join(p.read_text() for p in (tmp_path / "work").rglob("*.log"))
    assert "resumed epoch: 1" in logs


def test_a_diverging_trial_stops_with_a_clear_status(
        local_ray, defects: DatasetFiles, tiny_clip_path: Path, tmp_path: Path) -> None:
    (result,) = _tune(FAST | dict(text_encoder=str(tiny_clip_path), lr=1e12, epochs=3, close_mosaic_epochs=0),
                      defects, tmp_path)
    assert result.error is None, "divergence is a result, not a crash"
    assert result.metrics["status"] == "diverged"
    assert "training loss became" in result.metrics["error"]
    assert result.metrics["finished_budget"] is False


def test_frozen_parts_train_data_parallel(local_ray, defects: DatasetFiles, tiny_clip_path: Path,
                                          tmp_path: Path) -> None:
    """DDP registers only trainable weights: frozen neck/head must be frozen before wrapping."""
    (result,) = _tune(FAST | dict(text_encoder=str(tiny_clip_path), freeze_all=True, frozen_stages=1, epochs=1,
                                  close_mosaic_epochs=0), defects, tmp_path, workers=2)
    assert result.error is None
    assert result.metrics["finished_budget"] is True and result.metrics["epoch"] == 1
