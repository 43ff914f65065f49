"""A tiny YOLO-World (local tiny CLIP) on the demo data, through the data side's real
pipelines and preprocessor: the training loss falls, and the reparameterized model gives
the plain model's detections on demo images."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.runner import Runner
from mmengine.runner.utils import set_random_seed
from mmyolo.utils import register_all_modules
from torch import nn

import trainables.yolo_world  # noqa: F401  (registers the data and model types)
from tests.detections import assert_same_detections
from trainables.dataset_files import DatasetFiles
from trainables.yolo_world.data import TextSampling, box_only_data_config
from trainables.yolo_world.models import build_model, model_config, reparameterize_detector

SIZE = 128


@pytest.fixture(scope="module")
def demo(small_demo_root: Path) -> tuple[DatasetFiles, list[str], dict[str, Any]]:
    register_all_modules(init_default_scope=True)  # datasets and transforms build in mmyolo
    files = DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")
    classes = [synonyms[0] for synonyms in json.loads(files.class_text_file.read_text())]
    data = box_only_data_config(
        train_ann_file=files.train.annotation_file, train_image_dir=files.train.image_dir,
        val_ann_file=files.val.annotation_file, val_image_dir=files.val.image_dir,
        class_text_file=files.class_text_file, img_scale=(SIZE, SIZE), batch_size=4,
        num_workers=0, mosaic_prob=0.0, mixup_prob=0.0, texts=TextSampling(max_num_samples=len(classes)))
    return files, classes, data


@pytest.fixture(scope="module")
def trained(demo: tuple, tiny_clip_path: Path) -> tuple[nn.Module, dict[str, Any], list[float]]:
    """A tiny model after 14 SGD steps on 4 demo images; (model, config, loss per step).

    From scratch, YOLOv8's task-aligned loss first rises for a few dozen steps at the
    usual learning rates (the class-prior bias starts near the optimum for negatives,
    and the assigner finds more, worse-aligned positives as scores spread; mmyolo's
    own YOLOv8 does the same here), so this uses a gentle SGD (lr 3e-3, momentum 0.9).
    """
    _, classes, data = demo
    cfg = model_config("tiny", num_classes=len(classes), text_model_name=str(tiny_clip_path),
                       text_channels=32)
    set_random_seed(0)  # the pipelines' augmentations draw from the global generators
    model = build_model(cfg)
    model.init_weights()
    batch = model.data_preprocessor(next(iter(Runner.build_dataloader(
        data["train_dataloader"], seed=0))), training=True)
    optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=3e-3,
                                momentum=0.9)
    model.train()
    losses = []
    for _ in range(14):
        loss = sum(model.loss(batch["inputs"], batch["data_samples"]).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return model.eval(), cfg, losses


def test_training_loss_falls_on_demo_data(trained: tuple) -> None:
    model, _, losses = trained
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0] and sum(losses[-3:]) < sum(losses[:3]), losses
    assert model.backbone.text_model.cache.encoded == 6  # 6 class texts, encoded once


def test_reparameterized_model_detects_the_same_on_demo_images(demo: tuple,
                                                               trained: tuple) -> None:
    _, classes, data = demo
    model, cfg, _ = trained
    rep = reparameterize_detector(model, cfg, texts=classes).eval()
    compared = 0
    for batch in Runner.build_dataloader(data["val_dataloader"], seed=0):
        inputs = model.data_preprocessor(batch, training=False)
        assert inputs["data_samples"][0].texts == classes
        with torch.no_grad():
            plain_outputs = model._forward(inputs["inputs"], inputs["data_samples"])
            rep_outputs = rep._forward(inputs["inputs"])
            plain = model.predict(inputs["inputs"], inputs["data_samples"])
            baked = rep.predict(inputs["inputs"], inputs["data_samples"])
        for ours, theirs in zip(sum(rep_outputs, []), sum(plain_outputs, [])):
            torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4)
        assert_same_detections(plain, baked)
        compared += 1
    assert compared == 8
