"""Comparing worldtune's YOLO-World with the official code's numbers and state dicts."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from trainables.yolo_world.models import build_model


def built_shapes(official_cfg: dict[str, Any], clips: dict[str, str],
                 tmp_path: Path) -> dict[str, list[int]]:
    """{state dict key: shape} of the model an official config builds (hub ids -> local towers)."""
    cfg = copy.deepcopy(official_cfg)
    text_model = cfg["backbone"].get("text_model") or {}
    if "model_name" in text_model:
        text_model["model_name"] = clips[text_model["model_name"]]
    if cfg.get("embedding_path"):
        cfg["embedding_path"] = str(tmp_path / "prompts.npy")
        np.save(cfg["embedding_path"],
                np.random.randn(cfg["num_prompts"], cfg["prompt_dim"]).astype(np.float32))
    cfg.pop("data_preprocessor")  # the data side's type; not part of the state dict
    return {k: list(v.shape) for k, v in build_model(cfg).state_dict().items()}


def relative_error(actual: Tensor, expected: Tensor) -> float:
    """||actual - expected|| / ||expected||.

    Norm-wise, not element-wise: the tiny models' perturbed weights drive the box
    branch's DFL logits to ~3700, where float32 rounding alone moves single box
    values by ~1e-3 (our float32 and the official float32 differ from a float64
    run by the same amount).
    """
    return ((actual.double() - expected.double()).norm() / expected.double().norm()).item()


def assert_head_outputs_close(model: torch.nn.Module, images: Tensor, cls_scores: list[Tensor],
                              bbox_preds: list[Tensor], tolerance: float) -> None:
    """The model's raw head outputs on `images`, level by level, within `tolerance` (norm-wise)."""
    with torch.no_grad():
        ours_cls, ours_bbox = model._forward(images)
    for level in range(len(cls_scores)):
        assert relative_error(ours_cls[level], cls_scores[level]) < tolerance
        assert relative_error(ours_bbox[level], bbox_preds[level]) < tolerance


def assert_training_losses_close(model: torch.nn.Module, vectors: dict[str, Any], tolerance: float) -> None:
    """The train-mode losses on the fixture's batch (128 px images, its boxes) against its own."""
    metas = [dict(img_shape=(128, 128), batch_input_shape=(128, 128))] * len(vectors["images"])
    losses = model.train().loss(vectors["images"],
                                {"bboxes_labels": vectors["gt_bboxes_labels"], "img_metas": metas})
    assert set(losses) == set(vectors["train_losses"])
    for name, expected in vectors["train_losses"].items():
        assert abs(losses[name].item() - expected) / expected < tolerance, name
