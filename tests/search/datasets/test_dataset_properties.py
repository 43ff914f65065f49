"""Property tests of the dataset checker: whatever the annotation or class-text files hold, it
returns problems naming the dataset's files (never raises, never hangs), the CLI exits 1 with
them, and a set it passes is one pycocotools indexes with every id and box consistent.
Deterministic: derandomized, no example database."""
from __future__ import annotations

import contextlib
import io
import json
import math
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO

from search.datasets import DatasetFiles, check_dataset
from search.datasets.check import main as check_main
from search.errors import DatasetError
from tests.fuzz import PROPERTIES, mutate, values

CHECKS = settings(PROPERTIES, max_examples=60)  # each example checks 32 images, twice (API and CLI)


@pytest.fixture(scope="module")
def dataset(small_demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DatasetFiles]:
    """A private copy of the small demo-defects set; each example starts from its original files."""
    root = tmp_path_factory.mktemp("props") / "set"
    shutil.copytree(small_demo_root / "demo-defects", root)
    yield DatasetFiles.standard("set", root)


def _check(files: DatasetFiles, train: bytes, class_texts: bytes) -> list:
    """Write the two files, check the set, and hold the checker to its contract."""
    saved = files.train.annotation_file.read_bytes(), files.class_text_file.read_bytes()
    files.train.annotation_file.write_bytes(train)
    files.class_text_file.write_bytes(class_texts)
    try:
        problems = check_dataset(files)
        named = {files.train.annotation_file, files.val.annotation_file, files.class_text_file,
                 files.train.image_dir, files.val.image_dir}
        assert all(p.file in named and p.where and p.message for p in problems), [str(p) for p in problems]
        with contextlib.redirect_stderr(io.StringIO()) as err, contextlib.redirect_stdout(io.StringIO()):
            code = check_main([str(files.root)])
        assert code == (1 if problems else 0) and "Traceback" not in err.getvalue()
        if problems:
            assert str(files.root) in str(DatasetError(problems))
        else:
            _assert_usable(files)
        return problems
    finally:
        files.train.annotation_file.write_bytes(saved[0])
        files.class_text_file.write_bytes(saved[1])


def _assert_usable(files: DatasetFiles) -> None:
    """What training relies on, for a set the checker passed."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(files.train.annotation_file))
    for ann in coco.dataset["annotations"]:
        assert ann["image_id"] in coco.imgs and ann["category_id"] in coco.cats
        x, y, w, h = ann["bbox"]
        assert w > 0 and h > 0 and all(math.isfinite(v) for v in (x, y, w, h))
    names = [coco.cats[i]["name"] for i in sorted(coco.cats)]
    assert len(json.loads(files.class_text_file.read_text())) == len(names)


def _dump(value: Any) -> bytes:
    return json.dumps(value).encode()


@CHECKS
@given(document=values)
def test_any_json_document_as_annotations_is_reported_not_raised(dataset: DatasetFiles, document: Any) -> None:
    problems = _check(dataset, _dump(document), dataset.class_text_file.read_bytes())
    assert problems, "no JSON document this small is a valid detection set"


@CHECKS
@given(data=st.binary(max_size=200))
def test_any_bytes_as_annotations_are_reported_not_raised(dataset: DatasetFiles, data: bytes) -> None:
    assert _check(dataset, data, dataset.class_text_file.read_bytes())


@CHECKS
@given(path=st.lists(st.integers(0, 400), min_size=1, max_size=4), new=values, delete=st.booleans())
def test_a_valid_set_with_one_value_broken_is_reported_or_still_usable(
        dataset: DatasetFiles, path: list[int], new: Any, delete: bool) -> None:
    train = json.loads(dataset.train.annotation_file.read_text())
    _check(dataset, _dump(mutate(train, path, new, delete)), dataset.class_text_file.read_bytes())


@CHECKS
@given(texts=values)
def test_any_class_text_file_is_reported_or_matches_the_categories(dataset: DatasetFiles, texts: Any) -> None:
    _check(dataset, dataset.train.annotation_file.read_bytes(), _dump(texts))
