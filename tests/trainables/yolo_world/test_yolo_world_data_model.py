"""The data side feeding worldtune's own YOLO-World model: the box-only recipe's batches, the
model's YOLOWDetDataPreprocessor and the official optimizer config train a tiny detector, and
validation batches score every class text."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from mmengine.optim import build_optim_wrapper
from mmengine.runner import Runner
from mmyolo.utils import register_all_modules

from search.datasets import DatasetFiles
from tests.project import OFFICIAL_FIXTURES
from trainables.yolo_world.data import TextSampling, box_only_data_config
from trainables.yolo_world.models.build import build_model
from trainables.yolo_world.models.sizes import model_config

RECIPE = OFFICIAL_FIXTURES / "finetune_recipe_s.json"
SIZE, MAX_TEXTS = 160, 8


def test_recipe_batches_train_and_validate_a_tiny_yolo_world(small_demo_root: Path,
                                                             tiny_clip_path: Path) -> None:
    register_all_modules(init_default_scope=True)
    import trainables.yolo_world  # noqa: F401  (registers the YOLO-World types)
    files = DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")
    config = box_only_data_config(
        train_ann_file=files.train.annotation_file, train_image_dir=files.train.image_dir,
        val_ann_file=files.val.annotation_file, val_image_dir=files.val.image_dir,
        class_text_file=files.class_text_file, img_scale=(SIZE, SIZE), batch_size=4,
        num_workers=0, mixup_prob=0.5, texts=TextSampling(max_num_samples=MAX_TEXTS))
    model = build_model(model_config("tiny", num_classes=MAX_TEXTS, num_test_classes=6,
                                     text_model_name=str(tiny_clip_path), text_channels=32))
    official = json.loads(RECIPE.read_text())
    optim_wrapper = build_optim_wrapper(model, next(iter(official.values()))["optim_wrapper"])

    model.train()
    watched = model.bbox_head.head_module.cls_preds[0][-1].weight
    before = watched.detach().clone()
    train_batches = iter(Runner.build_dataloader(config["train_dataloader"], seed=0))
    for _ in range(2):
        losses = model.train_step(next(train_batches), optim_wrapper)
        assert {"loss_cls", "loss_bbox", "loss_dfl"} <= set(losses)
        assert all(torch.isfinite(value) for value in losses.values())
    assert not torch.equal(before, watched.detach())

    model.eval()
    class_texts = [entry[0] for entry in json.loads(files.class_text_file.read_text())]
    val_batch = next(iter(Runner.build_dataloader(config["val_dataloader"], seed=0)))
    prediction = model.val_step(val_batch)[0]
    assert prediction.texts == class_texts
    labels = prediction.pred_instances.labels
    assert len(labels) > 0 and int(labels.max()) < len(class_texts)
    height, width = prediction.ori_shape
    boxes = prediction.pred_instances.bboxes
    assert (boxes[:, [0, 2]] <= width + 1e-3).all() and (boxes[:, [1, 3]] <= height + 1e-3).all()
