"""A repeatable speed measurement of a detector's network: what the accuracy/FPS front stands on.

FPS is easy to overstate and easy to make noisy, so the protocol is fixed here and every figure
carries its label:
- a deployment-shaped copy: eval mode, Conv+BN fused, class-text features computed once (the
  text path's deployment), weights cast to fp16 once on a GPU (no per-call autocast);
- a fixed thread count on the CPU, a time-based warm-up, then `rounds` blocks of calls; each
  round gives its median, the figure is the median of the round medians and the spread is the
  range of the round medians over their median; an attempt whose spread is over the target, or
  during which other processes used more than `max_background` cores (a trial starting up, the
  hypervisor's steal: `trainables.host_load`), is made again after a pause (up to `attempts`),
  and the best attempt is reported;
- on a GPU, CUDA events around each call and CUDA-graph capture where the model allows it
  (else eager, labelled);
- backends: PyTorch (default) or ONNX Runtime on the CPU (the deployment copy exported to ONNX,
  `trainables.onnx_backend`).
Network speed does not depend on the weights, so a randomly initialised model of the same
architecture is as good as a trained one: the speed lane times it before the trial trains.
"""
from __future__ import annotations

import copy
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from trainables.host_load import BackgroundLoad, wait_for_quiet
from trainables.onnx_backend import NetworkOnly, export_onnx, onnxruntime_call
from trainables.speed_protocol import SpeedProtocol


@dataclass(frozen=True)
class SpeedReport:
    fps: float                 # the network at batch 1 (raw head outputs, no decoding or NMS)
    latency_ms: float          # median of the round medians
    spread: float              # (max - min) / median of the round medians
    background_cpu: float | None  # cores the other processes used meanwhile (CPU; None: unknown)
    attempts: int              # measurements made to meet the targets
    params_m: float            # parameters of the deployed model, millions
    gflops: float | None       # forward pass at this image size; None if it cannot be traced
    image_size: int
    device: str                # the device model (CPU or GPU name)
    precision: str             # fp32, or fp16 on a GPU
    backend: str
    threads: int | None        # CPU threads; None on a GPU
    mode: str                  # eager, cuda-graph or onnxruntime-cpu
    reference_fps: float | None = None  # timed against a reference of this calibrated FPS (None: alone)

    @property
    def protocol(self) -> str:
        """The label every FPS figure is shown with."""
        where = f"{self.threads} thread(s)" if self.threads else self.mode
        relative = "" if self.reference_fps is None else ", against a YOLOv8 reference"
        return (f"{self.backend} {self.precision}, batch 1, {self.image_size} px, network only, "
                f"{self.device}, {where}{relative}")

    def as_metrics(self) -> dict[str, float | str | None]:
        return {"fps": self.fps, "latency_ms": self.latency_ms, "fps_spread": self.spread,
                "fps_attempts": self.attempts, "speed_background_cpu": self.background_cpu,
                "params_m": self.params_m, "gflops": self.gflops,
                "speed_protocol": self.protocol}


