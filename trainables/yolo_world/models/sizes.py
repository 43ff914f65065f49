"""Size presets -> a full YOLO-World model config in the official argument names.

S/M/L/X are the official v2 fine-tune configs (the result equals their resolved
``model`` section) and, with ``version="v1"``, the official v1 configs (dual VL-PAN,
L2-norm head); ``tiny`` (deepen 0.33, widen 0.25, S-shaped) is worldtune's size for
CPU demos and tests. The neck follows the official rule
embed_channels = [128, 256, last/2], num_heads = [4, 8, last/64] (before widening).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from trainables.text_encoder import CLIP_BASE

NORM = dict(type="BN", momentum=0.03, eps=0.001)
ACT = dict(type="SiLU", inplace=True)
STRIDES = [8, 16, 32]
VERSIONS = ("v1", "v2")
V1_TEXT_ENHANCER = dict(type="ImagePoolingAttentionModule", embed_channels=256, num_heads=8)


@dataclass(frozen=True)
class SizePreset:
    """Depth and width multipliers and the last backbone stage's width (before widening)."""

    deepen_factor: float
    widen_factor: float
    last_stage_out_channels: int


SIZES: dict[str, SizePreset] = {
    "tiny": SizePreset(0.33, 0.25, 1024),
    "s": SizePreset(0.33, 0.5, 1024),
    "m": SizePreset(0.67, 0.75, 768),
    "l": SizePreset(1.0, 1.0, 512),
    "x": SizePreset(1.0, 1.25, 512),
}


def yolov8_head_settings() -> dict[str, Any]:
    """YOLOv8's priors, box coder and box losses, shared by YOLO-World and the YOLOv8 baseline."""
    return dict(
        prior_generator=dict(type="mmdet.MlvlPointGenerator", offset=0.5, strides=STRIDES),
        bbox_coder=dict(type="DistancePointBBoxCoder"),
        loss_bbox=dict(type="IoULoss", iou_mode="ciou", bbox_format="xyxy", reduction="sum",
                       loss_weight=7.5, return_iou=False),
        loss_dfl=dict(type="mmdet.DistributionFocalLoss", reduction="mean", loss_weight=0.375))


def yolov8_train_test_cfg(num_classes: int) -> dict[str, Any]:
    """The task-aligned assigner and the official test settings (multi-label, NMS 0.7)."""
    return dict(
        train_cfg=dict(assigner=dict(type="BatchTaskAlignedAssigner", num_classes=num_classes,
                                     use_ciou=True, topk=10, alpha=0.5, beta=6.0, eps=1e-9)),
        test_cfg=dict(multi_label=True, nms_pre=30000, score_thr=0.001,
                      nms=dict(type="nms", iou_threshold=0.7), max_per_img=300))


def bce_loss_cls() -> dict[str, Any]:
    """The official classification loss: sigmoid BCE, weight 0.5."""
    return dict(type="mmdet.CrossEntropyLoss", use_sigmoid=True, reduction="none",
                loss_weight=0.5)


def focal_loss_cls(gamma: float = 2.0, alpha: float | None = 0.25,
                   loss_weight: float = 1.0) -> dict[str, Any]:
    """worldtune's focal alternative for the assigner's soft targets (SoftTargetFocalLoss)."""
    return dict(type="SoftTargetFocalLoss", gamma=gamma, alpha=alpha, reduction="none",
                loss_weight=loss_weight)


def model_config(size: str = "s", *, num_classes: int = 80, num_test_classes: int | None = None,
                 text_model_name: str = CLIP_BASE, text_channels: int = 512,
                 with_text_model: bool = True, embed_dims: int | None = None,
                 use_bn_head: bool | None = None, loss_cls: dict[str, Any] | None = None,
                 with_data_preprocessor: bool = True, version: str = "v2") -> dict[str, Any]:
    """The fine-tune model config for ``size`` (tiny/s/m/l/x) and ``version`` (v1/v2).

    ``text_channels`` is the text encoder's embedding width (512 for CLIP base,
    768 for CLIP large); ``embed_dims`` (default: the same) is the head's width,
    and a different value adds a learned text projection in the head.
    ``use_bn_head`` defaults to the version's head: BatchNorm for v2, L2 norm for v1.
    """
    if size not in SIZES:
        raise ValueError(f"model_config: unknown size {size!r}; choose one of {list(SIZES)}")
    if version not in VERSIONS:
        raise ValueError(f"model_config: unknown version {version!r}; choose one of {list(VERSIONS)}")
    if use_bn_head is None:
        use_bn_head = version == "v2"
    preset = SIZES[size]
    last = preset.last_stage_out_channels
    channels = [256, 512, last]
    scale = dict(deepen_factor=preset.deepen_factor, widen_factor=preset.widen_factor)
    head_module: dict[str, Any] = dict(
        type="YOLOWorldHeadModule", num_classes=num_classes, in_channels=channels,
        widen_factor=preset.widen_factor, reg_max=16, norm_cfg=NORM, act_cfg=ACT,
        featmap_strides=STRIDES, embed_dims=text_channels if embed_dims is None else embed_dims)
    if use_bn_head:  # the official v1 configs leave it out (False is the default)
        head_module["use_bn_head"] = True
    if embed_dims is not None and embed_dims != text_channels:
        head_module["text_embed_dims"] = text_channels
    cfg: dict[str, Any] = dict(
        type="YOLOWorldDetector",
        backbone=dict(
            type="MultiModalYOLOBackbone",
            image_model=dict(type="YOLOv8CSPDarknet", arch="P5", last_stage_out_channels=last,
                             **scale, norm_cfg=NORM, act_cfg=ACT),
            text_model=dict(type="HuggingCLIPLanguageBackbone", model_name=text_model_name,
                            frozen_modules=["all"])),
        neck=dict(type="YOLOWorldPAFPN", **scale, in_channels=channels, out_channels=channels,
                  num_csp_blocks=3, norm_cfg=NORM, act_cfg=ACT, guide_channels=text_channels,
                  embed_channels=[128, 256, last // 2], num_heads=[4, 8, last // 2 // 32],
                  block_cfg=dict(type="MaxSigmoidCSPLayerWithTwoConv")),
        bbox_head=dict(
            type="YOLOWorldHead", head_module=head_module,
            loss_cls=loss_cls or bce_loss_cls(), **yolov8_head_settings()),
        **yolov8_train_test_cfg(num_classes),
        mm_neck=True, num_train_classes=num_classes,
        num_test_classes=num_classes if num_test_classes is None else num_test_classes)
    if version == "v1":
        cfg["neck"].update(type="YOLOWorldDualPAFPN", text_enhancder=V1_TEXT_ENHANCER)
    if not with_text_model:
        cfg["backbone"]["with_text_model"] = False
    if with_data_preprocessor:
        cfg["data_preprocessor"] = dict(type="YOLOWDetDataPreprocessor", mean=[0.0, 0.0, 0.0],
                                        std=[255.0, 255.0, 255.0], bgr_to_rgb=True)
    return copy.deepcopy(cfg)  # no dict shared between sections (NORM, ACT, STRIDES)
