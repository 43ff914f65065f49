"""The dataset checker: every problem in a COCO detection set, found before any training starts.

A typo in a dataset otherwise surfaces minutes into a trial as a KeyError deep in mmdet, or worse
as a silently wrong mAP. Each problem names the file, the image/annotation/category id, and what
is wrong. Run it alone with `python -m search.datasets.check DATASET`.
"""
from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from search.errors import DatasetError, format_problems
from trainables.dataset_files import DatasetFiles, Split

BOX_TOLERANCE_PX = 1.0
"""How far a box may reach past the image edge (rounding in exported labels) before it is wrong."""


@dataclass(frozen=True)
class Problem:
    file: Path
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.message}"


UNREADABLE = object()
"""What `_load_json` returns for a missing or broken file (a file may well hold JSON `null`)."""


def _load_json(path: Path, problems: list[Problem]) -> Any:
    if not path.is_file():
        problems.append(Problem(path, "file", "does not exist"))
        return UNREADABLE
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as error:
        problems.append(Problem(path, "file", f"is not valid JSON ({type(error).__name__}: {error})"))
        return UNREADABLE


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _entries(coco: dict, key: str, path: Path, problems: list[Problem]) -> list[dict]:
    """The list under `key`, keeping only dict entries (others are reported)."""
    value = coco.get(key)
    if not isinstance(value, list):
        problems.append(Problem(path, f"key '{key}'", "missing or not a list"))
        return []
    bad = [i for i, entry in enumerate(value) if not isinstance(entry, dict)]
    for i in bad:
        problems.append(Problem(path, f"{key}[{i}]", "is not an object"))
    return [entry for entry in value if isinstance(entry, dict)]


def _unique_ids(entries: list[dict], kind: str, path: Path, problems: list[Problem]) -> dict[int, dict]:
    by_id: dict[int, dict] = {}
    for i, entry in enumerate(entries):
        entry_id = entry.get("id")
        if not _is_int(entry_id):
            problems.append(Problem(path, f"{kind}[{i}]", f"'id' must be an integer, got {entry_id!r}"))
        elif entry_id in by_id:
            problems.append(Problem(path, f"{kind} id {entry_id}", "duplicate id"))
        else:
            by_id[entry_id] = entry
    return by_id


def _check_categories(coco: dict, path: Path, problems: list[Problem]) -> dict[int, str]:
    categories = _unique_ids(_entries(coco, "categories", path, problems), "category", path, problems)
    names: dict[int, str] = {}
    for cat_id, category in categories.items():
        name = category.get("name")
        if not isinstance(name, str) or not name.strip():
            problems.append(Problem(path, f"category id {cat_id}", f"'name' must be a non-empty string, got {name!r}"))
        elif name in names.values():
            problems.append(Problem(path, f"category id {cat_id}", f"name {name!r} is used by another category"))
        else:
            names[cat_id] = name
    if list(names) != sorted(names):  # mmdet numbers classes in list order, class texts in id order
        problems.append(Problem(path, "key 'categories'", f"must be listed in ascending id order, got ids "
                                                          f"{list(names)}"))
    if not categories and isinstance(coco.get("categories"), list):
        problems.append(Problem(path, "key 'categories'", "is empty: a detection set needs at least one class"))
    return names


def _check_images(coco: dict, path: Path, image_dir: Path, problems: list[Problem]) -> dict[int, tuple[int, int]]:
    """Image id -> (width, height) for images whose record is usable."""
    sizes: dict[int, tuple[int, int]] = {}
    for image_id, image in _unique_ids(_entries(coco, "images", path, problems), "image", path, problems).items():
        where = f"image id {image_id}"
        name, width, height = image.get("file_name"), image.get("width"), image.get("height")
        if not isinstance(name, str) or not name:
            problems.append(Problem(path, where, f"'file_name' must be a non-empty string, got {name!r}"))
            continue
        if not (_is_int(width) and _is_int(height) and width > 0 and height > 0):
            problems.append(Problem(path, where, f"'width' and 'height' must be positive integers, "
                                                 f"got {width!r} x {height!r}"))
            continue
        sizes[image_id] = (width, height)
        file = image_dir / name
        if not file.is_file():
            problems.append(Problem(path, where, f"image file {file} does not exist"))
            continue
        try:
            with Image.open(file) as opened:
                actual = opened.size
        except OSError as error:
            problems.append(Problem(path, where, f"image file {file} cannot be read ({error})"))
            continue
        if actual != (width, height):
            problems.append(Problem(path, where, f"says {width} x {height} but {file.name} is "
                                                 f"{actual[0]} x {actual[1]}"))
    return sizes


