"""The speed measurement returns plausible, self-consistent figures and leaves the model alone."""
from __future__ import annotations

import pytest
import torch
from mmengine.config import ConfigDict

from trainables.configs.yolov8 import yolov8_model_config
from trainables.speed import dummy_batch, measure_speed, run_post_processing_in_fp32


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


def test_post_processing_runs_in_fp32_under_autocast(detector: torch.nn.Module) -> None:
    """Half-precision speed runs: mmcv's NMS takes float32 only (CPU bf16 autocast stands in for
    CUDA fp16 here; both fail the same way without the cast)."""
    import copy

    inputs, data_samples = dummy_batch(160, torch.device("cpu"))
    model = copy.deepcopy(detector).eval()
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        with pytest.raises(RuntimeError, match="expected scalar type Float"):
            model.predict(inputs, data_samples, rescale=False)
        run_post_processing_in_fp32(model)
        (result,) = model.predict(inputs, data_samples, rescale=False)
    assert result.pred_instances.bboxes.dtype == torch.float32
