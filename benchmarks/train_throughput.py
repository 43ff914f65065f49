"""Benchmark: training images/s of a YOLO-World trial against a plain mmyolo YOLOv8 of the same size.

Both train one epoch on the same demo set with the same recipe (optimizer, EMA, augmentation;
YOLOv8 gets the same pipeline without text sampling), in this process, one after the other. The
figure is the batch size over the median iteration time that mmengine records, so start-up and
validation do not count; the median wait for data is shown beside it, and the images/s of the
step alone (iteration minus data wait), which tells a slower model from a starved one.
`--profile-iters N` prints instead, per model, the operators that took the most time over N
iterations (torch.profiler through mmengine's ProfilerHook; CUDA time on a GPU) and writes nothing:
timings under the profiler are not throughput. On a GPU this is the check that the open-vocabulary parts (text path,
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
from trainables.configs.recipe import use_mixed_precision  # noqa: E402
from trainables.configs.yolo_world import build_trial_config, trial_data_config  # noqa: E402
from trainables.configs.yolov8 import yolov8_model_config  # noqa: E402
from trainables.params import TrialParams  # noqa: E402


def _profiler_hook(iterations: int) -> dict:
    """Profile `iterations` training iterations after three (two skipped, one warm-up)."""
    sort_by = "self_cuda_time_total" if torch.cuda.is_available() else "self_cpu_time_total"
    return dict(type="ProfilerHook", by_epoch=False, profile_times=3 + iterations,
                activity_with_cuda=torch.cuda.is_available(),
                schedule=dict(wait=2, warmup=1, active=iterations),
                on_trace_ready=dict(type="log_trace", sort_by=sort_by, row_limit=30))


def _median_iteration_s(cfg: dict, profile_iters: int = 0) -> tuple[float, float]:
    """Median seconds per training iteration and of its wait for data (after the first two)."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401

    cfg = Config(copy.deepcopy(cfg))
    cfg.pop("worldtune")
    cfg.custom_hooks = [h for h in cfg.custom_hooks if h["type"] != "RayTrainReportHook"]
    if profile_iters:
        cfg.custom_hooks.append(_profiler_hook(profile_iters))
    cfg.model.use_syncbn = False
    cfg.train_cfg.update(max_epochs=1, val_interval=10)  # one epoch, no validation
    if torch.cuda.is_available():
        use_mixed_precision(cfg.optim_wrapper)
    runner = Runner.from_cfg(cfg)
    runner.train()
    hub = runner.message_hub
    return tuple(statistics.median(hub.get_scalar(f"train/{key}").data[0][2:]) for key in ("time", "data_time"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="tiny")
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--dataset", default="demo-defects")
    parser.add_argument("--data-workers", type=int, default=2, help="dataloader processes (both models)")
    parser.add_argument("--profile-iters", type=int, default=0,
                        help="print each model's costliest operators over this many iterations")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/benchmarks/train_throughput"))
    args = parser.parse_args()
    data = ensure_demo_dataset(args.dataset)
    params = TrialParams(size=args.size, text_encoder=str(ensure_demo_text_encoder(default_data_root())),
                         epochs=1, close_mosaic_epochs=0, image_size=args.image_size,
                         batch_size=args.batch_size, warmup_min_iters=1)
    world = build_trial_config(params, data, args.work_dir.absolute() / "yolo_world",
                               num_data_workers=args.data_workers)
    plain_data = trial_data_config(params, data, num_data_workers=args.data_workers, text_free=True)
    classes = plain_data["val_dataloader"]["dataset"]["metainfo"]["classes"]
    plain = copy.deepcopy(world) | dict(
        model=yolov8_model_config(args.size, num_classes=len(classes)),
        train_dataloader=plain_data["train_dataloader"], val_dataloader=plain_data["val_dataloader"],
        work_dir=str(args.work_dir.absolute() / "yolov8"))
    plain["optim_wrapper"]["constructor"] = "YOLOv5OptimizerConstructor"
    plain["optim_wrapper"].pop("paramwise_cfg")
    if args.profile_iters:
        for name, cfg in (("YOLO-World", world), ("YOLOv8", plain)):
            print(f"\n===== {name}: operators by self time over {args.profile_iters} iterations", flush=True)
            _median_iteration_s(cfg, args.profile_iters)
        return
    batch = args.batch_size
    (world_s, world_data_s), (plain_s, plain_data_s) = _median_iteration_s(world), _median_iteration_s(plain)
    rows = [("YOLO-World trial", f"{batch / world_s:.1f}", f"{world_data_s * 1000:.0f}",
             f"{batch / (world_s - world_data_s):.1f}"),
            ("mmyolo YOLOv8, same size", f"{batch / plain_s:.1f}", f"{plain_data_s * 1000:.0f}",
             f"{batch / (plain_s - plain_data_s):.1f}"),
            ("ratio YOLO-World / YOLOv8", f"{plain_s / world_s:.3f}", "",
             f"{(plain_s - plain_data_s) / (world_s - world_data_s):.3f}")]
    setup = (f"size {args.size}, {args.dataset}, {args.image_size} px, batch {args.batch_size}, one epoch, "
             f"median iteration time after the first two, {args.data_workers} dataloader processes")
    name = f"train_throughput_{'gpu' if torch.cuda.is_available() else 'cpu'}_{args.size}"
    print(write_report(name, "Training throughput (images/s)", setup,
                       ("model", "images/s", "median data wait ms", "images/s of the step alone"), rows))


if __name__ == "__main__":
    main()
