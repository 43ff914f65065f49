"""The speed lane: an architecture is timed once per key and read back from the cache after."""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from trainables.architecture import inference_signature
from trainables.cpu_lane import LANE_FOLDER_ENV
from trainables.params import TrialParams
from trainables.speed_lane import LaneRequest, SpeedCache, lane_speed, machine_cache
from trainables.speed_protocol import SpeedProtocol
from trainables.yolo_world.models import model_config

pytestmark = pytest.mark.slow  # times real models


QUICK = SpeedProtocol(warmup_s=0.05, rounds=3, round_s=0.02, attempts=1).as_dict()


@pytest.fixture
def request_for(tiny_clip_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(LANE_FOLDER_ENV, str(tmp_path / "lane"))
    monkeypatch.setenv("WORLDTUNE_CACHE", str(tmp_path / "machine"))
    signature = inference_signature(TrialParams(size="tiny", image_size=96, text_encoder=str(tiny_clip_path)),
                                    num_classes=2, text_width=32)

    def make(**protocol: object) -> LaneRequest:
        return LaneRequest(signature=signature, image_size=96, texts=["dent", "rust"],
                           cache_dir=str(tmp_path / "speed"), protocol=QUICK | protocol)
    return make


@pytest.fixture(scope="module")
def tiny_model(tiny_clip_path: Path) -> dict:
    return model_config("tiny", num_classes=2, text_model_name=str(tiny_clip_path), text_channels=32)


def test_an_architecture_is_timed_once_then_read_from_the_cache(request_for, tiny_model: dict) -> None:
    lines: list[str] = []
    first = lane_speed(tiny_model, request_for(), torch.device("cpu"), log=lines.append)
    again = lane_speed(tiny_model, request_for(), torch.device("cpu"), log=lines.append)
    assert first["speed_cached"] is False and again["speed_cached"] is True
    assert again["fps"] == first["fps"] and again["arch_key"] == first["arch_key"]
    assert {"fps", "latency_ms", "fps_spread", "params_m", "gflops", "speed_protocol"} <= set(first)
    key = first["arch_key"]
    assert lines[0].startswith("speed lane: waited ") and lines[1].startswith(f"speed lane: {key} timed: ")
    assert lines[2:] == [f"speed lane: {key} from the cache: {first['fps']:.1f} FPS "
                         f"(spread {first['fps_spread']:.1%}; {first['speed_protocol']})"]
    stored = SpeedCache(request_for().cache_dir).get(first["arch_key"])
    assert stored["signature"]["size"] == "tiny" and stored["environment"]["threads"] == 1
    assert first["speed_protocol"].endswith("against a YOLOv8 reference") and first["reference_fps"] > 0
    (calibration,) = machine_cache().folder.glob("*.json")  # the reference: timed once for the machine
    assert json.loads(calibration.read_text())["fps"] == first["reference_fps"]


def test_another_protocol_is_another_key(request_for, tiny_model: dict) -> None:
    one = lane_speed(tiny_model, request_for(), torch.device("cpu"), log=lambda _: None)
    two = lane_speed(tiny_model, request_for(threads=2), torch.device("cpu"), log=lambda _: None)
    assert one["arch_key"] != two["arch_key"] and two["speed_cached"] is False
    assert "2 thread(s)" in two["speed_protocol"]


def test_without_a_cache_every_call_times(request_for, tiny_model: dict) -> None:
    request = replace(request_for(), cache_dir=None)
    runs = [lane_speed(tiny_model, request, torch.device("cpu"), log=lambda _: None) for _ in range(2)]
    assert [r["speed_cached"] for r in runs] == [False, False]
