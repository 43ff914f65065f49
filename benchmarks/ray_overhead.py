"""Benchmark: what Ray Tune + Ray Train cost per trial against the same mmengine config run directly.

Three runs of the same YOLO-World config on the same demo set, one after the other on this
machine: mmengine's Runner in-process; a one-worker Ray Train TorchTrainer holding the same CPUs;
and one trial through Ray Tune the way a search runs it (Tuner -> the service's trial function ->
TorchTrainer). Prints the wall times and ratios, and writes them with the machine description to
benchmarks/results/ray_overhead.md. Ray's own start-up (`ray.init`) is outside the timings: a
search pays it once, not per trial.

The Ray runs keep what a trial does besides training (a checkpoint reported every epoch, a speed
measurement at the end, cut to `--speed-runs` timed forwards); the direct run has neither. Their
last report's `wall_s` (the worker's Runner, from its construction to that report) splits their
extra time into work inside the Runner and Ray's own (worker processes, imports, teardown).

    .venv/bin/python benchmarks/ray_overhead.py [--epochs 6] [--image-size 224] [--dataset demo-defects]
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import write_report  # noqa: E402
from search.datasets import default_data_root, ensure_demo_dataset  # noqa: E402
from search.datasets.demo_text_encoder import ensure_demo_text_encoder  # noqa: E402
from search.environment import configure  # noqa: E402
from trainables import contract  # noqa: E402
from trainables.configs.yolo_world import build_trial_config  # noqa: E402
from trainables.params import TrialParams  # noqa: E402

REPORT_HOOK = "RayTrainReportHook"


def _direct(cfg: dict) -> float:
    """Wall seconds of Runner construction + training, in this process, no Ray."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401

    cfg = Config(copy.deepcopy(cfg))
    cfg.pop("worldtune")
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != REPORT_HOOK]
    cfg.model.use_syncbn = False
    cfg.work_dir += "-direct"
    start = time.perf_counter()
    Runner.from_cfg(cfg).train()
    return time.perf_counter() - start


def _timed_under_ray(cpus: int, fit: Callable[[], dict]) -> tuple[float, float]:
    """Wall seconds of `fit()` in a fresh local Ray (started before, stopped after the clock), and
    the `wall_s` of the last report `fit()` returns."""
    import ray

    ray.init(num_cpus=cpus, include_dashboard=False, configure_logging=False, log_to_driver=False)
    try:
        start = time.perf_counter()
        metrics = fit()
        return time.perf_counter() - start, float(metrics[contract.WALL_S])
    finally:
        ray.shutdown()


def _ray_train(cfg: dict, cpus: int, storage: str) -> tuple[float, float]:
    """A one-worker TorchTrainer fit: worker start, imports, training, reports, teardown."""
    import ray.train
    from ray.train.torch import TorchTrainer

    from trainables.worker import train_worker

    def fit() -> dict:
        return TorchTrainer(
            train_worker, train_loop_config={"mmengine": cfg},
            scaling_config=ray.train.ScalingConfig(num_workers=1, resources_per_worker={"CPU": cpus}),
            run_config=ray.train.RunConfig(name="train-only", storage_path=storage)).fit().metrics

    return _timed_under_ray(cpus, fit)


def _ray_tune_and_train(cfg: dict, cpus: int, storage: str) -> tuple[float, float]:
    """One trial through a Tuner and the service's own trial function (trainables/driver.py)."""
    from ray import tune

    from trainables.api import TrialResources, make_trainable

    def same_config(_values: dict, work_dir: str) -> dict:
        return copy.deepcopy(cfg) | {"work_dir": work_dir}

    def fit() -> dict:
        trainable = make_trainable(same_config, TrialResources(cpus_per_worker=cpus), Path(storage) / "train")
        (result,) = tune.Tuner(trainable, param_space={},
                               run_config=tune.RunConfig(name="tune-and-train", storage_path=storage,
                                                         verbose=0)).fit()
        if result.error is not None:
            raise SystemExit(f"the Tune trial failed: {result.error}")
        return result.metrics

    return _timed_under_ray(cpus, fit)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--dataset", default="demo-defects")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/benchmarks/ray_overhead"))
    args = parser.parse_args()
    configure()  # the entry points' process settings (search/environment.py), before Ray starts
    cpus = os.cpu_count() or 1
    data = ensure_demo_dataset(args.dataset)
    params = TrialParams(size="tiny", text_encoder=str(ensure_demo_text_encoder(default_data_root())),
                         epochs=args.epochs,
                         image_size=args.image_size, batch_size=16, close_mosaic_epochs=min(2, args.epochs),
                         warmup_epochs=1, warmup_min_iters=10, lr=1e-3)
    cfg = build_trial_config(params, data, args.work_dir.absolute(), num_data_workers=0)
    direct = _direct(cfg)
    with tempfile.TemporaryDirectory() as storage:
        train = _ray_train(cfg, cpus, storage)
        tune_and_train = _ray_tune_and_train(cfg, cpus, storage)
    rows = [("mmengine Runner, in-process", f"{direct:.1f}", "1.000", "0.0", "-", "-"),
            *((name, f"{seconds:.1f}", f"{seconds / direct:.3f}", f"{seconds - direct:.1f}",
               f"{runner_s - direct:.1f}", f"{seconds - runner_s:.1f}")
              for name, (seconds, runner_s) in (
                  ("Ray Train TorchTrainer, 1 worker", train),
                  ("Ray Tune trial -> Ray Train, 1 worker (a search's path)", tune_and_train)))]
    setup = (f"tiny YOLO-World, {args.dataset} ({args.epochs} epochs, {args.image_size} px, batch 16, "
             f"validation every epoch), {cpus} CPU threads for every run; the Ray runs also report a "
             f"checkpoint per epoch and time the architecture in the speed lane before the first epoch")
    print(write_report("ray_overhead", "Ray Tune + Ray Train overhead per trial", setup,
                       ("run", "wall seconds", "ratio to direct", "extra seconds",
                        "of which in the Runner (reports, speed lane)", "of which outside it (Ray)"), rows))


if __name__ == "__main__":
    main()
