"""Data side of the official YOLO-World v2 fine-tune recipe, for box-only COCO datasets.

The official S recipe refines boxes from polygon masks (mask loading, YOLOv5CopyPaste,
`use_mask_refine`, RemoveDataElement); users' sets and the demo sets have boxes only, so those parts
are dropped and everything else is kept: official type names and arguments, as mmengine config
dicts. `mosaic_prob` below 1 chooses, per image, between mosaic and the recipe's close-mosaic
(stage 2) geometry, which yields the same output size. mmdet.Albu (four transforms at p=0.01)
needs `albumentations`, which worldtune does not install: `with_albu=True` only where it is.
"""
from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PAD = 114
LOAD = ({"type": "LoadImageFromFile", "backend_args": None},
        {"type": "LoadAnnotations", "with_bbox": True})
ALBU = {"type": "mmdet.Albu",
        "transforms": [{"type": "Blur", "p": 0.01}, {"type": "MedianBlur", "p": 0.01},
                       {"type": "ToGray", "p": 0.01}, {"type": "CLAHE", "p": 0.01}],
        "bbox_params": {"type": "BboxParams", "format": "pascal_voc",
                        "label_fields": ["gt_bboxes_labels", "gt_ignore_flags"]},
        "keymap": {"img": "image", "gt_bboxes": "bboxes"}}
TRAIN_META = ("img_id", "img_path", "ori_shape", "img_shape", "flip", "flip_direction", "texts")
VAL_META = ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "pad_param", "texts")


def coco_class_names(ann_file: str | Path) -> tuple[str, ...]:
    """Category names in label order (mmdet numbers categories in the order the file lists them)."""
    try:
        categories = json.loads(Path(ann_file).read_text(encoding="utf-8"))["categories"]
        ids = [c["id"] for c in categories]
        names = tuple(c["name"] for c in categories)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"cannot read the categories of COCO file {ann_file} ({error!r}); "
                         "run the dataset checker on it") from error
    if ids != sorted(ids):
        raise ValueError(f"COCO file {ann_file}: categories are not in ascending id order "
                         f"(ids {ids}); mmdet labels them in list order but class-text files "
                         "follow ascending ids: sort 'categories' by id")
    return names


