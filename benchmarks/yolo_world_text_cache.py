"""Training-step time of a tiny YOLO-World with and without the text-embedding cache.

The official code runs the frozen CLIP text tower on every step for B images x N
class texts; worldtune encodes each distinct text once (exact). This times full
training steps (forward, loss, backward, optimizer) both ways on the same batch,
alternating between the two models so that other load on the machine hits both, and
writes the figures with the machine to benchmarks/results/yolo_world_text_cache.md:

    .venv/bin/python benchmarks/yolo_world_text_cache.py [--clip PATH] [--texts 6 80]

Without --clip it builds a CLIP-base-sized text tower (width 512, 12 layers, random
weights) in a temporary folder, which costs the same time as the real one.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from search.environment import configure  # noqa: E402

configure()  # a script: the entry points' process settings, before Hugging Face is imported

from benchmarks.machine import write_report  # noqa: E402
from search.datasets.demo_text_encoder import write_clip_text_model  # noqa: E402
from trainables.yolo_world.models import build_model, model_config  # noqa: E402

VOCABULARY = [f"class {i}" for i in range(200)]


class Trainer:
    """A tiny YOLO-World and one fixed batch; ``step()`` times one training step."""

    def __init__(self, clip: str, texts_per_image: int, use_cache: bool, batch_size: int,
                 size: int) -> None:
        cfg = model_config("tiny", num_classes=texts_per_image, text_model_name=clip,
                           text_channels=512, with_data_preprocessor=False)
        cfg["backbone"]["text_model"]["use_cache"] = use_cache
        torch.manual_seed(0)
        self.model = build_model(cfg).train()
        self.optimizer = torch.optim.SGD(
            [p for p in self.model.parameters() if p.requires_grad], lr=1e-3)
        self.images = torch.rand(batch_size, 3, size, size)
        boxes = [[i, i % texts_per_image, 10.0, 10, 60, 60] for i in range(batch_size)]
        self.batch = {"bboxes_labels": torch.tensor(boxes),
                      "img_metas": [dict(batch_input_shape=(size, size))] * batch_size,
                      "texts": [VOCABULARY[:texts_per_image]] * batch_size}

    def step(self) -> float:
        start = time.perf_counter()
        loss = sum(self.model.loss(self.images, self.batch).values())
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return time.perf_counter() - start


def compare(clip: str, texts_per_image: int, batch_size: int, size: int,
            steps: int) -> tuple[float, float]:
    """Median s/step without and with the cache, steps interleaved so load drift hits both."""
    plain, cached = (Trainer(clip, texts_per_image, use_cache, batch_size, size)
                     for use_cache in (False, True))
    for trainer in (plain, cached):  # warm-up; fills the cache
        trainer.step()
    times = [(plain.step(), cached.step()) for _ in range(steps)]
    return (statistics.median(t[0] for t in times), statistics.median(t[1] for t in times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", help="CLIP text model folder or cached hub id")
    parser.add_argument("--texts", type=int, nargs="+", default=[6, 80])
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        clip = args.clip or str(write_clip_text_model(
            Path(tmp), hidden_size=512, num_layers=12, num_heads=8, intermediate_size=2048,
            projection_dim=512, vocab_size=49408))
        rows = []
        for n in args.texts:
            plain, cached = compare(clip, n, args.batch_size, args.size, args.steps)
            rows.append((n, f"{plain:.3f}", f"{cached:.3f}", f"{plain / cached:.1f}x"))
    setup = (f"tiny YOLO-World, batch {args.batch_size} x {args.size} px, {args.threads} threads, median of "
             f"{args.steps} interleaved training steps, text tower {args.clip or 'CLIP-base-sized (random weights)'}")
    print(write_report("yolo_world_text_cache", "Text-embedding cache: training-step time", setup,
                       ("texts per image", "s/step without cache", "s/step with cache", "speed-up"), rows))


if __name__ == "__main__":
    main()
