"""Benchmark: training images/s of a YOLO-World trial against a plain mmyolo YOLOv8 of the same size.

Both train one epoch on the same demo set with the same recipe (optimizer, EMA, augmentation;
YOLOv8 gets the same pipeline without text sampling), in this process, one after the other. The
figure is the batch size over the median iteration time that mmengine records, so start-up and
validation do not count. On a GPU this is the check that the open-vocabulary parts (text path,
text-embedding cache, contrastive head) cost under 10%.

    .venv/bin/python benchmarks/train_throughput.py [--size tiny] [--image-size 320] [--batch-size 16]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
from pathlib import Path

import torch

sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import write_report  # noqa: E402
from search.datasets import default_data_root, ensure_demo_dataset  # noqa: E402
from search.datasets.demo_text_encoder import ensure_demo_text_encoder  # noqa: E402
from trainables.configs.yolo_world import build_trial_config, trial_data_config  # noqa: E402
from trainables.configs.recipe import use_mixed_precision  # noqa: E402
from trainables.configs.yolov8 import yolov8_model_config  # noqa: E402
from trainables.params import TrialParams  # noqa: E402


def _images_per_second(cfg: dict, batch_size: int) -> float:
    from mmengine.config import Config
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401

    cfg = Config(copy.deepcopy(cfg))
    cfg.pop("worldtune")
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "RayTrainReportHook"]
    cfg.model.use_syncbn = False
    cfg.train_cfg.update(max_epochs=1, val_interval=10)  # one epoch, no validation
    if torch.cuda.is_available():
        use_mixed_precision(cfg.optim_wrapper)
    runner = Runner.from_cfg(cfg)
    runner.train()
    times = runner.message_hub.get_scalar("train/time").data[0][2:]  # skip the first iterations
    return batch_size / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dataset", default="demo-defects")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/benchmarks/train_throughput"))
    args = parser.parse_args()
    data = ensure_demo_dataset(args.dataset)
    params = TrialParams(size=args.size, text_encoder=str(ensure_demo_text_encoder(default_data_root())),
                         epochs=1, close_mosaic_epochs=0, image_size=args.image_size,
                         batch_size=args.batch_size, warmup_min_iters=1)
    world = build_trial_config(params, data, args.work_dir.absolute() / "yolo_world", num_data_workers=2)
    plain_data = trial_data_config(params, data, num_data_workers=2, text_free=True)
    classes = plain_data["val_dataloader"]["dataset"]["metainfo"]["classes"]
    plain = copy.deepcopy(world) | dict(
        model=yolov8_model_config(args.size, num_classes=len(classes)),
        train_dataloader=plain_data["train_dataloader"], val_dataloader=plain_data["val_dataloader"],
        work_dir=str(args.work_dir.absolute() / "yolov8"))
    plain["optim_wrapper"]["constructor"] = "YOLOv5OptimizerConstructor"
    plain["optim_wrapper"].pop("paramwise_cfg")
    world_ips = _images_per_second(world, args.batch_size)
    plain_ips = _images_per_second(plain, args.batch_size)
    rows = [("YOLO-World trial", f"{world_ips:.1f}"), ("mmyolo YOLOv8, same size", f"{plain_ips:.1f}"),
            ("ratio YOLO-World / YOLOv8", f"{world_ips / plain_ips:.3f}")]
    setup = (f"size {args.size}, {args.dataset}, {args.image_size} px, batch {args.batch_size}, one epoch, "
             f"median iteration time after the first two")
    name = f"train_throughput_{'gpu' if torch.cuda.is_available() else 'cpu'}"
    print(write_report(name, "Training throughput (images/s)", setup, ("model", "images/s"), rows))


if __name__ == "__main__":
    main()
