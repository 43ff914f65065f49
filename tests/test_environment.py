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


def _tiny_yolov8(num_classes: int) -> dict:
    deepen, widen = 0.33, 0.25
    norm, act = dict(type="BN", momentum=0.03, eps=0.001), dict(type="SiLU", inplace=True)
    channels, strides = [256, 512, 1024], [8, 16, 32]
    return dict(
        type="YOLODetector",
        data_preprocessor=dict(type="YOLOv5DetDataPreprocessor", mean=[0.0] * 3, std=[255.0] * 3, bgr_to_rgb=True),
        backbone=dict(type="YOLOv8CSPDarknet", arch="P5", last_stage_out_channels=1024, deepen_factor=deepen,
                      widen_factor=widen, norm_cfg=norm, act_cfg=act),
        neck=dict(type="YOLOv8PAFPN", deepen_factor=deepen, widen_factor=widen, in_channels=channels,
                  out_channels=channels, num_csp_blocks=3, norm_cfg=norm, act_cfg=act),
        bbox_head=dict(
            type="YOLOv8Head",
            head_module=dict(type="YOLOv8HeadModule", num_classes=num_classes, in_channels=channels,
                             widen_factor=widen, reg_max=16, norm_cfg=norm, act_cfg=act, featmap_strides=strides),
            prior_generator=dict(type="mmdet.MlvlPointGenerator", offset=0.5, strides=strides),
            bbox_coder=dict(type="DistancePointBBoxCoder"),
            loss_cls=dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, reduction="none", loss_weight=0.5),
            loss_bbox=dict(type="IoULoss", iou_mode="ciou", bbox_format="xyxy", reduction="sum",
                           loss_weight=7.5, return_iou=False),
            loss_dfl=dict(type="mmdet.DistributionFocalLoss", reduction="mean", loss_weight=1.5 / 4)),
        train_cfg=dict(assigner=dict(type="BatchTaskAlignedAssigner", num_classes=num_classes, use_ciou=True,
                                     topk=10, alpha=0.5, beta=6.0, eps=1e-9)),
        test_cfg=dict(multi_label=True, nms_pre=1000, score_thr=0.001, nms=dict(type="nms", iou_threshold=0.7),
                      max_per_img=100),
    )


def test_mmyolo_yolov8_trains_and_predicts_on_cpu() -> None:
    from mmengine.config import ConfigDict
    from mmengine.optim import OptimWrapper
    from mmyolo.registry import MODELS
    from mmyolo.utils import register_all_modules

    register_all_modules()
    torch.manual_seed(0)
    model = MODELS.build(ConfigDict(_tiny_yolov8(num_classes=3)))
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
