"""The speed lane: one exclusive, repeatable FPS measurement per architecture key, before training.

A trial function asks the lane for its speed before it starts any Train worker (a Ray task on
one worker's resources, trainables/driver.py; a config run directly asks from its rank 0 before
the first epoch). The lane looks the key up in the search storage's speed cache (one JSON file
per key, shared by every search of that storage and by the nodes of a cluster); on a miss it
builds the architecture with random weights (network speed does not depend on them), times it
under `trainables.speed`'s protocol while it holds the device (on a CPU node: no trial trains
meanwhile, `cpu_lane`; on a GPU: the card the lane's task was given) and stores the figure. It
is timed in turn with a reference architecture (a plain YOLOv8 of the same size) whose FPS is
calibrated once per machine (`machine_cache`): the figure is that FPS scaled by their time
ratio, which holds while the machine's own speed drifts (seen here: 8 % over minutes on a shared
2-core VM, against 1.6 % for the ratio). The key names the device model, thread count, backend,
precision and library versions too, so a change of any of them re-times.
"""
from __future__ import annotations

import json
import os
import statistics
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from trainables.architecture import architecture_key
from trainables.cpu_lane import exclusive_cpus
from trainables.speed import device_name, measure_network
from trainables.speed_protocol import SpeedProtocol

LANE_VERSION = 2
"""Bumped when the protocol's code changes what it measures: older cache entries stop matching."""

VERSIONED_PACKAGES = ("torch", "mmcv", "mmdet", "mmyolo", "mmengine", "onnxruntime")
CALIBRATIONS = 3


@dataclass(frozen=True, kw_only=True)
class LaneRequest:
    """What a trial's config knows about its speed measurement (plain values: it travels inside
    the mmengine config to the worker)."""

    signature: dict[str, Any]              # trainables.architecture.inference_signature
    image_size: int
    texts: list[str] | None = None         # the class texts a text-path model encodes once
    cache_dir: str | None = None           # None: no cache, time every trial
    protocol: dict[str, Any] | None = None  # SpeedProtocol fields; None: the defaults

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> LaneRequest:
        return cls(**values)

    @property
    def speed_protocol(self) -> SpeedProtocol:
        return SpeedProtocol(**(self.protocol or {}))


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "absent"


def measurement_environment(device: torch.device, protocol: SpeedProtocol) -> dict[str, Any]:
    """Everything besides the architecture that the figure depends on."""
    on_gpu = device.type == "cuda"
    return {"lane": LANE_VERSION, "device": device_name(device), "device_type": device.type,
            "threads": None if on_gpu else protocol.threads, "precision": "fp16" if on_gpu else "fp32",
            "protocol": protocol.as_dict(), "versions": {p: _version(p) for p in VERSIONED_PACKAGES}}


class SpeedCache:
    """architecture key -> the lane's record, one small JSON file each, written atomically."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def _file(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._file(key).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def put(self, key: str, record: dict[str, Any]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        partial = self._file(key).with_suffix(f".{os.getpid()}.partial")
        partial.write_text(json.dumps(record, indent=1, sort_keys=True))
        os.replace(partial, self._file(key))


def machine_cache() -> SpeedCache:
    """The reference calibrations of this machine, shared by every search storage on it."""
    root = os.environ.get("WORLDTUNE_CACHE") or Path.home() / ".cache" / "worldtune"
    return SpeedCache(Path(root) / "speed-reference")


def calibrated_reference(size: str, image_size: int, device: torch.device,
                         protocol: SpeedProtocol) -> tuple[torch.nn.Module, float]:
    """The reference architecture (a plain YOLOv8 of the trial's size) and its FPS on this
    machine: timed alone once per machine (the median of CALIBRATIONS measurements), cached.
    Call it while holding the device."""
    from trainables.reference import reference_detector

    model = reference_detector(size)
    environment = measurement_environment(device, protocol)
    key = architecture_key({"reference": f"yolov8-{size}", "image_size": image_size}, environment)
    record = machine_cache().get(key)
    if record is None:
        reports = [measure_network(model, image_size, device=device, protocol=protocol) for _ in range(CALIBRATIONS)]
        record = {"fps": statistics.median(r.fps for r in reports), "runs": [r.fps for r in reports],
                  "speed_protocol": reports[0].protocol, "environment": environment}
        machine_cache().put(key, record)
    return model, record["fps"]


def _time(model_cfg: dict[str, Any], request: LaneRequest, device: torch.device) -> dict[str, Any]:
    from trainables.yolo_world.models.build import build_model

    cfg = dict(model_cfg, use_syncbn=False)  # one process, eval mode: plain BN
    with torch.random.fork_rng(devices=[]):  # the trial's own seeding stays as it was
        torch.manual_seed(0)
        detector = build_model(cfg, sync_bn_to_bn=True)
    reference = calibrated_reference(request.signature["size"], request.image_size, device, request.speed_protocol)
    report = measure_network(detector, request.image_size, device=device, protocol=request.speed_protocol,
                             texts=request.texts, reference=reference)
    return report.as_metrics() | {"reference_fps": reference[1]}


def _device_held(device: torch.device, log: Callable[[str], None]):
    """On a CPU node: no trial trains inside the block; a GPU is the trial's own card already."""
    if device.type != "cpu":
        return nullcontext(0.0)
    return exclusive_cpus(on_wait=lambda waited: log(f"speed lane: still waiting for the CPUs ({waited:.0f} s)"))


def lane_speed(model_cfg: dict[str, Any], request: LaneRequest, device: torch.device,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """The trial's speed metrics (`fps`, `latency_ms`, `fps_spread`, `params_m`, `gflops`,
    `speed_protocol`, `arch_key`, `speed_cached`), from the cache or timed now."""
    environment = measurement_environment(device, request.speed_protocol)
    key = architecture_key(request.signature, environment)
    cache = SpeedCache(request.cache_dir) if request.cache_dir else None
    record, timed = cache.get(key) if cache else None, False
    if record is None:
        with _device_held(device, log) as waited:
            record = cache.get(key) if cache else None  # another trial may have timed it meanwhile
            if record is None:
                record, timed = _time(model_cfg, request, device) | {
                    "arch_key": key, "signature": request.signature, "environment": environment}, True
                if cache:
                    cache.put(key, record)
        log(f"speed lane: waited {waited:.1f} s for the device")
    log(f"speed lane: {key} {'timed' if timed else 'from the cache'}: {record['fps']:.1f} FPS "
        f"(spread {record['fps_spread']:.1%}; {record['speed_protocol']})")
    return {name: value for name, value in record.items() if name not in ("signature", "environment")} \
        | {"speed_cached": not timed}
