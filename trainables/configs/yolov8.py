"""A plain mmyolo YOLOv8 of the same size as a YOLO-World trial: the speed baseline.

It shares the YOLO-World sizes (deepen / widen / last stage) and head settings, without the text
path, so a side-by-side run tells what the open-vocabulary parts cost.
"""
from __future__ import annotations

from typing import Any

from trainables.yolo_world.models.sizes import (
    ACT,
    NORM,
    SIZES,
    STRIDES,
    bce_loss_cls,
    yolov8_head_settings,
    yolov8_train_test_cfg,
)


def yolov8_model_config(size: str, num_classes: int) -> dict[str, Any]:
    """mmyolo's YOLOv8 detector config for a worldtune size (tiny/s/m/l/x)."""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; choose one of {list(SIZES)}")
    preset = SIZES[size]
    scale = dict(deepen_factor=preset.deepen_factor, widen_factor=preset.widen_factor)
    channels = [256, 512, preset.last_stage_out_channels]
    return dict(
        type="YOLODetector",
        data_preprocessor=dict(type="YOLOv5DetDataPreprocessor", mean=[0.0] * 3, std=[255.0] * 3, bgr_to_rgb=True),
        backbone=dict(type="YOLOv8CSPDarknet", arch="P5", last_stage_out_channels=channels[-1], **scale,
                      norm_cfg=NORM, act_cfg=ACT),
        neck=dict(type="YOLOv8PAFPN", **scale, in_channels=channels, out_channels=channels, num_csp_blocks=3,
                  norm_cfg=NORM, act_cfg=ACT),
        bbox_head=dict(
            type="YOLOv8Head",
            head_module=dict(type="YOLOv8HeadModule", num_classes=num_classes, in_channels=channels,
                             widen_factor=preset.widen_factor, reg_max=16, norm_cfg=NORM, act_cfg=ACT,
                             featmap_strides=STRIDES),
            loss_cls=bce_loss_cls(), **yolov8_head_settings()),
        **yolov8_train_test_cfg(num_classes),
    )
