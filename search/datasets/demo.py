"""Seeded generators of the demo detection datasets, written once in COCO format.

`demo-defects` (a small industrial inspection set: defects on brushed metal) and `demo-ct`
(grayscale scan-like slices with lesions, nothing like natural photos) let the whole service run
offline on a laptop; `demo-general` (everyday shapes in any colour on soft, colourful scenes) is
the broad set the demo start detector is pretrained on (search/datasets/demo_start.py), so that
prompt tuning, the reparameterized model and zero-shot have a trained detector to start from.
Objects have distinct looks, varied sizes (some a few pixels), imbalanced class frequencies and
boxes measured from the painted pixels, so a tiny detector learns them in a few CPU epochs. The
same seed always gives the same bytes.
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from search.datasets import shapes
from search.datasets.atomic import write_folder_atomically
from trainables.dataset_files import DatasetFiles

Painter = Callable[[shapes.Grid, np.random.Generator, float, float, np.ndarray],
                   tuple[np.ndarray, np.ndarray]]
"""(grid, rng, cx, cy, image) -> (alpha mask, colour layer to blend in where alpha is set)."""
Background = Callable[[shapes.Grid, np.random.Generator], tuple[np.ndarray, np.ndarray]]
"""(grid, rng) -> (H x W x 3 image in [0, 1], mask of where object centres may go)."""


@dataclass(frozen=True)
class DemoRecipe:
    classes: tuple[str, ...]
    class_weights: tuple[float, ...]
    painters: tuple[Painter, ...]
    background: Background
    width: int
    height: int
    grayscale: bool
    max_objects: int


# ---------------------------------------------------------------- demo-defects: brushed metal
def _metal(grid: shapes.Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = grid[0].shape
    streaks = rng.normal(0, 1, (h, w + 32)).astype(np.float32)
    kernel = np.ones(32, np.float32) / 32  # smear the noise along the brushing direction
    streaks = np.apply_along_axis(lambda r: np.convolve(r, kernel, "valid")[:w], 1, streaks)
    light = rng.uniform(-0.08, 0.08) * (grid[1] / w - 0.5) + rng.uniform(-0.08, 0.08) * (grid[0] / h - 0.5)
    gray = rng.uniform(0.42, 0.62) + 0.12 * streaks + light + rng.normal(0, 0.015, (h, w))
    tint = np.array([1.0, 1.0, 1.0]) + rng.uniform(-0.04, 0.04, 3)
    return np.clip(gray[..., None] * tint, 0, 1), np.ones((h, w), bool)


def _scratch(grid, rng, cx, cy, image):
    length, angle = rng.uniform(18, 90), rng.uniform(0, np.pi)
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    alpha = shapes.segment(grid, cx - dx, cy - dy, cx + dx, cy + dy, rng.uniform(1.5, 3.0))
    return alpha, np.full(3, rng.uniform(0.86, 0.97))


def _dent(grid, rng, cx, cy, image):
    r, direction = rng.uniform(6, 22), rng.uniform(0, 2 * np.pi)
    ys, xs = grid
    shade = 0.35 * ((xs - cx) * np.cos(direction) + (ys - cy) * np.sin(direction)) / r
    return shapes.ellipse(grid, cx, cy, r, r), np.clip(image + shade[..., None], 0, 1)


def _rust(grid, rng, cx, cy, image):
    alpha = shapes.blob(grid, rng, cx, cy, rng.uniform(5, 28), roughness=0.6)
    texture = rng.normal(0, 0.05, grid[0].shape)[..., None]
    return alpha, np.clip(np.array([0.58, 0.28, 0.10]) + texture, 0, 1)


def _crack(grid, rng, cx, cy, image):
    steps = rng.integers(3, 7)
    heading = rng.uniform(0, 2 * np.pi)
    points = [np.array([cx, cy])]
    for _ in range(steps):
        heading += rng.uniform(-0.9, 0.9)
        points.append(points[-1] + rng.uniform(5, 14) * np.array([np.cos(heading), np.sin(heading)]))
    return shapes.polyline(grid, np.array(points), rng.uniform(1.2, 2.2)), np.full(3, 0.07)


def _hole(grid, rng, cx, cy, image):
    r = rng.uniform(3, 10)
    rim = shapes.ellipse(grid, cx, cy, r + 2, r + 2)
    inner = shapes.ellipse(grid, cx, cy, r, r)
    layer = np.where(inner[..., None] > 0.5, 0.02, 0.95) * np.ones(3)
    return rim, layer


def _stain(grid, rng, cx, cy, image):
    alpha = shapes.ellipse(grid, cx, cy, rng.uniform(8, 34), rng.uniform(6, 22), rng.uniform(0, np.pi))
    return alpha, 0.45 * image + 0.55 * np.array([0.22, 0.48, 0.55])


DEFECTS = DemoRecipe(
    classes=("scratch", "dent", "rust", "crack", "hole", "stain"),
    class_weights=(0.30, 0.20, 0.18, 0.14, 0.11, 0.07),
    painters=(_scratch, _dent, _rust, _crack, _hole, _stain),
    background=_metal, width=288, height=224, grayscale=False, max_objects=5,
)


# ---------------------------------------------------------------- demo-ct: scan-like slices
def _body(grid: shapes.Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    h, w = grid[0].shape
    cx, cy = w / 2 + rng.uniform(-8, 8), h / 2 + rng.uniform(-6, 6)
    rx, ry = w * rng.uniform(0.38, 0.46), h * rng.uniform(0.30, 0.40)
    body = shapes.ellipse(grid, cx, cy, rx, ry)
    inner = shapes.ellipse(grid, cx, cy, rx - 7, ry - 7)
    gray = 0.03 + 0.32 * body + 0.12 * inner
    for _ in range(rng.integers(2, 4)):  # organs
        organ = shapes.blob(grid, rng, cx + rng.uniform(-0.5, 0.5) * rx, cy + rng.uniform(-0.4, 0.4) * ry,
                            rng.uniform(0.15, 0.3) * min(rx, ry), roughness=0.3)
        gray += 0.07 * organ * inner
    spine = shapes.ellipse(grid, cx, cy + 0.7 * ry, 11, 9) - shapes.ellipse(grid, cx, cy + 0.7 * ry, 6, 5)
    gray += 0.35 * np.clip(spine, 0, 1)
    gray += rng.normal(0, 0.025, (h, w))
    allowed = shapes.ellipse(grid, cx, cy, rx - 30, ry - 24) > 0.5
    return np.clip(gray, 0, 1)[..., None] * np.ones(3), allowed


def _nodule(grid, rng, cx, cy, image):
    r = rng.uniform(4, 12)
    return shapes.ellipse(grid, cx, cy, r, r * rng.uniform(0.85, 1.0)), np.full(3, 0.80)


def _cyst(grid, rng, cx, cy, image):
    r = rng.uniform(6, 18)
    return shapes.ellipse(grid, cx, cy, r, r * rng.uniform(0.7, 1.0), rng.uniform(0, np.pi)), np.full(3, 0.16)


def _calcification(grid, rng, cx, cy, image):
    return shapes.blob(grid, rng, cx, cy, rng.uniform(2, 5), roughness=0.5), np.full(3, 1.0)


def _mass(grid, rng, cx, cy, image):
    alpha = shapes.blob(grid, rng, cx, cy, rng.uniform(14, 30), roughness=0.7)
    return alpha, np.clip(0.66 + rng.normal(0, 0.06, grid[0].shape), 0, 1)[..., None] * np.ones(3)


def _ground_glass(grid, rng, cx, cy, image):
    alpha = shapes.ellipse(grid, cx, cy, rng.uniform(10, 24), rng.uniform(8, 20), rng.uniform(0, np.pi))
    haze = image + 0.16 + rng.normal(0, 0.05, grid[0].shape)[..., None]
    return alpha, np.clip(haze, 0, 1)


CT = DemoRecipe(
    classes=("nodule", "cyst", "calcification", "mass", "ground glass opacity"),
    class_weights=(0.32, 0.26, 0.18, 0.16, 0.08),
    painters=(_nodule, _cyst, _calcification, _mass, _ground_glass),
    background=_body, width=256, height=256, grayscale=True, max_objects=4,
)

# ---------------------------------------------------------------- demo-general: shapes in scenes
def _scene(grid: shapes.Grid, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A colourful, smooth backdrop: two colours blended along a random direction, soft blotches."""
    h, w = grid[0].shape
    angle = rng.uniform(0, 2 * np.pi)
    ramp = ((grid[1] / w - 0.5) * np.cos(angle) + (grid[0] / h - 0.5) * np.sin(angle) + 0.5)[..., None]
    image = (1 - ramp) * rng.uniform(0.1, 0.9, 3) + ramp * rng.uniform(0.1, 0.9, 3)
    for _ in range(rng.integers(2, 5)):
        soft = shapes.ellipse(grid, rng.uniform(0, w), rng.uniform(0, h), rng.uniform(20, 60), rng.uniform(20, 60))
        image += 0.12 * soft[..., None] * rng.uniform(-1, 1, 3)
    image += rng.normal(0, 0.02, image.shape)
    return np.clip(image, 0, 1), np.ones((h, w), bool)


