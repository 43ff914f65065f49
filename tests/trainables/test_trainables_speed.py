"""The speed protocol: a deployment-shaped copy that computes what the model computes, plausible
self-consistent figures, and the original model left alone."""
from __future__ import annotations

import statistics
from pathlib import Path

import pytest
import torch
from torch import nn

from trainables.onnx_backend import export_onnx, flat_outputs, onnxruntime_call
from trainables.speed import deployed_params_m, deployment_copy, dummy_batch, measure_network
from trainables.speed_protocol import SpeedProtocol
from trainables.yolo_world.models import build_model, model_config, prompt_tuning_config

pytestmark = pytest.mark.slow  # times real models


CLASSES = ["scratch", "dent", "rust"]
QUICK = SpeedProtocol(warmup_s=0.05, rounds=3, round_s=0.02, attempts=1)


def _perturbed(model: nn.Module) -> nn.Module:
    """Random BN statistics, so that fusing them into the convolutions is a real change."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.normal_(1, 0.1)
    return model


@pytest.fixture(scope="module")
def detector(tiny_clip_path: Path) -> nn.Module:
    torch.manual_seed(0)
    cfg = model_config("tiny", num_classes=len(CLASSES), text_model_name=str(tiny_clip_path), text_channels=32,
                       with_data_preprocessor=False)
    return _perturbed(build_model(cfg))


def _raw(model: nn.Module, texts: list[str] | None) -> list[torch.Tensor]:
    inputs, samples = dummy_batch(64, torch.device("cpu"), texts)
    with torch.no_grad():
        outputs = model._forward(inputs, samples)
    return [tensor for level in outputs for tensor in level]


def test_the_deployment_copy_computes_what_the_model_computes(detector: nn.Module) -> None:
    detector.train()
    deployed = deployment_copy(detector, CLASSES)
    assert detector.training, "the copy must not switch the caller's model to eval mode"
    assert not any(isinstance(m, nn.BatchNorm2d) for m in deployed.neck.modules()
                   if not isinstance(m, nn.Identity)), "Conv+BN fused in the neck"
    expected = _raw(detector.eval(), CLASSES)
    got = _raw(deployed, None)  # the class texts are fixed in the copy: the batch carries none
    for want, have in zip(expected, got, strict=True):
        torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-4)


def test_a_prompt_tuned_copy_folds_its_adapter_into_fixed_prompts(tiny_clip_path: Path) -> None:
    cfg = prompt_tuning_config(model_config("tiny", num_classes=3, text_model_name=str(tiny_clip_path),
                                            text_channels=32, with_data_preprocessor=False), use_mlp_adapter=True)
    torch.manual_seed(0)
    model = _perturbed(build_model(cfg)).eval()
    deployed = deployment_copy(model)
    assert deployed.adapter is None and model.adapter is not None
    for want, have in zip(_raw(model, None), _raw(deployed, None), strict=True):
        torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-4)


def test_the_report_is_plausible_and_labelled(detector: nn.Module) -> None:
    report = measure_network(detector, 160, protocol=QUICK, texts=CLASSES)
    assert 1 < report.fps < 5000
    assert report.latency_ms == pytest.approx(1000 / report.fps)
    assert report.spread >= 0 and report.attempts == 1
    assert report.background_cpu is not None and report.background_cpu >= 0, "the others' CPU use is known here"
    assert (report.precision, report.image_size, report.threads, report.mode) == ("fp32", 160, 1, "eager")
    assert report.params_m == pytest.approx(deployed_params_m(deployment_copy(detector, CLASSES)))
    assert report.params_m < sum(p.numel() for p in detector.parameters()) / 1e6, "no text tower"
    assert report.gflops is not None and 0.01 < report.gflops < 5
    label = report.as_metrics()["speed_protocol"]
    assert label.startswith("pytorch fp32, batch 1, 160 px, network only") and "1 thread(s)" in label


def test_onnx_runtime_runs_the_same_network(detector: nn.Module, tmp_path: Path) -> None:
    deployed = deployment_copy(detector, CLASSES)
    inputs, samples = dummy_batch(64, torch.device("cpu"))
    graph = export_onnx(deployed, inputs, samples, tmp_path / "network.onnx")
    with torch.no_grad():
        expected = flat_outputs(deployed._forward(inputs, samples))
    got = onnxruntime_call(graph, inputs, threads=1)()
    assert len(got) == len(expected) == 6, "class scores and box distributions of 3 levels"
    for want, have in zip(expected, got, strict=True):
        torch.testing.assert_close(torch.from_numpy(have), want, rtol=1e-4, atol=1e-4)
    report = measure_network(detector, 160, protocol=SpeedProtocol(**(QUICK.as_dict() | {"backend": "onnxruntime"})),
                             texts=CLASSES)
    assert report.mode == "onnxruntime-cpu" and 1 < report.fps < 10000
    assert report.protocol.startswith("onnxruntime fp32, batch 1, 160 px, network only")


def test_against_a_reference_the_figure_is_its_calibrated_speed_scaled_by_the_time_ratio(
        detector: nn.Module) -> None:
    from trainables.reference import reference_detector

    reference = reference_detector("tiny")
    itself = measure_network(reference, 96, protocol=QUICK, reference=(reference, 100.0))
    assert itself.fps == pytest.approx(100.0, rel=0.15), "a model against itself runs at the reference's speed"
    assert itself.reference_fps == 100.0 and itself.protocol.endswith("against a YOLOv8 reference")
    relative = measure_network(detector, 96, protocol=QUICK, texts=CLASSES, reference=(reference, 100.0))
    # Timed apart, the two are not comparable to better than about 2x on a shared machine: the
    # reference alone once ran at 80 FPS and minutes later at 130 while the paired ratio stayed 0.83
    # (that drift is why the lane times in pairs). So: each one's median of three, timed in turn,
    # within a factor of 2; `itself` above is the exact check of the scaling.
    alone, calibrated = [], []
    for _ in range(3):
        alone.append(measure_network(detector, 96, protocol=QUICK, texts=CLASSES).fps)
        calibrated.append(measure_network(reference, 96, protocol=QUICK).fps)
    apart = statistics.median(alone) / statistics.median(calibrated)
    assert 0.5 < (relative.fps / 100.0) / apart < 2.0, \
        f"the same ratio, either way: {relative.fps / 100.0:.2f} against {alone} / {calibrated}"


def test_flops_grow_with_the_image_area(detector: nn.Module) -> None:
    small = measure_network(detector, 128, protocol=QUICK, texts=CLASSES)
    large = measure_network(detector, 256, protocol=QUICK, texts=CLASSES)
    assert large.gflops / small.gflops == pytest.approx(4.0, rel=0.05)


class _Pooled(nn.Module):
    """The smallest detector-shaped model: `_forward(inputs, samples)` like mmdet's detectors."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(3, 8)

    def _forward(self, inputs: torch.Tensor, samples: list) -> torch.Tensor:
        return self.linear(inputs.mean(dim=(2, 3)))


def test_a_wide_spread_is_measured_again() -> None:
    """A spread target nothing meets: every attempt is made, and the tightest one is reported."""
    report = measure_network(_Pooled(), 32, protocol=SpeedProtocol(warmup_s=0.01, rounds=3, round_s=0.01,
                                                               target_spread=1e-9, attempts=3, retry_pause_s=0))
    assert report.attempts == 3 and report.spread > 1e-9


@pytest.mark.parametrize("bad, match", [({"threads": 0}, "threads"), ({"rounds": 2}, "rounds"),
                                        ({"backend": "tensorrt"}, "backend"), ({"round_s": 0}, "round_s"),
                                        ({"max_background": 0}, "max_background")])
def test_a_bad_protocol_is_refused(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        SpeedProtocol(**bad)
