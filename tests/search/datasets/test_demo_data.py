"""The demo generator: deterministic bytes, valid COCO, learnable and varied objects."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from search.datasets import DEMO_DATASETS, DatasetFiles, check_dataset, generate_demo_dataset, shapes
from search.datasets.demo import render_image

SIZES = {"train": 6, "val": 3}


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("name", sorted(DEMO_DATASETS))
def test_same_seed_gives_same_bytes_and_other_seed_differs(tmp_path: Path, name: str) -> None:
    first = generate_demo_dataset(name, tmp_path / "a", seed=7, sizes=SIZES)
    second = generate_demo_dataset(name, tmp_path / "b", seed=7, sizes=SIZES)
    other = generate_demo_dataset(name, tmp_path / "c", seed=8, sizes=SIZES)
    files = _tree_bytes(first.root)
    assert len(files) == 1 + 2 + sum(SIZES.values())  # class texts, two json files, the images
    assert files == _tree_bytes(second.root)
    assert files != _tree_bytes(other.root)


@pytest.mark.parametrize("name", sorted(DEMO_DATASETS))
def test_generated_set_passes_the_checker(small_demo_root: Path, name: str) -> None:
    files = DatasetFiles.standard(name, small_demo_root / name)
    assert check_dataset(files) == []
    texts = json.loads(files.class_text_file.read_text())
    assert texts == [[c] for c in DEMO_DATASETS[name].classes]


@pytest.mark.parametrize("name", sorted(DEMO_DATASETS))
def test_objects_are_of_varied_size_and_imbalanced_in_the_fine_tuning_sets(name: str) -> None:
    """The sets searched on are imbalanced as real data is; the pretraining set is balanced."""
    recipe = DEMO_DATASETS[name]
    labels, areas = Counter(), []
    for index in range(120):
        _, objects = render_image(recipe, np.random.default_rng([0, 0, index]))
        for label, (x0, y0, x1, y1) in objects:
            labels[label] += 1
            areas.append((x1 - x0) * (y1 - y0))
            assert 0 <= x0 < x1 <= recipe.width and 0 <= y0 < y1 <= recipe.height
    counts = [labels[i] for i in range(len(recipe.classes))]
    assert min(counts) > 0
    if name == "demo-general":
        assert max(counts) < 1.5 * min(counts), f"the pretraining set's classes should be balanced, got {counts}"
    else:
        assert max(counts) >= 2.5 * min(counts), f"classes should be imbalanced, got {counts}"
    areas = np.array(areas)
    assert (areas < 32**2).mean() > 0.2, "COCO-small objects (< 32x32 px) should be common"
    assert (areas >= 32**2).mean() > 0.1, "medium objects should occur too"


def test_object_boxes_are_measured_from_the_painted_pixels() -> None:
    grid = shapes.make_grid(40, 50)
    # a disc of radius 5 at (20, 20) covers pixel centres 15.5 ... 24.5 on both axes
    assert shapes.tight_box(shapes.ellipse(grid, 20.0, 20.0, 5.0, 5.0)) == (15, 15, 25, 25)
    # a horizontal bar 3 px thick from x=10 to x=30 at y=20 (round caps reach 1.5 px past each end)
    assert shapes.tight_box(shapes.segment(grid, 10.0, 20.0, 30.0, 20.0, 3.0)) == (9, 19, 31, 21)
    assert shapes.tight_box(np.zeros((4, 4))) is None


def test_objects_change_the_image_only_inside_their_boxes() -> None:
    recipe = DEMO_DATASETS["demo-defects"]
    background, _ = recipe.background(shapes.make_grid(recipe.height, recipe.width),
                                      np.random.default_rng([3, 0, 5]))
    pixels, objects = render_image(recipe, np.random.default_rng([3, 0, 5]))
    changed = np.abs(pixels.astype(int) - np.round(background * 255).astype(int)).max(axis=-1) > 1
    inside = np.zeros_like(changed)
    for _, (x0, y0, x1, y1) in objects:
        inside[max(y0 - 1, 0):y1 + 1, max(x0 - 1, 0):x1 + 1] = True  # the one-pixel soft edge
        assert changed[y0:y1, x0:x1].any()
    assert not (changed & ~inside).any()