def _colour(rng: np.random.Generator) -> np.ndarray:
    colour = rng.uniform(0, 1, 3)
    colour[rng.integers(3)] = rng.choice([0.05, 0.95])  # saturated enough to stand out
    return colour


def _disc(grid, rng, cx, cy, image):
    r = rng.uniform(5, 24)
    return shapes.ellipse(grid, cx, cy, r, r * rng.uniform(0.8, 1.0), rng.uniform(0, np.pi)), _colour(rng)


def _ring(grid, rng, cx, cy, image):
    r, width = rng.uniform(9, 26), rng.uniform(2, 5)
    return np.clip(shapes.ellipse(grid, cx, cy, r, r) - shapes.ellipse(grid, cx, cy, r - width, r - width), 0, 1), \
        _colour(rng)


def _square(grid, rng, cx, cy, image):
    return shapes.square(grid, cx, cy, rng.uniform(5, 20), rng.uniform(0, np.pi / 2)), _colour(rng)


def _bar(grid, rng, cx, cy, image):
    length, angle = rng.uniform(24, 70), rng.uniform(0, np.pi)
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    return shapes.segment(grid, cx - dx, cy - dy, cx + dx, cy + dy, rng.uniform(4, 9)), _colour(rng)


def _zigzag(grid, rng, cx, cy, image):
    step, angle = rng.uniform(7, 12), rng.uniform(0, np.pi)
    along, across = np.array([np.cos(angle), np.sin(angle)]), np.array([-np.sin(angle), np.cos(angle)])
    points = [np.array([cx, cy]) + (k - 2) * step * along + (step if k % 2 else -step) * 0.6 * across
              for k in range(5)]
    return shapes.polyline(grid, np.array(points), rng.uniform(2, 4)), _colour(rng)


