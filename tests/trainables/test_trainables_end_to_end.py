"""End-to-end timing of trained models: deployment thresholds, a real image, a reference in every round."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.project import QUICK_SPEED
from trainables.end_to_end import (
    DEPLOYMENT_TEST_CFG,
    REFERENCE,
    deployed_for_end_to_end,
    image_batch,
    reference_model,
    time_end_to_end,
)
from trainables.yolo_world.models import build_model, model_config

CLASSES = ["scratch", "dent", "rust", "crack", "hole", "stain"]


@pytest.fixture(scope="module")
def image(small_demo_root: Path) -> torch.Tensor:
    path = next((small_demo_root / "demo-defects" / "images" / "val").iterdir())
    return image_batch(path, 160)


@pytest.fixture(scope="module")
def detector(tiny_clip_path: Path) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(model_config("tiny", num_classes=len(CLASSES), text_model_name=str(tiny_clip_path),
                                     text_channels=32))
    with torch.no_grad():  # confident everywhere: the score threshold, not the weights, bounds NMS
        for conv in model.bbox_head.head_module.cls_contrasts:
            conv.bias.fill_(5.0)
    return model


def test_a_real_image_is_scaled_like_the_test_pipeline(image: torch.Tensor) -> None:
    assert image.shape == (1, 3, 160, 160) and image.dtype == torch.float32
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0 and float(image.std()) > 0.01


def test_deployment_thresholds_bound_the_detections(detector: torch.nn.Module, image: torch.Tensor) -> None:
    from trainables.speed import dummy_batch

    deployed = deployed_for_end_to_end(detector, CLASSES)
    _, samples = dummy_batch(160, torch.device("cpu"))
    with torch.no_grad():
        (result,) = deployed.predict(image, samples, rescale=False)
    scores = result.pred_instances.scores
    assert 0 < len(scores) <= DEPLOYMENT_TEST_CFG["max_per_img"]
    assert float(scores.min()) >= DEPLOYMENT_TEST_CFG["score_thr"]


def test_models_and_the_reference_are_timed_in_every_round(detector: torch.nn.Module, image: torch.Tensor) -> None:
    models = {"a": (deployed_for_end_to_end(detector, CLASSES), image),
              "b": (deployed_for_end_to_end(detector, CLASSES[:3]), image)}
    timed = time_end_to_end(models, reference=(reference_model("tiny", len(CLASSES)), image), protocol=QUICK_SPEED)
    assert set(timed.fps) == {"a", "b", REFERENCE}
    assert all(1 < fps < 10000 for fps in timed.fps.values())
    assert timed.of("missing") is None
    assert "end to end (decoding + NMS: score >= 0.05, <= 1000 candidates, <= 100 boxes)" in timed.protocol
    assert "interleaved with a YOLOv8 reference at" in timed.protocol
