"""Mosaic and MixUp for images that carry their own class texts (official MultiModalMosaic,
YOLOv5MultiModalMixUp).

Labels index the texts of their own image, so before mixing, every image of the group gets the
same merged text list (order of first appearance) and its labels are remapped into it; mmyolo's
Mosaic / YOLOv5MixUp then mix images and boxes as usual.
"""
from __future__ import annotations

import numpy as np
from mmyolo.datasets.transforms import Mosaic, YOLOv5MixUp
from mmyolo.registry import TRANSFORMS


def merge_texts(results: dict) -> None:
    """Give `results` and its `mix_results` one shared list of class texts, remapping their labels."""
    group = [results, *results["mix_results"]]
    if "texts" not in results:
        return
    missing = [r.get("img_path") for r in group if "texts" not in r]
    if missing:
        raise KeyError(f"images {missing} have no class texts to merge: load every image of a "
                       "mosaic/mixup through MultiModalDataset(class_text_path=...)")
    merged = list(dict.fromkeys(tuple(texts) for r in group for texts in r["texts"]))
    position = {texts: i for i, texts in enumerate(merged)}
    for r in group:
        lookup = np.array([position[tuple(texts)] for texts in r["texts"]], dtype=np.int64)
        r["gt_bboxes_labels"] = lookup[np.asarray(r["gt_bboxes_labels"], dtype=np.int64)]
        r["texts"] = [list(texts) for texts in merged]


class _MergeTextsFirst:
    """Mixin for an mmyolo mix transform: merge the texts, then mix."""

    def mix_img_transform(self, results: dict) -> dict:
        merge_texts(results)
        return super().mix_img_transform(results)  # type: ignore[misc]


@TRANSFORMS.register_module()
class MultiModalMosaic(_MergeTextsFirst, Mosaic):
    """mmyolo's Mosaic (same arguments) over images with class texts."""


@TRANSFORMS.register_module()
class YOLOv5MultiModalMixUp(_MergeTextsFirst, YOLOv5MixUp):
    """mmyolo's YOLOv5MixUp (same arguments) over images with class texts."""