def _patch(grid, rng, cx, cy, image):
    alpha = shapes.blob(grid, rng, cx, cy, rng.uniform(8, 26), roughness=0.5)
    texture = rng.normal(0, 0.08, grid[0].shape)[..., None]
    return alpha, np.clip(_colour(rng) + texture, 0, 1)


GENERAL = DemoRecipe(
    classes=("disc", "ring", "square", "bar", "zigzag", "patch"),
    class_weights=(1, 1, 1, 1, 1, 1),
    painters=(_disc, _ring, _square, _bar, _zigzag, _patch),
    background=_scene, width=256, height=224, grayscale=False, max_objects=6,
)

RECIPES: dict[str, DemoRecipe] = {"demo-defects": DEFECTS, "demo-ct": CT, "demo-general": GENERAL}
SPLIT_SIZES = {"train": 300, "val": 60}
DEFAULT_SEED = 0


# ---------------------------------------------------------------- rendering and writing
def _boxes_touch(a: tuple[int, ...], b: tuple[int, ...], gap: int = 2) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def render_image(recipe: DemoRecipe, rng: np.random.Generator,
                 first_label: int | None = None) -> tuple[np.ndarray, list[tuple[int, tuple]]]:
    """One image (uint8) and its objects as (class index, (x0, y0, x1, y1)), boxes never touching.

    `first_label` forces the class of the first object, so that small splits hold every class.
    """
    grid = shapes.make_grid(recipe.height, recipe.width)
    image, allowed = recipe.background(grid, rng)
    centres = np.argwhere(allowed)
    weights = np.asarray(recipe.class_weights) / sum(recipe.class_weights)
    objects: list[tuple[int, tuple]] = []
    for number in range(rng.integers(1, recipe.max_objects + 1)):
        label = int(rng.choice(len(weights), p=weights))
        if number == 0 and first_label is not None:
            label = first_label
        for _attempt in range(20):
            cy, cx = centres[rng.integers(len(centres))] + 0.5
            alpha, layer = recipe.painters[label](grid, rng, float(cx), float(cy), image)
            box = shapes.tight_box(alpha)
            if box and box[2] - box[0] >= 2 and box[3] - box[1] >= 2 \
                    and not any(_boxes_touch(box, other) for _, other in objects):
                image = image * (1 - alpha[..., None]) + layer * alpha[..., None]
                objects.append((label, box))
                break
    pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
    return (pixels[..., 0] if recipe.grayscale else pixels), objects


