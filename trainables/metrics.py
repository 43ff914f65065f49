"""COCO evaluation with what a search needs beyond mmdet's summary: per-class AP and recall.

mmdet's CocoMetric prints a per-class table but returns only AP per class; the advisor needs
recall per class too (a class the model never finds), so the pycocotools evaluation is run here
once and every figure is read off the same COCOeval.
"""
from __future__ import annotations

import contextlib
import io
import math

import numpy as np
from mmdet.evaluation.metrics import CocoMetric
from mmyolo.registry import METRICS
from pycocotools.cocoeval import COCOeval

from trainables.contract import AP_PREFIX, RECALL50_PREFIX

SUMMARY_NAMES = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large")


def _mean_valid(values: np.ndarray) -> float:
    valid = values[values > -1]
    return float(valid.mean()) if valid.size else math.nan


def _slug(name: str) -> str:
    """A class name as a metric-key suffix ("ground glass" -> "ground_glass")."""
    return "_".join(name.split())


@METRICS.register_module()
class DetectionCocoMetric(CocoMetric):
    """Box mAP 50:95 / 50 / 75 / small / medium / large, plus `ap_<class>` and `recall50_<class>`.

    Recall per class is at IoU 0.5 with up to 100 detections per image. Figures that COCO leaves
    undefined (no ground truth of that size or class) are NaN instead of COCO's -1.
    """

    default_prefix = "coco"

    def __init__(self, *, collect_dir: str | None = None, **kwargs) -> None:
        kwargs.setdefault("metric", "bbox")
        if kwargs["metric"] != "bbox":
            raise ValueError(f"DetectionCocoMetric evaluates boxes only, got metric={kwargs['metric']!r}")
        super().__init__(**kwargs)
        self.collect_dir = collect_dir  # mmengine's BaseMetric takes it; mmdet's CocoMetric does not pass it on

    def _detections(self, results: list) -> list[dict]:
        detections = []
        for _, prediction in results:
            for box, score, label in zip(prediction["bboxes"], prediction["scores"], prediction["labels"]):
                x0, y0, x1, y1 = (float(v) for v in box)
                detections.append(dict(image_id=prediction["img_id"], category_id=self.cat_ids[int(label)],
                                       bbox=[x0, y0, x1 - x0, y1 - y0], score=float(score)))
        return detections

    def compute_metrics(self, results: list) -> dict[str, float]:
        self.cat_ids = self._coco_api.get_cat_ids(cat_names=self.dataset_meta["classes"])
        names = [_slug(self._coco_api.load_cats(i)[0]["name"]) for i in self.cat_ids]
        detections = self._detections(results)
        if not detections:  # an untrained model may find nothing: a valid score of 0
            metrics = {name: 0.0 for name in SUMMARY_NAMES}
            metrics |= {AP_PREFIX + n: 0.0 for n in names} | {RECALL50_PREFIX + n: 0.0 for n in names}
            return metrics
        with contextlib.redirect_stdout(io.StringIO()):  # pycocotools prints its progress
            evaluation = COCOeval(self._coco_api, self._coco_api.loadRes(detections), "bbox")
            evaluation.params.catIds = self.cat_ids
            evaluation.params.imgIds = sorted({result["img_id"] for _, result in results})
            evaluation.evaluate()
            evaluation.accumulate()
            evaluation.summarize()
        metrics = {name: (math.nan if v < 0 else float(v)) for name, v in zip(SUMMARY_NAMES, evaluation.stats)}
        precision = evaluation.eval["precision"]  # [iou, recall, class, area, max dets]
        recall = evaluation.eval["recall"]        # [iou, class, area, max dets]
        for index, name in enumerate(names):
            metrics[AP_PREFIX + name] = _mean_valid(precision[:, :, index, 0, -1])
            metrics[RECALL50_PREFIX + name] = _mean_valid(recall[0, index, 0, -1:])
        return metrics
