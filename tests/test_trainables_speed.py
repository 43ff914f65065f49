"""The speed measurement returns plausible, self-consistent figures and leaves the model alone."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import ConfigDict

from trainables.configs.yolov8 import yolov8_model_config
from trainables.speed import measure_speed


@pytest.fixture(scope="module")
def detector() -> torch.nn.Module:
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules

    register_all_modules()
    torch.manual_seed(0)
    return MODELS.build(ConfigDict(yolov8_model_config("tiny", num_classes=4)))


def test_speed_report_is_plausible(detector: torch.nn.Module) -> None:
    detector.train()
    report = measure_speed(detector, 160, warmup=3, runs=15)
    assert detector.training, "the measured copy must not switch the caller's model to eval mode"
    assert report.params_m == pytest.approx(sum(p.numel() for p in detector.parameters()) / 1e6)
    assert 1 < report.fps < 2000 and 1 < report.fps_no_nms < 5000
    assert report.latency_ms == pytest.approx(1000 / report.fps)
    assert report.latency_cv >= 0
    assert (report.device, report.precision, report.image_size) == ("cpu", "fp32", 160)
    assert report.gflops is not None and 0.05 < report.gflops < 5


def test_flops_grow_with_the_image_area(detector: torch.nn.Module) -> None:
    small = measure_speed(detector, 128, warmup=1, runs=2)
    large = measure_speed(detector, 256, warmup=1, runs=2)
    assert large.gflops / small.gflops == pytest.approx(4.0, rel=0.05)
    assert large.as_metrics("final_")["final_gflops"] == large.gflops
