"""Class texts per image: the class-text file, LoadText, RandomLoadText and the mosaic/mixup merge,
on handcrafted results with real mmyolo/mmdet types."""
from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from mmdet.structures.bbox import HorizontalBoxes

from trainables.yolo_world.data import (
    ClassTextError,
    LoadText,
    MultiModalMosaic,
    RandomLoadText,
    YOLOv5MultiModalMixUp,
    load_class_texts,
    merge_texts,
)

CLASS_TEXTS = [["scratch", "scuff"], ["dent"], ["rust", "corrosion"], ["crack"], ["hole"], ["stain"]]


def _results(labels: list[int], texts: list[list[str]] = CLASS_TEXTS, size: int = 64) -> dict:
    """Box i is [i, i, i + 10, i + 10] so every surviving box can be traced to its original."""
    n = len(labels)
    return {"img_path": "handmade.jpg", "texts": texts, "img": np.zeros((size, size, 3), np.uint8),
            "img_shape": (size, size), "gt_bboxes_labels": np.array(labels, dtype=np.int64),
            "gt_bboxes": HorizontalBoxes(np.array([[i, i, i + 10, i + 10] for i in range(n)], np.float32)),
            "gt_ignore_flags": np.array([i % 2 == 1 for i in range(n)])}


def _original_index(results: dict) -> list[int]:
    return results["gt_bboxes"].tensor[:, 0].int().tolist()


def _class_of(text: str) -> int:
    return next(c for c, synonyms in enumerate(CLASS_TEXTS) if text in synonyms)


def test_class_text_file_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    with pytest.raises(ClassTextError, match=r"cannot read the class-text file .*missing\.json"):
        load_class_texts(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("[[\"a\"],")
    with pytest.raises(ClassTextError, match=r"broken\.json is not valid JSON"):
        load_class_texts(broken)
    flat = tmp_path / "flat.json"
    flat.write_text(json.dumps([["a"], "b"]))
    with pytest.raises(ClassTextError, match=r"flat\.json: entry 1 is 'b'"):
        load_class_texts(flat)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(CLASS_TEXTS))
    assert load_class_texts(good) == CLASS_TEXTS


def test_load_text_uses_every_class_first_synonym(tmp_path: Path) -> None:
    out = LoadText(prompt_format="a photo of {}").transform(_results([2, 0]))
    assert out["texts"] == [f"a photo of {t[0]}" for t in CLASS_TEXTS]
    assert out["gt_bboxes_labels"].tolist() == [2, 0]
    path = tmp_path / "texts.json"
    path.write_text(json.dumps([["cat", "kitty"], ["dog"]]))
    assert LoadText(text_path=path).transform({"img_path": "x.jpg"})["texts"] == ["cat", "dog"]
    with pytest.raises(KeyError, match="MultiModalDataset"):
        LoadText().transform({"img_path": "x.jpg"})


def test_random_load_text_keeps_positives_samples_negatives_and_pads() -> None:
    random.seed(0)
    labels = [0, 2, 2, 4, 0]
    orders, synonyms = set(), set()
    for _ in range(40):
        out = RandomLoadText(num_neg_samples=(1, 1), max_num_samples=4, padding_to_max=True).transform(
            _results(labels))
        texts = out["texts"]
        classes = [_class_of(t) for t in texts]
        assert len(texts) == 4 and len(set(classes)) == 4  # 3 positives + 1 negative, no repeats
        assert {0, 2, 4} <= set(classes)
        assert _original_index(out) == [0, 1, 2, 3, 4]  # every box kept, in order
        assert [classes[new] for new in out["gt_bboxes_labels"]] == labels
        assert out["gt_ignore_flags"].tolist() == [False, True, False, True, False]
        orders.add(tuple(classes))
        synonyms.update(texts)
    assert len(orders) > 5, "texts must be shuffled"
    assert {"scratch", "scuff"} <= synonyms, "one random synonym per class"

    padded = RandomLoadText(max_num_samples=9, padding_to_max=True, padding_value="").transform(_results([1]))
    assert sorted(_class_of(t) for t in padded["texts"][:6]) == list(range(6))
    assert padded["texts"][6:] == ["", "", ""]
    assert RandomLoadText(num_neg_samples=(0, 0)).transform(_results([3, 3]))["texts"] == ["crack"]