def _check_annotations(coco: dict, path: Path, image_sizes: dict[int, tuple[int, int]],
                       categories: dict[int, str], problems: list[Problem]) -> Counter:
    """Instances per category id, counting only annotations that passed."""
    counts: Counter = Counter()
    images = coco.get("images")
    image_ids = {i["id"] for i in images if isinstance(i, dict) and _is_int(i.get("id"))} \
        if isinstance(images, list) else set()
    for ann_id, ann in _unique_ids(_entries(coco, "annotations", path, problems), "annotation", path,
                                   problems).items():
        where = f"annotation id {ann_id}"
        image_id, cat_id, bbox = ann.get("image_id"), ann.get("category_id"), ann.get("bbox")
        if not _is_int(image_id) or image_id not in image_ids:
            problems.append(Problem(path, where, f"image_id {image_id!r} is not an image of this file"))
            continue
        if not _is_int(cat_id) or cat_id not in categories:
            problems.append(Problem(path, where, f"category_id {cat_id!r} is not a known category "
                                                 f"(known: {sorted(categories)})"))
            continue
        if not (isinstance(bbox, list) and len(bbox) == 4
                and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                        for v in bbox)):
            problems.append(Problem(path, where, f"'bbox' must be 4 finite numbers [x, y, w, h], got {bbox!r}"))
            continue
        x, y, w, h = bbox
        if w <= 0 or h <= 0:
            problems.append(Problem(path, where, f"degenerate box {bbox}: width and height must be > 0"))
            continue
        if image_id in image_sizes:
            width, height = image_sizes[image_id]
            t = BOX_TOLERANCE_PX
            if x < -t or y < -t or x + w > width + t or y + h > height + t:
                problems.append(Problem(path, where, f"box {bbox} (x, y, w, h) reaches outside image "
                                                     f"{image_id} of {width} x {height}"))
                continue
        counts[cat_id] += 1
    return counts


def check_split(split: Split) -> tuple[list[Problem], dict[int, str]]:
    """Problems of one COCO split, and its categories (id -> name) as far as they are readable."""
    problems: list[Problem] = []
    path = split.annotation_file
    coco = _load_json(path, problems)
    if coco is UNREADABLE:
        return problems, {}
    if not isinstance(coco, dict):
        return [Problem(path, "top level", "must be a JSON object with images, annotations, categories")], {}
    if not split.image_dir.is_dir():
        problems.append(Problem(split.image_dir, "folder", "image folder does not exist"))
    categories = _check_categories(coco, path, problems)
    sizes = _check_images(coco, path, split.image_dir, problems)
    counts = _check_annotations(coco, path, sizes, categories, problems)
    for cat_id, name in categories.items():
        if counts[cat_id] == 0:
            problems.append(Problem(path, f"category id {cat_id}", f"class {name!r} has no valid annotations"))
    return problems, categories


def _normalise(text: str) -> str:
    return re.sub(r"[\s_\-]+", " ", text.strip().lower())


def check_class_texts(path: Path, categories: dict[int, str]) -> list[Problem]:
    """The YOLO-World class-text file: a JSON list, one list of texts per category in id order."""
    problems: list[Problem] = []
    texts = _load_json(path, problems)
    if texts is UNREADABLE:
        return problems
    if not (isinstance(texts, list) and all(
            isinstance(e, list) and e and all(isinstance(t, str) and t.strip() for t in e) for e in texts)):
        return [Problem(path, "top level", 'must be a list of non-empty lists of texts, e.g. [["scratch"], ["dent"]]')]
    ordered = [categories[i] for i in sorted(categories)]
    if len(texts) != len(ordered):
        return [Problem(path, "top level", f"has {len(texts)} entries but the annotations have "
                                           f"{len(ordered)} categories {ordered}")]
    for index, (entry, name) in enumerate(zip(texts, ordered)):
        if _normalise(name) not in {_normalise(t) for t in entry}:
            problems.append(Problem(path, f"entry {index}", f"texts {entry} do not name category {name!r} "
                                                            f"(entries follow category ids in ascending order)"))
    return problems


def check_dataset(files: DatasetFiles) -> list[Problem]:
    """All problems of a dataset: both splits, their agreement, and the class-text file."""
    train_problems, train_categories = check_split(files.train)
    val_problems, val_categories = check_split(files.val)
    problems = train_problems + val_problems
    if train_categories and val_categories and train_categories != val_categories:
        problems.append(Problem(files.val.annotation_file, "key 'categories'",
                                f"differ from the training split's {train_categories}"))
    if train_categories:
        problems += check_class_texts(files.class_text_file, train_categories)
    return problems


def ensure_valid(files: DatasetFiles) -> None:
    """Raise DatasetError listing every problem, or return quietly."""
    problems = check_dataset(files)
    if problems:
        raise DatasetError(problems)


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m search.datasets.check", description=__doc__.split("\n")[0])
    parser.add_argument("dataset", help="a demo set name (demo-defects, demo-ct) or a folder in the standard "
                                        "layout (annotations/instances_{train,val}.json, images/{train,val}/, "
                                        "class_texts.json)")
    for split in ("train", "val"):
        parser.add_argument(f"--{split}-ann", type=Path, help=f"{split} COCO json (overrides the layout)")
        parser.add_argument(f"--{split}-images", type=Path, help=f"{split} image folder")
    parser.add_argument("--class-texts", type=Path, help="class-text json file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from search.datasets.demo import RECIPES, ensure_demo_dataset

    args = _parse_args(argv)
    files = (ensure_demo_dataset(args.dataset) if args.dataset in RECIPES
             else DatasetFiles.standard(Path(args.dataset).name, Path(args.dataset)))
    files = DatasetFiles(
        name=files.name, root=files.root,
        train=Split((args.train_ann or files.train.annotation_file).absolute(),
                    (args.train_images or files.train.image_dir).absolute()),
        val=Split((args.val_ann or files.val.annotation_file).absolute(),
                  (args.val_images or files.val.image_dir).absolute()),
        class_text_file=(args.class_texts or files.class_text_file).absolute(),
    )
    problems = check_dataset(files)
    if problems:
        print(format_problems(problems), file=sys.stderr)
        return 1
    print(f"dataset {files.name!r} at {files.root}: no problems found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
