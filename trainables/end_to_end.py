"""End-to-end speed of trained models (network, box decoding and NMS) under deployment thresholds.

Unlike the network, decoding and NMS cost depends on the weights (how many boxes pass the score
threshold), so this is measured after training, on a real image, for the models a user may pick
(the front). The thresholds are a deployment's, not the evaluation's (score 0.001 and 30000
candidates make NMS cost depend on how training went): score >= 0.05, at most 1000 candidates
and 100 boxes. The models are timed in turn inside every round together with a fixed reference
architecture (a plain YOLOv8 of the same size, random weights), so a machine that slows down
mid-measurement slows all of them alike, and the reference's figure shows it.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from mmengine.config import ConfigDict
from torch import nn

from trainables.reference import reference_detector
from trainables.speed import calls_per_round, cpu_threads, deployment_copy, dummy_batch, timed_call
from trainables.speed_protocol import SpeedProtocol

DEPLOYMENT_TEST_CFG: dict[str, Any] = dict(multi_label=True, nms_pre=1000, score_thr=0.05,
                                           nms=dict(type="nms", iou_threshold=0.7), max_per_img=100)
REFERENCE = "reference"


@dataclass(frozen=True)
class EndToEnd:
    fps: dict[str, float]          # per model name, and REFERENCE
    protocol: str                  # the label shown with the figures

    def of(self, name: str) -> float | None:
        return self.fps.get(name)


def image_batch(path: str | Path, image_size: int) -> torch.Tensor:
    """One image as the test pipeline feeds it: RGB, resized to image_size, scaled to 0-1."""
    from PIL import Image

    with Image.open(path) as image:
        pixels = np.asarray(image.convert("RGB").resize((image_size, image_size)), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1)[None].contiguous()


def deployed_for_end_to_end(model: nn.Module, texts: list[str] | None) -> nn.Module:
    """The deployment copy with the deployment thresholds."""
    deployed = deployment_copy(model, texts)
    deployed.bbox_head.test_cfg = ConfigDict(DEPLOYMENT_TEST_CFG)
    return deployed


def reference_model(size: str, num_classes: int) -> nn.Module:
    return deployed_for_end_to_end(reference_detector(size, num_classes), None)


def time_end_to_end(models: Mapping[str, tuple[nn.Module, torch.Tensor]], *,
                    reference: tuple[nn.Module, torch.Tensor], protocol: SpeedProtocol = SpeedProtocol()) -> EndToEnd:
    """FPS of each deployed model's `predict` at batch 1 on its image (name -> (model, image)),
    interleaved round by round with `reference` (on the CPU, with the protocol's thread count)."""
    cpu = torch.device("cpu")
    timed: dict[str, Callable[[], float]] = {}
    for name, (model, image) in {REFERENCE: reference, **models}.items():
        _, samples = dummy_batch(image.shape[-1], cpu)
        timed[name] = timed_call(lambda m=model, i=image, s=samples: m.predict(i, s, rescale=False), cpu)
    medians: dict[str, list[float]] = {name: [] for name in timed}
    with torch.inference_mode(), cpu_threads(protocol.threads):
        per_round = {name: calls_per_round(call, protocol) for name, call in timed.items()}
        for _ in range(protocol.rounds):
            for name, call in timed.items():
                medians[name].append(statistics.median(call() for _ in range(per_round[name])))
    label = (f"pytorch fp32, batch 1, end to end (decoding + NMS: score >= "
             f"{DEPLOYMENT_TEST_CFG['score_thr']}, <= {DEPLOYMENT_TEST_CFG['nms_pre']} candidates, <= "
             f"{DEPLOYMENT_TEST_CFG['max_per_img']} boxes), cpu, {protocol.threads} thread(s), interleaved with a "
             f"YOLOv8 reference at {1.0 / statistics.median(medians[REFERENCE]):.1f} FPS")
    return EndToEnd(fps={name: 1.0 / statistics.median(values) for name, values in medians.items()}, protocol=label)
