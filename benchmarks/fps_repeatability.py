"""Benchmark: how repeatable is the FPS figure that ranks trials on the Pareto front?

Times the same YOLO-World detector `--repeats` times with the trial's own speed measurement
(`trainables.speed.measure_speed`: eval mode, warm-up, synchronised timings, median of `--runs`
calls at batch 1) and reports, per figure, the mean, the spread and the coefficient of variation
(CV = standard deviation / mean) across repeats, next to the CV of the single timings inside one
repeat. Two trials whose FPS differ by less than a few CVs are not told apart by speed.

    .venv/bin/python benchmarks/fps_repeatability.py [--size tiny] [--image-size 320] [--repeats 10]

The text tower is CLIP-base-sized (width 512, random weights, written to a temporary folder), so
the prompt embeddings cost what they cost with the real one: once, thanks to the text cache.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import write_report  # noqa: E402
from search.datasets.demo_text_encoder import write_clip_text_model  # noqa: E402
from trainables.speed import SpeedReport, measure_speed  # noqa: E402
from trainables.yolo_world.models import build_model, model_config  # noqa: E402

CLASSES = ["scratch", "dent", "rust", "crack", "stain", "hole"]


def _spread(values: list[float]) -> tuple[float, float, float]:
    """(mean, standard deviation, coefficient of variation) of `values`."""
    mean = statistics.fmean(values)
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, deviation, deviation / mean


def _rows(reports: list[SpeedReport]) -> list[tuple[str, ...]]:
    rows = []
    for label, values in (("FPS end to end (with NMS)", [r.fps for r in reports]),
                          ("FPS network only (no NMS)", [r.fps_no_nms for r in reports]),
                          ("latency ms (median of a repeat)", [r.latency_ms for r in reports])):
        mean, deviation, cv = _spread(values)
        rows.append((label, f"{mean:.2f}", f"{deviation:.2f}", f"{cv:.2%}", f"{min(values):.2f}",
                     f"{max(values):.2f}"))
    within = statistics.fmean(r.latency_cv for r in reports)
    rows.append(("single-call latency inside one repeat (mean CV)", "", "", f"{within:.2%}", "", ""))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="tiny", help="tiny, s, m, l or x")
    parser.add_argument("--image-size", type=int, default=320)
    parser.add_argument("--repeats", type=int, default=10, help="independent speed measurements")
    parser.add_argument("--runs", type=int, default=50, help="timed calls per measurement (as in a trial)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--fp32", action="store_true", help="no fp16 autocast on CUDA (trials use fp16)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip_text_model(Path(folder), hidden_size=512, num_layers=12, num_heads=8,
                                     intermediate_size=2048, projection_dim=512)
        torch.manual_seed(0)
        detector = build_model(model_config(args.size, num_classes=len(CLASSES), text_model_name=str(clip),
                                            text_channels=512))
        reports = []
        for repeat in range(args.repeats):
            report = measure_speed(detector, args.image_size, device=args.device, fp16=not args.fp32,
                                   runs=args.runs, texts=CLASSES)
            print(f"repeat {repeat + 1}/{args.repeats}: {report.fps:.1f} FPS, {report.fps_no_nms:.1f} FPS "
                  f"without NMS", flush=True)
            reports.append(report)
    setup = (f"YOLO-World size {args.size}, {args.image_size} px, batch 1, {reports[0].device}, "
             f"{reports[0].precision}, {args.repeats} repeats of trainables.speed.measure_speed "
             f"({args.runs} timed calls each, median)")
    header = ("figure", "mean", "std", "CV", "min", "max")
    name = f"fps_repeatability_{'gpu' if reports[0].device.startswith('cuda') else 'cpu'}"
    print(write_report(name, "Repeatability of the FPS measurement", setup, header, _rows(reports)))


if __name__ == "__main__":
    main()
