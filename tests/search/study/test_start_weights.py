"""The starting checkpoint is checked by the search command before any trial trains (and by --dry-run):
a file that is not a checkpoint of the space's detector stops it with the file, the key and the misfits."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from search.study.command import SearchRequest, run_search
from trainables.yolo_world.models import build_model, model_config


def _space(folder: Path, data: Path, clip: Path, checkpoint: Path) -> Path:
    space = {"name": "start", "datasets": [str(data)],
             "model": {"size": "tiny", "checkpoint": str(checkpoint), "text_encoder": str(clip)},
             "parameters": {"lr": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True}},
             "fixed": {"image_size": 160, "epochs": 2, "close_mosaic_epochs": 1},
             "resources": {"workers": 1, "cpus_per_worker": 1}, "storage": {"root": str(folder / "runs")}}
    file = folder / "start.yaml"
    file.write_text(json.dumps(space))
    return file


def _detector_weights(size: str, path: Path) -> Path:
    model = build_model(model_config(size, num_classes=6, text_channels=32, with_text_model=False,
                                     with_data_preprocessor=False))
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def test_a_fitting_checkpoint_is_reported_before_the_search(small_demo_root: Path, tiny_clip_path: Path,
                                                            tmp_path: Path, capsys) -> None:
    checkpoint = _detector_weights("tiny", tmp_path / "tiny.pth")
    space = _space(tmp_path, small_demo_root / "demo-defects", tiny_clip_path, checkpoint)
    assert run_search(SearchRequest(space, dry_run=True)) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("[worldtune] starting weights:"))
    loaded, total = map(int, line.split(": ", 2)[2].split(" model tensors")[0].split(" of "))
    assert loaded == total > 300 and "(348 of 348 class-independent)" in line


@pytest.mark.parametrize("wrong", ["another_size", "not_a_detector"])
def test_a_wrong_checkpoint_stops_the_search_before_any_trial(small_demo_root: Path, tiny_clip_path: Path,
                                                              tmp_path: Path, capsys, wrong: str) -> None:
    if wrong == "another_size":
        checkpoint, misfit = _detector_weights("s", tmp_path / "s.pth"), "stem.conv.weight (other shape)"
    else:
        checkpoint, misfit = tmp_path / "other.pth", "stem.conv.weight (missing)"
        torch.save({"state_dict": {"fc.weight": torch.zeros(4, 4)}}, checkpoint)
    space = _space(tmp_path, small_demo_root / "demo-defects", tiny_clip_path, checkpoint)
    assert run_search(SearchRequest(space, dry_run=True)) == 2
    error = capsys.readouterr().err
    assert f"{space}: key 'model.checkpoint': {checkpoint} [state_dict]: only " in error
    assert "class-independent weights (image backbone, neck, box regression) fit the model" in error
    assert misfit in error
    assert not (tmp_path / "runs" / "tune").exists(), "nothing started"
