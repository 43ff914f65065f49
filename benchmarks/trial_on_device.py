"""Benchmark: one real worldtune trial, end to end, through Ray Tune and Ray Train on this machine.

The same path a search takes (Tuner -> trial function -> TorchTrainer -> mmengine Runner in the
Train workers, NCCL between them on GPUs), with the trial's own reports: per-epoch mAP and wall
time, and at the end FPS with and without NMS (fp16 on GPU), GFLOPs and parameters. This is the
check that a trial runs on a GPU with mmcv's CUDA ops; the figures are what one such trial costs.

    .venv/bin/python benchmarks/trial_on_device.py [--size s] [--image-size 640] [--epochs 3]

NCCL_DEBUG=INFO is set for the workers, and the NCCL lines of the Ray logs are counted, so the
report shows that the process group really was NCCL (Ray Train picks it when workers hold GPUs).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.environment import configure  # noqa: E402
from trainables import contract  # noqa: E402

configure()  # a script: the entry points' process settings, before Hugging Face is imported

from benchmarks.machine import write_report  # noqa: E402
from search.datasets import default_data_root, ensure_demo_dataset  # noqa: E402
from search.datasets.demo_text_encoder import ensure_demo_text_encoder  # noqa: E402
from trainables.api import TrialResources, make_trainable  # noqa: E402
from trainables.configs.yolo_world import build_trial_config  # noqa: E402
from trainables.params import TrialParams  # noqa: E402


def _nccl_lines(session_logs: Path) -> int:
    return sum(path.read_text(errors="replace").count("NCCL INFO") for path in session_logs.glob("*worker*"))


def main() -> None:
    import ray
    import torch
    from ray import tune

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="s")
    parser.add_argument("--image-size", type=int, default=640)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="Train workers (one GPU each on GPUs)")
    parser.add_argument("--dataset", default="demo-defects")
    parser.add_argument("--data-workers", type=int, default=4, help="dataloader processes per worker")
    args = parser.parse_args()
    data = ensure_demo_dataset(args.dataset)
    params = TrialParams(size=args.size, text_encoder=str(ensure_demo_text_encoder(default_data_root())),
                         epochs=args.epochs, close_mosaic_epochs=1, image_size=args.image_size,
                         batch_size=args.batch_size).as_dict()
    gpus = 1.0 if torch.cuda.is_available() else 0.0

    def build(values: dict, work_dir: str) -> dict:
        return build_trial_config(TrialParams.from_dict(values), data, work_dir, num_data_workers=args.data_workers)

    ray.init(configure_logging=False, include_dashboard=False,
             runtime_env={"env_vars": {"NCCL_DEBUG": "INFO", "HF_HUB_OFFLINE": "1"}})
    with tempfile.TemporaryDirectory() as storage:
        resources = TrialResources(workers=args.workers, gpus_per_worker=gpus, cpus_per_worker=2)
        tuner = tune.Tuner(make_trainable(build, resources, Path(storage) / "train"), param_space=params,
                           run_config=tune.RunConfig(name="trial", storage_path=storage, verbose=1))
        (result,) = tuner.fit()
    nccl = _nccl_lines(Path(ray._private.worker._global_node.get_session_dir_path()) / "logs")
    ray.shutdown()
    if result.error is not None:
        raise SystemExit(f"the trial failed: {result.error}")
    history = result.metrics_dataframe
    final = result.metrics
    epoch_s = history[contract.WALL_S].diff().fillna(history[contract.WALL_S]).tolist()
    train_images = len(json.loads(data.train.annotation_file.read_text())["images"])
    rows = [("epochs", len(history)), ("mAP 50:95 per epoch", ", ".join(f"{m:.3f}" for m in history["map"])),
            ("wall s per epoch (train + val)", ", ".join(f"{s:.1f}" for s in epoch_s)),
            ("train images per epoch", train_images),
            ("FPS (speed lane)", f"{final['fps']:.1f}"), ("latency ms", f"{final['latency_ms']:.2f}"),
            ("FPS spread (round medians)", f"{final['fps_spread']:.2%}"),
            ("speed protocol", final["speed_protocol"]),
            ("GFLOPs", f"{final['gflops']:.1f}" if final.get("gflops") else "n/a"),
            ("parameters (M)", f"{final['params_m']:.2f}"), ("NCCL INFO lines in worker logs", nccl)]
    setup = (f"size {args.size}, {args.dataset}, {args.image_size} px, batch {args.batch_size} per worker, "
             f"{args.workers} Train worker(s), {gpus:g} GPU each, {args.epochs} epochs, random init")
    print(write_report(f"trial_on_device_{'gpu' if gpus else 'cpu'}", "One trial through Ray Tune + Ray Train",
                       setup, ("figure", "value"), rows))


if __name__ == "__main__":
    main()