def test_random_load_text_drops_boxes_of_classes_over_the_maximum() -> None:
    random.seed(1)
    labels = [0, 1, 2, 1, 0, 2]
    kept_sets = set()
    for _ in range(30):
        out = RandomLoadText(num_neg_samples=(3, 3), max_num_samples=2, padding_to_max=True).transform(
            _results(labels))
        classes = [_class_of(t) for t in out["texts"]]
        assert len(classes) == 2 and set(classes) <= {0, 1, 2}, "positives first, no room for negatives"
        survivors = _original_index(out)
        assert survivors == [i for i, label in enumerate(labels) if label in classes]
        assert [classes[new] for new in out["gt_bboxes_labels"]] == [labels[i] for i in survivors]
        assert out["gt_ignore_flags"].tolist() == [i % 2 == 1 for i in survivors]
        kept_sets.add(frozenset(classes))
    assert len(kept_sets) == 3, "which positives are kept is random"


def test_random_load_text_rejects_labels_without_texts() -> None:
    with pytest.raises(ValueError, match="label 7 but there are only 6 class texts"):
        RandomLoadText().transform(_results([7]))
    with pytest.raises(KeyError, match="LoadAnnotations"):
        RandomLoadText().transform({"img_path": "x.jpg", "texts": CLASS_TEXTS})


def test_merge_texts_gives_one_list_and_remaps_labels() -> None:
    first = _results([1, 0], texts=[["a"], ["b"]])
    second = _results([0, 1], texts=[["b"], ["c", "c2"]])
    empty = _results([], texts=[["a"], ["b"]])
    first["mix_results"] = [second, empty]
    merge_texts(first)
    merged = [["a"], ["b"], ["c", "c2"]]
    assert first["texts"] == second["texts"] == empty["texts"] == merged
    assert first["gt_bboxes_labels"].tolist() == [1, 0]
    assert second["gt_bboxes_labels"].tolist() == [1, 2]
    assert empty["gt_bboxes_labels"].tolist() == []
    same = _results([3, 5])
    same["mix_results"] = [_results([0])]
    merge_texts(same)
    assert same["texts"] == CLASS_TEXTS and same["gt_bboxes_labels"].tolist() == [3, 5]


def _whole_image_boxes(k: int, size: int) -> dict:
    """Image k: its own class ('only k', label 0) and a 'shared' one (label 1), boxes over the whole image."""
    results = _results([0, 1], texts=[[f"only {k}"], ["shared"]], size=size)
    results["gt_bboxes"] = HorizontalBoxes(np.array([[0, 0, size, size], [1, 1, size - 1, size - 1]], np.float32))
    results["img"] = np.full((size, size, 3), 10 * k, np.uint8)
    return results


@pytest.mark.parametrize("transform, partners", [(MultiModalMosaic(img_scale=(64, 64)), 3),
                                                 (YOLOv5MultiModalMixUp(), 1)])
def test_mix_transforms_merge_texts(transform: MultiModalMosaic | YOLOv5MultiModalMixUp, partners: int) -> None:
    results = _whole_image_boxes(0, 64)
    results["mix_results"] = [_whole_image_boxes(k, 64) for k in range(1, partners + 1)]
    out = transform.mix_img_transform(results)
    assert out["texts"] == [["only 0"], ["shared"], *[[f"only {k}"] for k in range(1, partners + 1)]]
    label_texts = sorted(out["texts"][label][0] for label in out["gt_bboxes_labels"])
    assert label_texts == sorted([f"only {k}" for k in range(partners + 1)] + ["shared"] * (partners + 1))
    assert len(out["gt_bboxes"]) == len(out["gt_bboxes_labels"]) == len(out["gt_ignore_flags"])


def test_random_load_text_draws_a_template_per_text_and_can_keep_the_first_synonym() -> None:
    random.seed(2)
    formats = ["a photo of a {}.", "an image showing a {}."]
    seen_formats, seen_texts = set(), set()
    for _ in range(30):
        out = RandomLoadText(prompt_format=formats, num_neg_samples=(6, 6), max_num_samples=6,
                             random_synonym=False).transform(_results([0, 2]))
        for text in out["texts"]:
            template = next(f for f in formats if text.startswith(f.split("{}")[0]))
            seen_formats.add(template)
            seen_texts.add(text[len(template.split("{}")[0]):-len(template.split("{}")[1])])
    assert seen_formats == set(formats)
    assert seen_texts == {synonyms[0] for synonyms in CLASS_TEXTS}, "random_synonym=False: first texts only"
    with pytest.raises(ValueError, match=r"one or more texts with a '\{\}'"):
        RandomLoadText(prompt_format=["a photo"])
