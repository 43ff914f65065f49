"""Benchmark: what the Ray Train path costs against the same mmengine config run directly.

Both runs train the same YOLO-World config on the same demo set in this one process's machine,
one after the other: first mmengine's Runner in-process, then a one-worker Ray Train TorchTrainer
holding the same CPUs. Prints both wall times and their ratio, and writes them with the machine
description to benchmarks/results/ray_overhead.md.

    .venv/bin/python benchmarks/ray_overhead.py [--epochs 6] [--image-size 224] [--dataset demo-defects]
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import write_report  # noqa: E402
from search.datasets import default_data_root, ensure_demo_dataset  # noqa: E402
from search.datasets.demo_text_encoder import ensure_demo_text_encoder  # noqa: E402
from trainables.configs.yolo_world import build_trial_config  # noqa: E402
from trainables.params import TrialParams  # noqa: E402


def _direct(cfg: dict) -> float:
    """Wall seconds of Runner construction + training, in this process, no Ray."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401

    cfg = Config(copy.deepcopy(cfg))
    cfg.pop("worldtune")
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "RayTrainReportHook"]
    cfg.model.use_syncbn = False
    start = time.perf_counter()
    Runner.from_cfg(cfg).train()
    return time.perf_counter() - start


def _through_ray(cfg: dict, cpus: int) -> float:
    """Wall seconds of a one-worker TorchTrainer fit: worker start, imports, training, teardown."""
    import ray
    import ray.train
    from ray.train.torch import TorchTrainer

    from trainables.worker import train_worker

    ray.init(num_cpus=cpus, include_dashboard=False, configure_logging=False, log_to_driver=False)
    trainer = TorchTrainer(train_worker, train_loop_config={"mmengine": cfg},
                           scaling_config=ray.train.ScalingConfig(num_workers=1, resources_per_worker={"CPU": cpus}),
                           run_config=ray.train.RunConfig(name="overhead", storage_path=cfg["work_dir"] + "-ray"))
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    ray.shutdown()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--dataset", default="demo-defects")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/benchmarks/ray_overhead"))
    args = parser.parse_args()
    os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2")
    cpus = os.cpu_count() or 1
    data = ensure_demo_dataset(args.dataset)
    params = TrialParams(size="tiny", text_encoder=str(ensure_demo_text_encoder(default_data_root())), epochs=args.epochs,
                         image_size=args.image_size, batch_size=16, close_mosaic_epochs=min(2, args.epochs),
                         warmup_epochs=1, warmup_min_iters=10, lr=1e-3)
    cfg = build_trial_config(params, data, args.work_dir.absolute(), num_data_workers=0)
    direct = _direct(cfg)
    ray_path = _through_ray(cfg, cpus)
    rows = [("mmengine Runner, in-process", f"{direct:.1f}"), ("Ray Train TorchTrainer, 1 worker", f"{ray_path:.1f}"),
            ("ratio Ray / direct", f"{ray_path / direct:.3f}"), ("overhead", f"{(ray_path / direct - 1) * 100:.1f} %")]
    setup = (f"tiny YOLO-World, {args.dataset} ({args.epochs} epochs, {args.image_size} px, batch 16, "
             f"validation every epoch), {cpus} CPU threads for both runs")
    print(write_report("ray_overhead", "Ray Train overhead per trial", setup, ("run", "wall seconds"), rows))


if __name__ == "__main__":
    main()
