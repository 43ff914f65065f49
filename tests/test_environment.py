"""The pinned stack imports and an mmyolo YOLOv8 trains on the CPU (mmcv's compiled ops included)."""
from __future__ import annotations

import importlib

import pytest
import torch

STACK = ["mmcv", "mmcv.ops", "mmengine", "mmdet", "mmyolo", "ray", "ray.tune", "ray.train", "optuna",
         "mlflow", "pycocotools.coco", "pycocotools.cocoeval", "transformers"]


@pytest.mark.parametrize("module", STACK)
def test_stack_imports(module: str) -> None:
    assert importlib.import_module(module) is not None


def test_mmcv_compiled_nms_suppresses_overlaps() -> None:
    from mmcv.ops import batched_nms

    boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    kept, keep = batched_nms(boxes, scores, torch.zeros(3, dtype=torch.long), dict(type="nms", iou_threshold=0.5))
    assert keep.tolist() == [0, 2]
    assert kept.shape == (2, 5)


def test_mmyolo_yolov8_trains_and_predicts_on_cpu() -> None:
    from mmengine.config import ConfigDict
    from mmengine.optim import OptimWrapper
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules

    from trainables.configs.yolov8 import yolov8_model_config

    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(yolov8_model_config("tiny", num_classes=3)))
    optim_wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    images = torch.randint(0, 255, (2, 3, 128, 128), dtype=torch.uint8)
    # rows: (image index in batch, label, x1, y1, x2, y2)
    targets = torch.tensor([[0, 0, 10, 12, 60, 70], [1, 2, 30, 30, 90, 100], [1, 1, 5, 80, 40, 120]],
                           dtype=torch.float32)
    batch = {"inputs": images, "data_samples": {"bboxes_labels": targets}}
    before = [p.detach().clone() for p in model.parameters()]
    losses = model.train_step(batch, optim_wrapper)
    assert set(losses) >= {"loss_cls", "loss_bbox", "loss_dfl"}
    assert all(torch.isfinite(v) and v > 0 for v in losses.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters())), "no parameter was updated"

    from mmdet.structures import DetDataSample

    model.eval()
    sample = DetDataSample(metainfo=dict(img_shape=(128, 128), ori_shape=(128, 128), scale_factor=(1.0, 1.0),
                                         pad_param=[0, 0, 0, 0], batch_input_shape=(128, 128)))
    with torch.no_grad():
        (result,) = model.test_step({"inputs": [images[0]], "data_samples": [sample]})
    assert result.pred_instances.bboxes.shape[-1] == 4
