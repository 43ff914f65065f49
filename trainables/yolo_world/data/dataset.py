"""The official MultiModalDataset: any detection dataset plus the class texts of its classes.

Text transforms (LoadText, RandomLoadText) and the multimodal mosaic/mixup read the texts from
each sample, so the wrapper adds them to every data info, and hands itself to the pipeline so that
images fetched by mix transforms get their texts too. `mixed_in` appends other datasets, each with
its own class texts (official mixed pretraining: every image is trained on its own vocabulary, and
a mosaic merges the vocabularies of its images).
"""
from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

from mmengine.dataset import BaseDataset, Compose
from mmyolo.registry import DATASETS

from trainables.yolo_world.data.class_texts import ClassTextError, load_class_texts


@DATASETS.register_module()
class MultiModalDataset:
    """Wraps `dataset` (a config or a built dataset); `class_text_path` lists its classes' texts.

    `test_mode` is accepted as in official configs; whether the pipeline gets the dataset (for
    mosaic/mixup) follows the wrapped dataset's own `test_mode`, as mmyolo's datasets do.
    `mixed_in`: more `{dataset, class_text_path}` parts, after this one's images, through the same
    pipeline.
    """

    def __init__(self, dataset: dict | BaseDataset, class_text_path: str | Path | None = None,
                 test_mode: bool = True, pipeline: Sequence[dict | Callable] = (),
                 lazy_init: bool = False, mixed_in: Sequence[dict] = ()) -> None:
        self.dataset = DATASETS.build(dataset) if isinstance(dataset, dict) else dataset
        self.mixed_in = [MultiModalDataset(**part, lazy_init=lazy_init) for part in mixed_in]
        self.class_texts = load_class_texts(class_text_path) if class_text_path is not None else None
        classes = self.dataset.metainfo.get("classes")
        texts = self.class_texts
        if texts is not None and classes is not None and len(classes) != len(texts):
            raise ClassTextError(f"class-text file {class_text_path} has {len(texts)} entries but "
                                 f"the dataset has {len(classes)} classes {tuple(classes)}: give "
                                 "one entry per class, in label order")
        self.test_mode = test_mode
        self.pipeline = Compose(list(pipeline))
        self._fully_initialized = False
        if not lazy_init:
            self.full_init()

    @property
    def metainfo(self) -> dict:
        return copy.deepcopy(self.dataset.metainfo)

    def full_init(self) -> None:
        """Load the wrapped dataset's annotations (the Runner calls this for lazily built datasets)."""
        if not self._fully_initialized:
            self.dataset.full_init()
            for part in self.mixed_in:
                part.full_init()
            self._fully_initialized = True

    def _part(self, idx: int) -> tuple[MultiModalDataset, int]:
        """The part (this one or a mixed-in one) that holds image ``idx``, and its index there."""
        self.full_init()
        own = len(self.dataset)
        if idx < own or not self.mixed_in:
            return self, idx
        idx -= own
        for part in self.mixed_in:
            if idx < len(part):
                return part, idx
            idx -= len(part)
        raise IndexError(f"image {idx} is beyond the {len(self)} images of the mixed dataset")

    def get_data_info(self, idx: int) -> dict:
        part, idx = self._part(idx)
        data_info = part.dataset.get_data_info(idx)
        if part.class_texts is not None:
            data_info["texts"] = part.class_texts
        return data_info

    def get_cat_ids(self, idx: int) -> list[int]:
        """The wrapped dataset's category ids of image ``idx`` (for class-balanced wrappers)."""
        part, idx = self._part(idx)
        return part.dataset.get_cat_ids(idx)

    def __len__(self) -> int:
        self.full_init()
        return len(self.dataset) + sum(len(part) for part in self.mixed_in)

    def __getitem__(self, idx: int) -> dict:
        data_info = self.get_data_info(idx)
        if not getattr(self.dataset, "test_mode", False):
            data_info["dataset"] = self
        return self.pipeline(data_info)
