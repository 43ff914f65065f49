"""Does class-balanced sampling help the rarest class? Recall with and without, side by side.

Trains the same short fine-tune (the lightweight space's CPU settings: tiny YOLO-World from
scratch, 160 px, batch 8) on the imbalanced demo-defects set with repeat_factor_thr 0 (off) and
with the given threshold, for each seed, and prints per run the rarest training class's recall at
IoU 0.5, its AP, the mAP, how many images an epoch saw, and the seconds.

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
    rows = []
    for seed in args.seeds:
        for threshold in (0.0, args.threshold):
            params = TrialParams.from_dict(FIXED | {"epochs": args.epochs, "seed": seed, "text_encoder": encoder,
                                                    "repeat_factor_thr": threshold})
            started = time.monotonic()
            with tempfile.TemporaryDirectory() as work:
                metrics = train_locally(params, data, Path(work), Path(work) / "final.pth",
                                        say=lambda line: None, label="")
            row = {"seed": seed, "repeat_factor_thr": threshold, "map": metrics["map"],
                   "recall50": metrics[f"recall50_{'_'.join(rarest.split())}"],
                   "ap": metrics[f"ap_{'_'.join(rarest.split())}"], "seconds": time.monotonic() - started}
            rows.append(row)
            print(" ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in row.items()),
                  flush=True)
    print(f"\n| repeat_factor_thr | {rarest} recall50 | {rarest} AP | mAP | seconds |\n|---|---|---|---|---|")
    for threshold in (0.0, args.threshold):
        mine = [r for r in rows if r["repeat_factor_thr"] == threshold]
        mean = {k: statistics.mean(r[k] for r in mine) for k in ("recall50", "ap", "map", "seconds")}
        print(f"| {threshold:g} | {mean['recall50']:.3f} | {mean['ap']:.3f} | {mean['map']:.3f} | "
              f"{mean['seconds']:.0f} |")
    print(f"(means over seeds {args.seeds}, {args.epochs} epochs each)")


if __name__ == "__main__":
    main()
