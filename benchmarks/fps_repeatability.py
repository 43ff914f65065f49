"""Benchmark: how repeatable is the speed lane's FPS, the figure that ranks trials on the front?

Times the same YOLO-World architecture `--repeats` times with the speed lane's protocol
(`trainables.speed.measure_network`: deployment copy, fixed threads, time-based warm-up, median of
round medians, re-measured over the target spread) and reports the mean, spread and coefficient
of variation (CV = standard deviation / mean) across repeats.

With `--background-trainers N` (default 1 on a CPU), N processes train a stand-in model beside
it, as the other trials of a search do. The series, interleaved repeat by repeat in the same run:
each backend of `--backends` as the lane times it (holding the CPUs,
`trainables.cpu_lane.exclusive_cpus`, so the trainers pause at their next iteration; in turn with
the calibrated YOLOv8 reference, `trainables.speed_lane.calibrated_reference`), then the first
backend timed alone (no reference) holding the CPUs, and alone without holding them.

    .venv/bin/python benchmarks/fps_repeatability.py [--size tiny] [--image-size 160] [--repeats 10] \
        [--backends pytorch onnxruntime]

The text tower is CLIP-base-sized (width 512, random weights, written to a temporary folder).
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch

sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.environment import configure  # noqa: E402

configure()  # a script: the entry points' process settings, before Hugging Face is imported

from benchmarks.machine import write_report  # noqa: E402
from search.datasets.demo_text_encoder import write_clip_text_model  # noqa: E402
from trainables.cpu_lane import TrainingShare, exclusive_cpus  # noqa: E402
from trainables.speed import SpeedReport, measure_network  # noqa: E402
from trainables.speed_lane import calibrated_reference  # noqa: E402
from trainables.speed_protocol import SpeedProtocol  # noqa: E402
from trainables.yolo_world.models import build_model, model_config  # noqa: E402

CLASSES = ["scratch", "dent", "rust", "crack", "stain", "hole"]


def _background_trainer(seconds: float) -> None:
    """A stand-in for another trial's training: one thread of matrix products, pausing for the
    lane between iterations as a real trial's CpuLaneShareHook does."""
    torch.set_num_threads(1)
    share, weights, stop = TrainingShare(), torch.rand(256, 256), time.time() + seconds
    while time.time() < stop:
        share.pause_point()
        for _ in range(20):
            weights = torch.tanh(weights @ weights.T / 256)
    share.release()


def _cv(values: list[float]) -> tuple[float, float, float]:
    mean = statistics.fmean(values)
    deviation = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, deviation, deviation / mean


def _rows(series: dict[str, list[SpeedReport]]) -> list[tuple[str, ...]]:
    rows = []
    for label, reports in series.items():
        fps = [r.fps for r in reports]
        mean, deviation, cv = _cv(fps)
        spread = statistics.fmean(r.spread for r in reports)
        attempts = statistics.fmean(r.attempts for r in reports)
        rows.append((label, f"{mean:.2f}", f"{deviation:.2f}", f"{cv:.2%}", f"{min(fps):.2f}", f"{max(fps):.2f}",
                     f"{spread:.2%}", f"{attempts:.1f}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="tiny", help="tiny, s, m, l or x")
    parser.add_argument("--image-size", type=int, default=160)
    parser.add_argument("--repeats", type=int, default=10, help="independent speed measurements per series")
    parser.add_argument("--threads", type=int, default=SpeedProtocol().threads)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--backends", nargs="+", default=None,
                        help="speed backends to time (default: pytorch onnxruntime on a CPU, pytorch on a GPU)")
    parser.add_argument("--background-trainers", type=int, default=None,
                        help="processes training beside the measurement (default: 1 on a CPU, 0 on a GPU)")
    args = parser.parse_args()
    on_cpu = args.device == "cpu"
    trainers = args.background_trainers if args.background_trainers is not None else int(on_cpu)
    backends = args.backends or (["pytorch", "onnxruntime"] if on_cpu else ["pytorch"])
    protocols = {backend: SpeedProtocol(threads=args.threads, backend=backend) for backend in backends}
    with tempfile.TemporaryDirectory() as folder:
        clip = write_clip_text_model(Path(folder), hidden_size=512, num_layers=12, num_heads=8,
                                     intermediate_size=2048, projection_dim=512)
        torch.manual_seed(0)
        detector = build_model(model_config(args.size, num_classes=len(CLASSES), text_model_name=str(clip),
                                            text_channels=512))
        background = [multiprocessing.get_context("spawn").Process(target=_background_trainer, args=(36000.0,))
                      for _ in range(trainers)]
        for process in background:
            process.start()
        plan = [(f"{backend}, the lane (CPUs held, against the reference)", backend, True, True)
                for backend in backends]
        plan.append((f"{backends[0]}, alone, CPUs held", backends[0], True, False))
        if trainers:
            plan.append((f"{backends[0]}, alone, CPUs not held ({trainers} trainer(s) running)", backends[0], False,
                         False))
        series: dict[str, list[SpeedReport]] = {label: [] for label, *_ in plan}
        try:
            with exclusive_cpus():
                references = {backend: calibrated_reference(args.size, args.image_size, torch.device(args.device),
                                                            protocols[backend]) for backend in backends}
            for repeat in range(args.repeats):
                for label, backend, exclusive, relative in plan:
                    reports = series[label]
                    with exclusive_cpus() if exclusive else nullcontext():
                        report = measure_network(detector, args.image_size, device=args.device,
                                                 protocol=protocols[backend], texts=CLASSES,
                                                 reference=references[backend] if relative else None)
                    reports.append(report)
                    print(f"repeat {repeat + 1}/{args.repeats} {label}: {report.fps:.1f} FPS "
                          f"(spread {report.spread:.1%}, {report.attempts} attempt(s))", flush=True)
        finally:
            for process in background:
                process.kill()
    protocol = protocols[backends[0]]
    labels = "; ".join(sorted({reports[0].protocol for reports in series.values()}))
    setup = (f"YOLO-World size {args.size}, {args.image_size} px, {args.repeats} repeats per series, "
             f"{trainers} background trainer(s); protocols: {labels}; rounds {protocol.rounds} x "
             f"{protocol.round_s} s, target spread {protocol.target_spread:.0%}, up to {protocol.attempts} attempts")
    header = ("series", "mean FPS", "std", "CV", "min", "max", "mean spread", "mean attempts")
    name = f"fps_repeatability_{'cpu' if on_cpu else 'gpu'}_{args.size}"
    print(write_report(name, "Repeatability of the speed lane's FPS", setup, header, _rows(series)))


if __name__ == "__main__":
    main()
