"""DetectionCocoMetric: pycocotools figures, per-class AP and recall, on demo ground truth."""
from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from search.datasets import DatasetFiles
from trainables.metrics import DetectionCocoMetric


@pytest.fixture()
def val_set(small_demo_root: Path) -> tuple[Path, dict, tuple[str, ...]]:
    ann_file = DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects").val.annotation_file
    coco = json.loads(ann_file.read_text())
    return ann_file, coco, tuple(c["name"] for c in coco["categories"])


def _evaluate(ann_file: Path, classes: tuple[str, ...], coco: dict, keep, shift: float = 0.0) -> dict:
    """Run the metric on predictions made from the ground truth (those `keep` accepts)."""
    metric = DetectionCocoMetric(ann_file=str(ann_file))
    metric.dataset_meta = {"classes": classes}
    for image in coco["images"]:
        anns = [a for a in coco["annotations"] if a["image_id"] == image["id"] and keep(a)]
        boxes = [[x + shift, y, x + w + shift, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
        sample = {"img_id": image["id"], "ori_shape": (image["height"], image["width"]),
                  "pred_instances": {"bboxes": torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
                                     "scores": torch.full((len(anns),), 0.9),
                                     "labels": torch.tensor([a["category_id"] - 1 for a in anns])}}
        metric.process({}, [sample])
    return metric.evaluate(len(coco["images"]))


def test_perfect_predictions_score_one(val_set) -> None:
    ann_file, coco, classes = val_set
    metrics = _evaluate(ann_file, classes, coco, keep=lambda a: True)
    assert metrics["coco/map"] == pytest.approx(1.0)
    assert metrics["coco/map_50"] == pytest.approx(1.0)
    for name in classes:
        assert metrics[f"coco/ap_{name}"] == pytest.approx(1.0)
        assert metrics[f"coco/recall50_{name}"] == pytest.approx(1.0)
    assert math.isnan(metrics["coco/map_large"])  # demo images hold no COCO-large object


def test_a_missed_class_shows_in_its_recall_only(val_set) -> None:
    ann_file, coco, classes = val_set
    metrics = _evaluate(ann_file, classes, coco, keep=lambda a: a["category_id"] != 2)
    assert metrics[f"coco/recall50_{classes[1]}"] == 0.0 and metrics[f"coco/ap_{classes[1]}"] == 0.0
    assert metrics[f"coco/recall50_{classes[0]}"] == pytest.approx(1.0)
    assert metrics["coco/map"] < 1.0


def test_figures_agree_with_pycocotools_run_directly(val_set) -> None:
    ann_file, coco, classes = val_set
    metrics = _evaluate(ann_file, classes, coco, keep=lambda a: a["id"] % 3 != 0, shift=1.5)
    detections = [dict(image_id=a["image_id"], category_id=a["category_id"], score=0.9,
                       bbox=[a["bbox"][0] + 1.5, *a["bbox"][1:]]) for a in coco["annotations"] if a["id"] % 3]
    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(ann_file))
        evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
        evaluation.evaluate(), evaluation.accumulate(), evaluation.summarize()
    assert metrics["coco/map"] == pytest.approx(evaluation.stats[0])
    assert metrics["coco/map_75"] == pytest.approx(evaluation.stats[2])
    assert metrics["coco/map_small"] == pytest.approx(evaluation.stats[3])
    assert 0.3 < metrics["coco/map"] < 0.95


def test_no_detections_is_a_zero_score_not_an_error(val_set) -> None:
    ann_file, coco, classes = val_set
    metrics = _evaluate(ann_file, classes, coco, keep=lambda a: False)
    assert metrics["coco/map"] == 0.0 and metrics[f"coco/recall50_{classes[0]}"] == 0.0
