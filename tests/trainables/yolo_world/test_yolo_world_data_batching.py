"""Batching pieces on their own: `yolow_collate` and the YOLOWv5OptimizerConstructor's param groups."""
from __future__ import annotations

import json

import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.bbox import HorizontalBoxes
from mmengine.optim import build_optim_wrapper
from mmengine.registry import FUNCTIONS, init_default_scope
from mmengine.structures import InstanceData
from torch import nn

from tests.project import OFFICIAL_FIXTURES
from trainables.yolo_world.data import yolow_collate
from trainables.yolo_world.optim import weight_decay_scale

RECIPE = OFFICIAL_FIXTURES / "finetune_recipe_s.json"


def _item(labels: list[int], texts: list[str] | None) -> dict:
    sample = DetDataSample(metainfo={} if texts is None else {"texts": texts})
    boxes = torch.tensor([[label, 1.0, label + 5.0, 9.0] for label in labels]).reshape(-1, 4)
    sample.gt_instances = InstanceData(bboxes=HorizontalBoxes(boxes), labels=torch.tensor(labels, dtype=torch.long))
    return {"inputs": torch.full((3, 8, 8), len(labels), dtype=torch.uint8), "data_samples": sample}


def test_yolow_collate_rows_images_and_texts() -> None:
    init_default_scope("mmyolo")
    assert FUNCTIONS.get("yolow_collate") is yolow_collate  # where the Runner looks collate_fn up
    batch = yolow_collate([_item([1, 0], ["dent", "rust"]), _item([], ["hole", ""]), _item([1], ["a", "b"])])
    assert batch["inputs"].shape == (3, 3, 8, 8) and batch["inputs"][:, 0, 0, 0].tolist() == [2, 0, 1]
    assert batch["data_samples"]["texts"] == [["dent", "rust"], ["hole", ""], ["a", "b"]]
    assert batch["data_samples"]["bboxes_labels"].tolist() == [[0, 1, 1, 1, 6, 9], [0, 0, 0, 1, 5, 9],
                                                               [2, 1, 1, 1, 6, 9]]
    assert "texts" not in yolow_collate([_item([0], None)])["data_samples"]


class _TinyDetector(nn.Module):
    """The parameter names the official paramwise_cfg keys match."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Module()
        self.backbone.text_model = nn.Linear(4, 4)
        self.backbone.image_model = nn.Conv2d(3, 4, 3)
        self.head = nn.Module()
        self.head.norm = nn.BatchNorm2d(4)
        self.head.logit_scale = nn.Parameter(torch.tensor(-1.0))


def _groups(optim_wrapper_cfg: dict) -> dict[str, dict]:
    """Optimizer settings per parameter name."""
    init_default_scope("mmyolo")
    import trainables.yolo_world  # noqa: F401  (registers the constructor)
    model = _TinyDetector()
    optimizer = build_optim_wrapper(model, json.loads(json.dumps(optim_wrapper_cfg))).optimizer
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: {k: v for k, v in group.items() if k != "params"}
            for group in optimizer.param_groups for p in group["params"]}


def _official_optim_wrapper() -> dict:
    recipe = json.loads(RECIPE.read_text())["yolo_world_v2_s_vlpan_bn_2e-4_80e_8gpus_mask-refine_finetune_coco"]
    return recipe["optim_wrapper"]


@pytest.mark.parametrize("batch_size_per_gpu, decay", [(16, 0.05), (128, 0.1)])
def test_official_optim_wrapper_param_groups(batch_size_per_gpu: int, decay: float) -> None:
    cfg = _official_optim_wrapper()
    cfg["optimizer"]["batch_size_per_gpu"] = batch_size_per_gpu
    groups = _groups(cfg)
    assert set(groups) == {n for n, _ in _TinyDetector().named_parameters()}
    for name in ("backbone.text_model.weight", "backbone.text_model.bias"):
        assert groups[name]["lr"] == pytest.approx(2e-6) and groups[name]["weight_decay"] == pytest.approx(decay)
    assert groups["head.logit_scale"]["weight_decay"] == 0.0 and groups["head.logit_scale"]["lr"] == 2e-4
    for name in ("backbone.image_model.weight", "head.norm.weight", "head.norm.bias"):
        assert groups[name]["lr"] == 2e-4 and groups[name]["weight_decay"] == pytest.approx(decay)
    assert all("batch_size_per_gpu" not in group for group in groups.values())


def test_decay_mult_scales_the_scaled_decay_and_base_batch_is_configurable() -> None:
    cfg = _official_optim_wrapper()
    cfg["optimizer"]["batch_size_per_gpu"] = 64
    cfg["paramwise_cfg"] = {"base_total_batch_size": 32,
                            "custom_keys": {"logit_scale": {"decay_mult": 0.0}, "norm": {"decay_mult": 0.5}}}
    groups = _groups(cfg)
    assert groups["head.logit_scale"]["weight_decay"] == 0.0
    assert groups["head.norm.weight"]["weight_decay"] == pytest.approx(0.05)  # 0.05 * 2 (64 / 32) * 0.5
    assert groups["backbone.text_model.weight"]["weight_decay"] == pytest.approx(0.1)
    del cfg["paramwise_cfg"]  # one group; base batch 64 again
    cfg["optimizer"]["batch_size_per_gpu"] = 128
    assert all(g["weight_decay"] == pytest.approx(0.1) for g in _groups(cfg).values())


@pytest.mark.parametrize("total, scale", [(8, 1.0), (16, 1.0), (64, 1.0), (24, 1.125), (40, 1.25), (128, 2.0),
                                          (256, 4.0)])
def test_weight_decay_scale_follows_yolov5(total: int, scale: float) -> None:
    assert weight_decay_scale(total) == pytest.approx(scale)
