"""An honest speed measurement of a detector: what users compare fine-tuned models by.

FPS is easy to overstate, so the rules are fixed here: eval mode, no autograd, a warm-up, device
synchronisation around every timed call, batch 1 at the trial's image size, and the median of many
runs (its spread is reported too). It is measured both for the network alone (what papers quote)
and end to end with box decoding and NMS (what a deployment sees).
"""
from __future__ import annotations

import copy
import statistics
import time
import warnings
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class SpeedReport:
    fps: float                 # end to end: network, box decoding and NMS
    fps_no_nms: float          # the network alone (raw head outputs)
    latency_ms: float          # median end-to-end latency
    latency_cv: float          # coefficient of variation of the end-to-end timings
    params_m: float            # parameters, millions
    gflops: float | None       # forward pass at this image size; None if it cannot be traced
    image_size: int
    device: str
    precision: str             # "fp32" or "fp16"

    def as_metrics(self, prefix: str = "") -> dict[str, float | str | None]:
        return {f"{prefix}{key}": value for key, value in asdict(self).items()}


def _timings(call: Callable[[], object], device: torch.device, warmup: int, runs: int) -> list[float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    for _ in range(warmup):
        call()
    sync()
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        sync()
        seconds.append(time.perf_counter() - start)
    return seconds


class _NetworkOnly(nn.Module):
    """The detector's raw forward (no decoding, no NMS) as a one-input module, for tracing."""

    def __init__(self, detector: nn.Module, data_samples: list) -> None:
        super().__init__()
        self.detector, self.data_samples = detector, data_samples

    def forward(self, inputs: torch.Tensor) -> object:
        return self.detector._forward(inputs, self.data_samples)


def count_gflops(detector: nn.Module, inputs: torch.Tensor, data_samples: list) -> float | None:
    """Forward FLOPs (multiply-adds counted once, as mmengine does), or None if tracing fails."""
    from mmengine.analysis import FlopAnalyzer

    try:
        analyzer = FlopAnalyzer(_NetworkOnly(detector, data_samples), (inputs,))
        analyzer.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return analyzer.total() / 1e9
    except Exception as error:  # noqa: BLE001 - FLOPs are informative; an untraceable model still gets timed
        warnings.warn(f"GFLOPs not counted: tracing {type(detector).__name__} failed ({error})", stacklevel=2)
        return None


def dummy_batch(image_size: int, device: torch.device, texts: list[str] | None = None) -> tuple[torch.Tensor, list]:
    """One normalised image and its data sample, as the test pipeline would produce them."""
    from mmdet.structures import DetDataSample

    meta = dict(img_shape=(image_size, image_size), ori_shape=(image_size, image_size),
                batch_input_shape=(image_size, image_size), scale_factor=(1.0, 1.0), pad_param=[0.0] * 4)
    if texts is not None:
        meta["texts"] = texts
    generator = torch.Generator().manual_seed(0)
    inputs = torch.rand((1, 3, image_size, image_size), generator=generator).to(device)
    return inputs, [DetDataSample(metainfo=meta)]


def _to_float(outputs: object) -> object:
    if isinstance(outputs, torch.Tensor):
        return outputs.float()
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(_to_float(item) for item in outputs)
    return outputs


def run_post_processing_in_fp32(detector: nn.Module) -> None:
    """Cast the head's raw outputs back to float32, so that box decoding and NMS run in fp32.

    This is how half-precision detectors are deployed, and mmcv's NMS kernels take float32 only:
    under autocast the end-to-end call would otherwise fail ("expected scalar type Float but found
    Half", seen on an H200). Changes `detector` in place (a forward hook on its head module).
    """
    detector.bbox_head.head_module.register_forward_hook(lambda _module, _inputs, outputs: _to_float(outputs))


def measure_speed(detector: nn.Module, image_size: int, *, device: torch.device | str = "cpu",
                  fp16: bool = False, warmup: int = 10, runs: int = 50,
                  texts: list[str] | None = None) -> SpeedReport:
    """Time a copy of `detector` (the original is left untouched, e.g. still in train mode).

    `texts` are the class prompts for detectors with a text path; reparameterized ones need none.
    fp16 uses autocast for the network and is only honoured on CUDA; decoding and NMS stay fp32.
    """
    device = torch.device(device)
    fp16 = fp16 and device.type == "cuda"
    model = copy.deepcopy(detector).to(device).eval()
    if fp16:
        run_post_processing_in_fp32(model)
    inputs, data_samples = dummy_batch(image_size, device, texts)
    autocast = torch.autocast("cuda", dtype=torch.float16) if fp16 else nullcontext()
    with torch.inference_mode(), autocast:
        network = _timings(lambda: model._forward(inputs, data_samples), device, warmup, runs)
        end_to_end = _timings(lambda: model.predict(inputs, data_samples, rescale=False), device, warmup, runs)
    gflops = count_gflops(model.float(), inputs, data_samples)
    median = statistics.median(end_to_end)
    return SpeedReport(
        fps=1.0 / median,
        fps_no_nms=1.0 / statistics.median(network),
        latency_ms=median * 1e3,
        latency_cv=statistics.pstdev(end_to_end) / statistics.fmean(end_to_end),
        params_m=sum(p.numel() for p in detector.parameters()) / 1e6,
        gflops=gflops,
        image_size=image_size,
        device=str(device),
        precision="fp16" if fp16 else "fp32",
    )
