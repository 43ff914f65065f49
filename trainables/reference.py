"""The reference architecture the speed lane times every network against: a plain mmyolo YOLOv8
of the same size preset, random weights (seed 0), so that its speed on a machine is a fixed yardstick."""
from __future__ import annotations

import torch
from torch import nn

REFERENCE_CLASSES = 80


def reference_detector(size: str, num_classes: int = REFERENCE_CLASSES) -> nn.Module:
    from trainables.configs.yolov8 import yolov8_model_config
    from trainables.yolo_world.models.build import build_model

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return build_model(yolov8_model_config(size, num_classes), sync_bn_to_bn=True).eval()
