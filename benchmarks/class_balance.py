"""Does class-balanced sampling help the rarest class? Recall with and without, side by side.

Trains the same short fine-tune (the lightweight space's CPU settings: tiny YOLO-World from
scratch, 160 px, batch 8) on the imbalanced demo-defects set, per seed, three ways: without
class-balanced sampling, with it (repeat_factor_thr), and without it for as many iterations as the
balanced run (repeated images make its epochs longer, so "with" also trains more). Prints per run
the rarest training class's recall at IoU 0.5 and AP, the mAP, the weakest class's recall, and the
seconds, then the means.

    .venv/bin/python benchmarks/class_balance.py [--threshold 0.3] [--epochs 8] [--seeds 0 1]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import describe_machine  # noqa: E402
from search.environment import configure  # noqa: E402

DATASET = "demo-defects"
FIXED = {"size": "tiny", "image_size": 160, "batch_size": 8, "lr": 2e-3, "close_mosaic_epochs": 1,
         "warmup_epochs": 0.5, "warmup_min_iters": 2}


def images_per_class(annotation_file: Path) -> dict[str, int]:
    """Training images that show each class (what repeat-factor sampling balances)."""
    coco = json.loads(annotation_file.read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    shown: Counter[str] = Counter()
    for _, category in {(a["image_id"], a["category_id"]) for a in coco["annotations"]}:
        shown[names[category]] += 1
    return {name: shown[name] for name in names.values()}


def epoch_images(data, threshold: float) -> int:
    """Images one training epoch sees: the dataset as the trial builds it, repeats included."""
    from mmyolo.registry import DATASETS
    from mmyolo.utils import register_all_modules

    import trainables.yolo_world  # noqa: F401  (registers the YOLO-World types)
    from trainables.yolo_world.data import box_only_data_config

    register_all_modules(init_default_scope=True)
    cfg = box_only_data_config(train_ann_file=data.train.annotation_file, train_image_dir=data.train.image_dir,
                               val_ann_file=data.val.annotation_file, val_image_dir=data.val.image_dir,
                               class_text_file=data.class_text_file, oversample_thr=threshold)
    return len(DATASETS.build(cfg["train_dataloader"]["dataset"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threshold", type=float, default=0.3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args()
    configure()

    from search.datasets.demo import default_data_root, ensure_demo_dataset
    from search.datasets.demo_text_encoder import ensure_demo_text_encoder
    from search.study.plan import dataset_files
    from trainables.local_training import train_locally
    from trainables.params import TrialParams

    data = dataset_files(DATASET)
    ensure_demo_dataset(DATASET, data.root.parent)
    encoder = str(ensure_demo_text_encoder(default_data_root()))
    counts = images_per_class(data.train.annotation_file)
    rarest = min(counts, key=counts.get)
    print(f"{describe_machine()}\n{DATASET} training images per class: {counts}; rarest: {rarest}", flush=True)
    plain, balanced = epoch_images(data, 0.0), epoch_images(data, args.threshold)
    longer = round(args.epochs * balanced / plain)
    arms = [("off", 0.0, args.epochs), (f"on ({args.threshold:g})", args.threshold, args.epochs),
            (f"off, {longer} epochs", 0.0, longer)]
    print(f"images per epoch: {plain} without, {balanced} with repeat_factor_thr {args.threshold:g}", flush=True)
    slug = "_".join(rarest.split())
    rows = []
    for seed in args.seeds:
        for arm, threshold, epochs in arms:
            params = TrialParams.from_dict(FIXED | {"epochs": epochs, "seed": seed, "text_encoder": encoder,
                                                    "repeat_factor_thr": threshold})
            started = time.monotonic()
            with tempfile.TemporaryDirectory() as work:
                metrics = train_locally(params, data, Path(work), Path(work) / "final.pth",
                                        say=lambda line: None, label="")
            recalls = {k.removeprefix("recall50_"): v for k, v in metrics.items() if k.startswith("recall50_")}
            weakest = min(recalls, key=recalls.get)
            row = {"seed": seed, "arm": arm, "map": metrics["map"], "recall50": recalls[slug],
                   "ap": metrics[f"ap_{slug}"], "weakest": f"{weakest} {recalls[weakest]:.3f}",
                   "seconds": time.monotonic() - started}
            rows.append(row)
            print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  flush=True)
    print(f"\n| class-balanced sampling | {rarest} recall50 | {rarest} AP | mAP | seconds |\n|---|---|---|---|---|")
    for arm, _, _ in arms:
        mine = [r for r in rows if r["arm"] == arm]
        mean = {k: statistics.mean(r[k] for r in mine) for k in ("recall50", "ap", "map", "seconds")}
        print(f"| {arm} | {mean['recall50']:.3f} | {mean['ap']:.3f} | {mean['map']:.3f} | {mean['seconds']:.0f} |")
    print(f"(means over seeds {args.seeds}; {args.epochs} epochs unless said)")


if __name__ == "__main__":
    main()