def coco_image_count(ann_file: str | Path) -> int:
    """The number of images a COCO file lists."""
    try:
        return len(json.loads(Path(ann_file).read_text(encoding="utf-8"))["images"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ValueError(f"cannot read the images of COCO file {ann_file} ({error!r}); "
                         "run the dataset checker on it") from error


def _affine(border: tuple[int, int] | None = None) -> dict[str, Any]:
    affine: dict[str, Any] = {"type": "YOLOv5RandomAffine", "max_rotate_degree": 0.0,
                              "max_shear_degree": 0.0, "max_aspect_ratio": 100.0,
                              "scaling_ratio_range": (0.5, 1.5)}
    if border is not None:
        affine["border"] = border
    return {**affine, "border_val": (PAD, PAD, PAD), "min_area_ratio": 0.01}


def _letterbox(img_scale: tuple[int, int], allow_scale_up: bool) -> list[dict[str, Any]]:
    return [{"type": "YOLOv5KeepRatioResize", "scale": img_scale},
            {"type": "LetterResize", "scale": img_scale, "allow_scale_up": allow_scale_up,
             "pad_val": {"img": PAD}}]


def _geometry(img_scale: tuple[int, int], mosaic_prob: float) -> list[dict[str, Any]]:
    """Mosaic, then an affine crop back to `img_scale`; 1 - mosaic_prob of the time, stage 2's
    letterbox and affine instead."""
    mosaic = [{"type": "MultiModalMosaic", "img_scale": img_scale, "pad_val": float(PAD),
               "pre_transform": list(LOAD)},
              _affine(border=(-img_scale[0] // 2, -img_scale[1] // 2))]
    plain = [*_letterbox(img_scale, allow_scale_up=True), _affine()]
    if mosaic_prob == 1:
        return mosaic
    if mosaic_prob == 0:
        return plain
    prob = float(mosaic_prob)  # mmcv's RandomChoice wants Python floats summing to 1
    return [{"type": "RandomChoice", "transforms": [mosaic, plain], "prob": [prob, 1.0 - prob]}]


@dataclass(frozen=True, kw_only=True)
class TextSampling:
    """Which texts a training image sees. The defaults are the official fine-tune's: every class
    (`max_num_samples`, padded to it) by a random synonym, as written. `neg_texts` caps the
    negatives per image; `prompt_formats` are drawn one per text, and the first is the one
    evaluation uses."""

    max_num_samples: int = 80
    neg_texts: int | None = None
    prompt_formats: tuple[str, ...] = ("{}",)
    random_synonym: bool = True

    def random_load_text(self) -> dict[str, Any]:
        negatives = self.max_num_samples if self.neg_texts is None else self.neg_texts
        return {"type": "RandomLoadText", "num_neg_samples": (negatives, negatives),
                "max_num_samples": self.max_num_samples, "padding_to_max": True, "padding_value": "",
                **self._formats(list(self.prompt_formats)),
                **({} if self.random_synonym else {"random_synonym": False})}

    def load_text(self) -> dict[str, Any]:
        return {"type": "LoadText", **self._formats(self.prompt_formats[0])}

    def _formats(self, formats: str | list[str]) -> dict[str, Any]:
        return {} if self.prompt_formats == ("{}",) else {"prompt_format": formats}


@dataclass(frozen=True, kw_only=True)
class MixedIn:
    """General images mixed into training: the first `images` of a COCO file, each trained on its
    own set's class texts (a mosaic merges the vocabularies of its images)."""

    ann_file: str
    image_dir: str
    class_text_file: str
    images: int

    def part(self) -> dict[str, Any]:
        """The `mixed_in` entry of a MultiModalDataset."""
        return {"dataset": _coco(self.ann_file, self.image_dir, coco_class_names(self.ann_file)) | {
                    "indices": self.images},
                "class_text_path": self.class_text_file}


def _train_tail(texts: TextSampling, with_albu: bool) -> list[dict[str, Any]]:
    """Colour, flip, text sampling and packing: the same in both training stages."""
    return [*([ALBU] if with_albu else []),
            {"type": "YOLOv5HSVRandomAug"},
            {"type": "mmdet.RandomFlip", "prob": 0.5},
            texts.random_load_text(),
            {"type": "mmdet.PackDetInputs", "meta_keys": TRAIN_META}]


def _coco(ann_file: str | Path, image_dir: str | Path, classes: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "YOLOv5CocoDataset", "ann_file": str(ann_file), "data_prefix": {"img": f"{image_dir}/"},
            "metainfo": {"classes": classes}, "filter_cfg": {"filter_empty_gt": False, "min_size": 32}}


def _dataset(ann_file: str | Path, image_dir: str | Path, class_text_file: str | Path,
             classes: tuple[str, ...], pipeline: list[dict[str, Any]],
             oversample_thr: float = 0.0) -> dict[str, Any]:
    """MultiModalDataset over the COCO files; `oversample_thr` > 0 repeats images of rare classes
    (mmengine's ClassBalancedDataset, inside the wrapper that owns the pipeline so that the
    close-mosaic switch still reaches it)."""
    coco = _coco(ann_file, image_dir, classes)
    if oversample_thr > 0:
        coco = {"type": "ClassBalancedDataset", "oversample_thr": oversample_thr, "dataset": coco}
    return {"type": "MultiModalDataset", "dataset": coco, "class_text_path": str(class_text_file),
            "pipeline": pipeline}


def box_only_data_config(*, train_ann_file: str | Path, train_image_dir: str | Path,
                         val_ann_file: str | Path, val_image_dir: str | Path,
                         class_text_file: str | Path, img_scale: tuple[int, int] = (640, 640),
                         batch_size: int = 16, num_workers: int = 8, mosaic_prob: float = 1.0,
                         mixup_prob: float = 0.15, texts: TextSampling = TextSampling(),
                         oversample_thr: float = 0.0, mixed_in: MixedIn | None = None,
                         with_albu: bool = False) -> dict[str, Any]:
    """Pipelines and dataloaders of the official v2 fine-tune recipe for a box-only COCO dataset.

    Returns mmyolo config entries: `train_pipeline`, `train_pipeline_stage2` (for the
    close-mosaic PipelineSwitchHook), `test_pipeline`, `train_dataloader`, `val_dataloader`.
    `img_scale` is (width, height); paths should be absolute. Class names come from the
    validation file, whose categories must equal the training file's (the dataset checker says so).
    `texts` says which class texts training images see; `oversample_thr` (0: off) is the
    repeat-factor threshold of class-balanced sampling (an image repeats as often as its rarest
    class needs to reach that share of images); `mixed_in` adds general images to training (their
    texts count towards `texts.max_num_samples`).
    """
    for name, prob in (("mosaic_prob", mosaic_prob), ("mixup_prob", mixup_prob)):
        if not 0 <= prob <= 1:
            raise ValueError(f"{name} must be within [0, 1], got {prob}")
    img_scale = (int(img_scale[0]), int(img_scale[1]))
    geometry = _geometry(img_scale, mosaic_prob)
    tail = _train_tail(texts, with_albu)
    mixup = {"type": "YOLOv5MultiModalMixUp", "prob": mixup_prob,
             "pre_transform": [*LOAD, *geometry]}
    train_pipeline = [*LOAD, *geometry, mixup, *tail]
    stage2 = [*LOAD, *_letterbox(img_scale, allow_scale_up=True), _affine(), *tail]
    test_pipeline = [LOAD[0], *_letterbox(img_scale, allow_scale_up=False),
                     {"type": "LoadAnnotations", "with_bbox": True, "_scope_": "mmdet"},
                     texts.load_text(),
                     {"type": "mmdet.PackDetInputs", "meta_keys": VAL_META}]
    classes = coco_class_names(val_ann_file)
    train_dataset = _dataset(train_ann_file, train_image_dir, class_text_file, classes,
                             train_pipeline, oversample_thr)
    if mixed_in is not None:
        train_dataset["mixed_in"] = [mixed_in.part()]
    val_dataset = _dataset(val_ann_file, val_image_dir, class_text_file, classes, test_pipeline)
    return copy.deepcopy({  # callers edit the result: keep module constants and shared parts apart
        "train_pipeline": train_pipeline,
        "train_pipeline_stage2": stage2,
        "test_pipeline": test_pipeline,
        "train_dataloader": {
            "batch_size": batch_size, "num_workers": num_workers, "persistent_workers": False,
            "pin_memory": True, "sampler": {"type": "DefaultSampler", "shuffle": True},
            "collate_fn": {"type": "yolow_collate"}, "dataset": train_dataset},
        "val_dataloader": {
            "batch_size": 1, "num_workers": num_workers, "persistent_workers": num_workers > 0,
            "pin_memory": True, "drop_last": False,
            "sampler": {"type": "DefaultSampler", "shuffle": False}, "dataset": val_dataset},
    })