def device_name(device: torch.device) -> str:
    """The processor's model name: part of the key, since speed is a property of the hardware."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or platform.machine()


def count_gflops(detector: nn.Module, inputs: torch.Tensor, data_samples: list) -> float | None:
    """Forward FLOPs (multiply-adds counted once, as mmengine does), or None if tracing fails."""
    from mmengine.analysis import FlopAnalyzer

    try:
        analyzer = FlopAnalyzer(NetworkOnly(detector, data_samples), (inputs,))
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


def deployment_copy(detector: nn.Module, texts: list[str] | None = None) -> nn.Module:
    """The model as it would be deployed: a copy in eval mode, Conv+BN fused, class features fixed.

    A text-path detector encodes `texts` once (its `reparameterize`); a prompt-tuned one folds
    its adapter into fixed prompt features. The original is left untouched.
    """
    from mmcv.cnn import fuse_conv_bn

    model = copy.deepcopy(detector).eval()
    with torch.no_grad():
        if getattr(model, "reparameterized", True) is False:  # prompt tuning: fixed prompts
            model.embeddings = nn.Parameter(model.prompt_features(), requires_grad=False)
            model.adapter = None
        elif texts is not None and hasattr(model, "reparameterize"):
            model.reparameterize(texts)
    return fuse_conv_bn(model)


def deployed_params_m(model: nn.Module) -> float:
    """Parameters the deployed network runs, millions: the text tower is not one of them (its
    class features are computed once, before any image)."""
    return sum(p.numel() for name, p in model.named_parameters() if ".text_model." not in f".{name}") / 1e6


@contextmanager
def cpu_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op threads set to `count` for the block (None: unchanged)."""
    before = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def timed_call(call: Callable[[], object], device: torch.device) -> Callable[[], float]:
    """One timed call: CUDA events on a GPU (device time, synchronised), perf_counter on a CPU."""
    if device.type != "cuda":
        def timed() -> float:
            start = time.perf_counter()
            call()
            return time.perf_counter() - start
        return timed
    begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

    def timed_cuda() -> float:
        begin.record()
        call()
        end.record()
        end.synchronize()
        return begin.elapsed_time(end) / 1e3
    return timed_cuda


def calls_per_round(timed: Callable[[], float], protocol: SpeedProtocol) -> int:
    """Warm up for `warmup_s` (at least 3 calls); the number of calls that fill one round."""
    deadline, seconds = time.perf_counter() + protocol.warmup_s, []
    while time.perf_counter() < deadline or len(seconds) < 3:
        seconds.append(timed())
    return max(5, round(protocol.round_s / max(statistics.median(seconds[-3:]), 1e-6)))


def round_medians(call: Callable[[], object], device: torch.device, protocol: SpeedProtocol) -> list[float]:
    """Warm up, then `rounds` rounds of about `round_s` each: their medians."""
    timed = timed_call(call, device)
    per_round = calls_per_round(timed, protocol)
    return [statistics.median(timed() for _ in range(per_round)) for _ in range(protocol.rounds)]


def paired_round_ratios(call: Callable[[], object], reference: Callable[[], object], device: torch.device,
                        protocol: SpeedProtocol) -> list[float]:
    """Per round, the median time of `call` over the median time of `reference`, the two called
    in turn: a machine that slows down for a while slows both alike, and the ratio holds."""
    timed, timed_reference = timed_call(call, device), timed_call(reference, device)
    pairs = max(calls_per_round(timed, protocol), calls_per_round(timed_reference, protocol)) // 2
    ratios = []
    for _ in range(protocol.rounds):
        mine, theirs = [], []
        for _ in range(max(pairs, 5)):
            mine.append(timed())
            theirs.append(timed_reference())
        ratios.append(statistics.median(mine) / statistics.median(theirs))
    return ratios


def _graph_or_eager(forward: Callable[[], object], device: torch.device) -> tuple[Callable[[], object], str]:
    """A CUDA graph replaying `forward` when it can be captured, else `forward` itself."""
    if device.type != "cuda":
        return forward, "eager"
    try:
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(3):
                forward()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            forward()
        return graph.replay, "cuda-graph"
    except Exception as error:  # noqa: BLE001 - any capture failure means: time it eagerly
        warnings.warn(f"CUDA graph capture failed ({error}); timing eagerly", stacklevel=2)
        torch.cuda.synchronize()
        return forward, "eager"


def _backend_call(model: nn.Module, inputs: torch.Tensor, data_samples: list, device: torch.device,
                  protocol: SpeedProtocol, graph: Path) -> tuple[Callable[[], object], str]:
    """The call to time (`graph`: where the ONNX backend writes the network), and its mode label."""
    if protocol.backend == "onnxruntime":
        graph = export_onnx(model, inputs, data_samples, graph)
        return onnxruntime_call(graph, inputs, protocol.threads), "onnxruntime-cpu"
    with torch.inference_mode():
        return _graph_or_eager(lambda: model._forward(inputs, data_samples), device)


