"""YOLO-World data side: class texts per image, their transforms, batching and the recipe's pipelines.

Importing this package registers MultiModalDataset, LoadText, RandomLoadText, MultiModalMosaic,
YOLOv5MultiModalMixUp, YOLOWDetDataPreprocessor and `yolow_collate`.
"""
from __future__ import annotations

from trainables.yolo_world.data.class_texts import ClassTextError, ClassTexts, load_class_texts
from trainables.yolo_world.data.collate import yolow_collate
from trainables.yolo_world.data.dataset import MultiModalDataset
from trainables.yolo_world.data.mix_transforms import MultiModalMosaic, YOLOv5MultiModalMixUp, merge_texts
from trainables.yolo_world.data.pipelines import (
    MixedIn,
    TextSampling,
    box_only_data_config,
    coco_class_names,
    coco_image_count,
)
from trainables.yolo_world.data.preprocessor import YOLOWDetDataPreprocessor
from trainables.yolo_world.data.text_transforms import LoadText, RandomLoadText

__all__ = ["ClassTextError", "ClassTexts", "LoadText", "MixedIn", "MultiModalDataset", "MultiModalMosaic",
           "RandomLoadText", "TextSampling", "YOLOWDetDataPreprocessor", "YOLOv5MultiModalMixUp",
           "box_only_data_config", "coco_class_names", "coco_image_count", "load_class_texts", "merge_texts",
           "yolow_collate"]
