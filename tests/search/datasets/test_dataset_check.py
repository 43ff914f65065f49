"""The dataset checker names the file, the id and the fault for every kind of broken input."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from search.datasets import DatasetFiles, check_dataset, ensure_valid
from search.datasets.check import main as check_main
from search.errors import DatasetError
from tests.project import ROOT


@pytest.fixture()
def dataset(small_demo_root: Path, tmp_path: Path) -> DatasetFiles:
    """A private, valid copy of the small demo-defects set to break."""
    shutil.copytree(small_demo_root / "demo-defects", tmp_path / "set")
    return DatasetFiles.standard("set", tmp_path / "set")


def _edit_json(path: Path, edit: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    edit(data)
    path.write_text(json.dumps(data))


def _train(files: DatasetFiles) -> Path:
    return files.train.annotation_file


def _first_ann(coco: dict) -> dict:
    return coco["annotations"][0]


def _image_of_first_ann(coco: dict) -> dict:
    return next(i for i in coco["images"] if i["id"] == _first_ann(coco)["image_id"])


def _drop_category(coco: dict, cat_id: int) -> None:
    coco["annotations"] = [a for a in coco["annotations"] if a["category_id"] != cat_id]


BREAKAGES: dict[str, tuple[Callable[[DatasetFiles], None], str, str, str]] = {
    # name: (how to break the set, file that must be named, where, text of the message)
    "annotation file missing": (lambda f: _train(f).unlink(), "instances_train.json", "file", "does not exist"),
    "not json": (lambda f: _train(f).write_text("{'images': ["), "instances_train.json", "file",
                 "not valid JSON"),
    "top level not an object": (lambda f: _train(f).write_text("[1, 2]"), "instances_train.json", "top level",
                                "must be a JSON object"),
    "images key missing": (lambda f: _edit_json(_train(f), lambda c: c.pop("images")), "instances_train.json",
                           "key 'images'", "missing or not a list"),
    "image file missing": (lambda f: (f.train.image_dir / "train_00003.jpg").unlink(), "instances_train.json",
                           "image id 4", "does not exist"),
    "image size mismatch": (lambda f: Image.new("RGB", (50, 40)).save(f.train.image_dir / "train_00001.jpg"),
                            "instances_train.json", "image id 2", "is 50 x 40"),
    "box outside the image": (lambda f: _edit_json(_train(f), lambda c: _first_ann(c).update(
        bbox=[_image_of_first_ann(c)["width"] - 5, 0, 20, 10])), "instances_train.json", "annotation id 1",
        "reaches outside image"),
    "negative box origin": (lambda f: _edit_json(_train(f), lambda c: _first_ann(c).update(bbox=[-9, 3, 20, 10])),
                            "instances_train.json", "annotation id 1", "reaches outside image"),
    "degenerate box": (lambda f: _edit_json(_train(f), lambda c: _first_ann(c).update(bbox=[5, 5, 0, 10])),
                       "instances_train.json", "annotation id 1", "degenerate box"),
    "bbox not four numbers": (lambda f: _edit_json(_train(f), lambda c: _first_ann(c).update(bbox=[5, 5, "7"])),
                              "instances_train.json", "annotation id 1", "must be 4 finite numbers"),
    "unknown category id": (lambda f: _edit_json(_train(f), lambda c: _first_ann(c).update(category_id=99)),
                            "instances_train.json", "annotation id 1", "category_id 99 is not a known category"),
    "unknown image id": (lambda f: _edit_json(_train(f), lambda c: _first_ann(c).update(image_id=4242)),
                         "instances_train.json", "annotation id 1", "image_id 4242 is not an image"),
    "duplicate annotation id": (lambda f: _edit_json(_train(f), lambda c: c["annotations"][1].update(id=1)),
                                "instances_train.json", "annotation id 1", "duplicate id"),
    "class without instances": (lambda f: _edit_json(f.val.annotation_file, lambda c: _drop_category(c, 3)),
                                "instances_val.json", "category id 3", "'rust' has no valid annotations"),
    "splits with different classes": (lambda f: _edit_json(f.val.annotation_file, lambda c: c["categories"][0]
                                                           .update(name="gouge")), "instances_val.json",
                                      "key 'categories'", "differ from the training split"),
    "categories out of id order": (lambda f: _edit_json(_train(f), lambda c: c["categories"].reverse()),
                                   "instances_train.json", "key 'categories'", "ascending id order"),
    "class texts missing": (lambda f: f.class_text_file.unlink(), "class_texts.json", "file", "does not exist"),
    "class texts wrong shape": (lambda f: f.class_text_file.write_text('["scratch", "dent"]'), "class_texts.json",
                                "top level", "must be a list of non-empty lists"),
    "class texts wrong count": (lambda f: f.class_text_file.write_text('[["scratch"], ["dent"]]'),
                                "class_texts.json", "top level", "has 2 entries but the annotations have 6"),
    "class texts wrong name": (lambda f: _edit_json(f.class_text_file, lambda t: t.__setitem__(1, ["bump"])),
                               "class_texts.json", "entry 1", "do not name category 'dent'"),
}


@pytest.mark.parametrize("breakage", sorted(BREAKAGES))
def test_each_kind_of_bad_input_is_reported_with_file_id_and_reason(dataset: DatasetFiles, breakage: str) -> None:
    assert check_dataset(dataset) == []
    breaks, file_name, where, message = BREAKAGES[breakage]
    breaks(dataset)
    problems = check_dataset(dataset)
    matching = [p for p in problems if p.file.name == file_name and p.where == where and message in p.message]
    assert matching, f"expected '{file_name}: {where}: ...{message}...' among {[str(p) for p in problems]}"
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ensure_valid(dataset)


def test_many_problems_are_listed_compactly(dataset: DatasetFiles) -> None:
    _edit_json(_train(dataset), lambda c: [a.update(category_id=77) for a in c["annotations"]])
    message = str(DatasetError(check_dataset(dataset)))
    assert "category_id 77 is not a known category" in message
    assert "more problems in" in message and len(message.splitlines()) < 40


def test_cli_exits_non_zero_naming_the_problem(dataset: DatasetFiles, capsys: pytest.CaptureFixture) -> None:
    assert check_main([str(dataset.root)]) == 0
    (dataset.train.image_dir / "train_00000.jpg").unlink()
    assert check_main([str(dataset.root)]) == 1
    err = capsys.readouterr().err
    assert "instances_train.json: image id 1: image file" in err and "does not exist" in err


def test_run_refuses_a_bad_space_file_before_anything_starts(tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text("datasets: [demo-nope]\n")
    done = subprocess.run([sys.executable, str(ROOT / "search" / "run.py"), "--space", str(space)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert f"{space}: key 'datasets[0]'" in done.stderr and "'demo-nope' is neither a demo set" in done.stderr
    assert not (tmp_path / "data").exists()