def _write_split(recipe: DemoRecipe, files: DatasetFiles, split: str, count: int, seed: int) -> None:
    image_dir = files.split(split).image_dir
    image_dir.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        rng = np.random.default_rng([seed, 0 if split == "train" else 1, index])
        pixels, objects = render_image(recipe, rng, index if index < len(recipe.classes) else None)
        name = f"{split}_{index:05d}.jpg"
        Image.fromarray(pixels).save(image_dir / name, quality=92)
        images.append({"id": index + 1, "file_name": name, "width": recipe.width, "height": recipe.height})
        for label, (x0, y0, x1, y1) in objects:
            annotations.append({"id": len(annotations) + 1, "image_id": index + 1, "category_id": label + 1,
                                "bbox": [x0, y0, x1 - x0, y1 - y0], "area": (x1 - x0) * (y1 - y0),
                                "iscrowd": 0})
    categories = [{"id": i + 1, "name": n, "supercategory": "object"} for i, n in enumerate(recipe.classes)]
    coco = {"images": images, "annotations": annotations, "categories": categories}
    files.split(split).annotation_file.write_text(json.dumps(coco, indent=1))


def generate_demo_dataset(name: str, root: Path, *, seed: int = DEFAULT_SEED,
                          sizes: dict[str, int] | None = None) -> DatasetFiles:
    """Write demo set `name` under `root/name` (atomically: a half-written set never shows)."""
    if name not in RECIPES:
        raise KeyError(f"unknown demo dataset {name!r}; choose one of {sorted(RECIPES)}")
    recipe = RECIPES[name]

    def write(folder: Path) -> None:
        files = DatasetFiles.standard(name, folder)
        files.class_text_file.parent.mkdir(parents=True, exist_ok=True)
        files.class_text_file.write_text(json.dumps([[c] for c in recipe.classes]))
        for split, count in (sizes or SPLIT_SIZES).items():
            files.split(split).annotation_file.parent.mkdir(parents=True, exist_ok=True)
            _write_split(recipe, files, split, count, seed)

    target = write_folder_atomically(Path(root) / name, write)
    return DatasetFiles.standard(name, target)


def default_data_root() -> Path:
    """Where demo sets live: $WORLDTUNE_DATA_DIR or ./data in the working directory."""
    return Path(os.environ.get("WORLDTUNE_DATA_DIR", "data")).absolute()


def ensure_demo_dataset(name: str, root: Path | None = None) -> DatasetFiles:
    """The demo set's files, generated on first use (a few seconds)."""
    files = DatasetFiles.standard(name, (root or default_data_root()) / name)
    if files.root.is_dir():
        return files
    print(f"[worldtune] generating demo dataset {name!r} in {files.root} ...", flush=True)
    return generate_demo_dataset(name, files.root.parent)
