"""Where a detection dataset's files are: COCO json + image folder per split, and class texts.

Shared by the search (checks, demo sets) and the trials (config building), so it lives here:
trainables never imports search.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Split:
    annotation_file: Path
    image_dir: Path


@dataclass(frozen=True)
class DatasetFiles:
    """A dataset as YOLO-World fine-tuning reads it; all paths absolute."""

    name: str
    root: Path
    train: Split
    val: Split
    class_text_file: Path

    def split(self, which: str) -> Split:
        if which not in ("train", "val"):
            raise ValueError(f"split must be 'train' or 'val', got {which!r}")
        return self.train if which == "train" else self.val

    @classmethod
    def standard(cls, name: str, root: Path) -> DatasetFiles:
        """The layout the demo generator writes (and a simple one to copy for your own data):
        annotations/instances_{train,val}.json, images/{train,val}/, class_texts.json."""
        root = Path(root).absolute()
        return cls(
            name=name,
            root=root,
            train=Split(root / "annotations" / "instances_train.json", root / "images" / "train"),
            val=Split(root / "annotations" / "instances_val.json", root / "images" / "val"),
            class_text_file=root / "class_texts.json",
        )


@dataclass(frozen=True)
class RetentionSet:
    """`objectives.retention`: a general dataset each trial's final model is evaluated on zero-shot
    (its val split, by `metric`), and whose train split `general_mix` mixes into training."""

    data: DatasetFiles
    metric: str = "map"