@dataclass(frozen=True)
class _Attempt:
    spread: float              # (max - min) / median of the round figures
    figure: float              # median of the round figures (seconds, or a ratio to the reference)
    background: float | None   # cores the other processes used meanwhile (CPU only)

    def good(self, protocol: SpeedProtocol) -> bool:
        quiet = self.background is None or self.background <= protocol.max_background
        return quiet and self.spread <= protocol.target_spread


def _attempts(rounds: Callable[[], list[float]], device: torch.device, protocol: SpeedProtocol) -> list[_Attempt]:
    """Measure until an attempt is steady and, on a CPU, undisturbed (or `attempts` are made).
    On a CPU each attempt starts once the others are quiet (waiting `quiet_wait_s` at most in
    all), and a failed one is followed by a pause, so that a burst elsewhere can pass."""
    measured: list[_Attempt] = []
    quiet_deadline = time.monotonic() + protocol.quiet_wait_s
    while len(measured) < protocol.attempts and not (measured and measured[-1].good(protocol)):
        if measured:
            time.sleep(protocol.retry_pause_s)
        if device.type == "cpu":
            wait_for_quiet(protocol.max_background, max(quiet_deadline - time.monotonic(), 0.0))
        load = BackgroundLoad(thread_only=protocol.threads == 1)
        figures = rounds()
        middle = statistics.median(figures)
        measured.append(_Attempt((max(figures) - min(figures)) / middle, middle,
                                 load.cores() if device.type == "cpu" else None))
    return measured


def measure_network(detector: nn.Module, image_size: int, *, device: torch.device | str = "cpu",
                    protocol: SpeedProtocol = SpeedProtocol(), texts: list[str] | None = None,
                    reference: tuple[nn.Module, float] | None = None) -> SpeedReport:
    """Time the deployment copy of `detector` at batch 1 under `protocol`.

    `texts` are the class prompts of a text-path detector (encoded once); prompt-tuned and
    reparameterized ones need none. fp16 only on CUDA. With `reference` (a model and its
    calibrated FPS on this machine) the two are timed in turn and the figure is the calibrated FPS
    scaled by their time ratio: what a machine whose speed drifts still repeats.
    """
    device = torch.device(device)
    if protocol.backend == "onnxruntime" and device.type != "cpu":
        raise ValueError(f"speed backend 'onnxruntime' times on the CPU, not on {device}: use 'pytorch' for GPUs")
    model = deployment_copy(detector, texts).to(device)
    inputs, data_samples = dummy_batch(image_size, device)  # the texts are fixed in the model now
    gflops = count_gflops(model, inputs, data_samples)
    params_m = deployed_params_m(model)
    if device.type == "cuda":
        model, inputs = model.half(), inputs.half()
    threads = None if device.type == "cuda" else protocol.threads
    with tempfile.TemporaryDirectory() as folder, cpu_threads(threads):
        call, mode = _backend_call(model, inputs, data_samples, device, protocol, Path(folder) / "network.onnx")
        if reference is None:
            rounds = lambda: round_medians(call, device, protocol)  # noqa: E731
        else:
            other = deployment_copy(reference[0]).to(device)
            other = other.half() if device.type == "cuda" else other
            other_call, _ = _backend_call(other, inputs, data_samples, device, protocol,
                                          Path(folder) / "reference.onnx")
            rounds = lambda: paired_round_ratios(call, other_call, device, protocol)  # noqa: E731
        with torch.inference_mode():
            measured = _attempts(rounds, device, protocol)
    best = min(measured, key=lambda a: (not a.good(protocol), a.background or 0.0, a.spread))
    seconds = best.figure if reference is None else best.figure / reference[1]
    return SpeedReport(fps=1.0 / seconds, latency_ms=seconds * 1e3, spread=best.spread,
                       background_cpu=best.background, attempts=len(measured), params_m=params_m, gflops=gflops,
                       image_size=image_size, device=device_name(device), precision="fp16" if device.type == "cuda"
                       else "fp32", backend=protocol.backend, threads=threads, mode=mode,
                       reference_fps=None if reference is None else reference[1])
