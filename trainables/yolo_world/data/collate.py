"""The official `yolow_collate`: mmyolo's fast `yolov5_collate` plus each image's class texts.

Registered in mmengine's FUNCTIONS registry, where the Runner looks up
`collate_fn=dict(type='yolow_collate')`.
"""
from __future__ import annotations

from collections.abc import Sequence

from mmengine.registry import FUNCTIONS
from mmyolo.datasets.utils import yolov5_collate


@FUNCTIONS.register_module()
def yolow_collate(data_batch: Sequence[dict], use_ms_training: bool = False) -> dict:
    """Stack images and gather boxes as `[image index, label, x1, y1, x2, y2]` rows, and add
    `data_samples['texts']`: one list of texts per image (the labels index them)."""
    collated = yolov5_collate(data_batch, use_ms_training=use_ms_training)
    samples = [item["data_samples"] for item in data_batch]
    if samples and all("texts" in sample for sample in samples):
        collated["data_samples"]["texts"] = [sample.texts for sample in samples]
    return collated
