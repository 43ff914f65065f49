"""Trial parameters reach the built model and data: each searched knob, each strategy."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import trainables.registry  # noqa: F401
from trainables.configs.yolo_world import INIT_CHECKPOINT, build_trial_config
from trainables.dataset_files import DatasetFiles
from trainables.params import PROMPT_TEMPLATES, TrialParams
from trainables.text_encoder import TextEncoderNotFound
from trainables.yolo_world.models.build import build_model
from trainables.yolo_world.models.checkpoints import load_checkpoint

BASE = dict(size="tiny", epochs=2, batch_size=4, image_size=160, close_mosaic_epochs=1)


@pytest.fixture(scope="module")
def defects(small_demo_root: Path) -> DatasetFiles:
    return DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")


def _config(defects: DatasetFiles, clip: Path, tmp_path: Path, **values) -> dict:
    params = TrialParams.from_dict(BASE | dict(text_encoder=str(clip)) | values)
    return build_trial_config(params, defects, tmp_path / "work", num_data_workers=0)


def _types(node) -> set[str]:
    """Every 'type' anywhere in a config tree."""
    if isinstance(node, dict):
        return {node.get("type")} | set().union(*(_types(v) for v in node.values())) - {None}
    if isinstance(node, (list, tuple)):
        return set().union(*(_types(v) for v in node)) if node else set()
    return set()


def test_recipe_values_reach_the_config(defects, tiny_clip_path, tmp_path) -> None:
    cfg = _config(defects, tiny_clip_path, tmp_path, lr=1e-3, weight_decay=0.01, lr_schedule="cosine",
                  mosaic_prob=0.5, mixup_prob=0.2)
    assert dict(type="AdamW", lr=1e-3, weight_decay=0.01).items() <= cfg["optim_wrapper"]["optimizer"].items()
    assert cfg["default_hooks"]["param_scheduler"]["schedule"]["lr_schedule"] == "cosine"
    assert cfg["train_cfg"]["max_epochs"] == 2 and cfg["train_dataloader"]["batch_size"] == 4
    assert {"RandomChoice", "YOLOv5MultiModalMixUp", "RandomLoadText"} <= _types(cfg["train_dataloader"])
    switch = next(h for h in cfg["custom_hooks"] if h["type"] == "mmdet.PipelineSwitchHook")
    assert switch["switch_epoch"] == 1
    assert cfg["worldtune"] == dict(init_checkpoint=None, amp=None, mode="train")


def test_normal_finetuning_knobs_shape_the_model(defects, tiny_clip_path, tmp_path) -> None:
    cfg = _config(defects, tiny_clip_path, tmp_path, freeze_all=True, frozen_stages=2, use_depthwise=True,
                  neck_embed_channels=[64, 128, 256], neck_num_heads=[2, 4, 8], expand_ratio=0.25,
                  cls_loss="focal", focal_gamma=1.5)
    model = build_model(cfg["model"])
    assert not any(p.requires_grad for p in model.neck.parameters())
    assert not any(p.requires_grad for p in model.bbox_head.head_module.parameters())
    stem, stage2, stage3 = (getattr(model.backbone.image_model, n) for n in ("stem", "stage2", "stage3"))
    assert not any(p.requires_grad for p in [*stem.parameters(), *stage2.parameters()])
    assert all(p.requires_grad for p in stage3.parameters())
    blocks = [*model.neck.top_down_layers, *model.neck.bottom_up_layers]
    # per level, before widening: embed [64, 128, 256], heads [2, 4, 8]; tiny widens by 0.25
    assert {b.attn_block.head_channels * b.attn_block.num_heads for b in blocks} == {16, 32, 64}
    assert {b.attn_block.num_heads for b in blocks} == {1, 2}
    assert all(type(b.attn_block.project_conv).__name__ == "DepthwiseSeparableConvModule" for b in blocks)
    assert blocks[0].mid_channels == int(blocks[0].final_conv.conv.out_channels * 0.25)
    assert type(model.bbox_head.loss_cls).__name__ == "SoftTargetFocalLoss"
    assert model.bbox_head.loss_cls.gamma == 1.5


def test_version_v1_builds_the_dual_neck_with_the_l2_head(defects, tiny_clip_path, tmp_path) -> None:
    model = build_model(_config(defects, tiny_clip_path, tmp_path, version="v1")["model"])
    assert type(model.neck).__name__ == "YOLOWorldDualPAFPN"
    assert model.neck.text_enhancer.query[1].in_features == 32  # the tiny CLIP's width
    assert type(model.bbox_head.head_module.cls_contrasts[0]).__name__ == "ContrastiveHead"
    bn = build_model(_config(defects, tiny_clip_path, tmp_path, version="v1", use_bn_head=True)["model"])
    assert type(bn.bbox_head.head_module.cls_contrasts[0]).__name__ == "BNContrastiveHead"
    frozen = build_model(_config(defects, tiny_clip_path, tmp_path, version="v1", freeze_all=True)["model"])
    assert not any(p.requires_grad for p in frozen.neck.text_enhancer.parameters())


def test_v1_prompt_tuning_runs_the_dual_neck_on_the_prompts(defects, tiny_clip_path, tmp_path) -> None:
    checkpoint = tmp_path / "start.pth"
    torch.save({"state_dict": {}}, checkpoint)
    cfg = _config(defects, tiny_clip_path, tmp_path, version="v1", strategy="prompt", load_from=str(checkpoint))
    model = build_model(cfg["model"]).eval()
    assert type(model.neck).__name__ == "YOLOWorldDualPAFPN"
    with torch.no_grad():
        cls_scores, _ = model._forward(torch.rand(1, 3, 160, 160))
    assert [tuple(c.shape) for c in cls_scores] == [(1, 6, 20, 20), (1, 6, 10, 10), (1, 6, 5, 5)]


def test_prompt_diversity_and_balanced_sampling_reach_the_data(defects, tiny_clip_path, tmp_path) -> None:
    cfg = _config(defects, tiny_clip_path, tmp_path, prompt_templates="ensemble", synonyms=False, neg_texts=2,
                  repeat_factor_thr=0.2)
    train = cfg["train_dataloader"]["dataset"]
    assert train["dataset"] == dict(train["dataset"], type="ClassBalancedDataset", oversample_thr=0.2)
    texts = next(t for t in train["pipeline"] if t["type"] == "RandomLoadText")
    assert texts["prompt_format"] == list(PROMPT_TEMPLATES["ensemble"]) and texts["random_synonym"] is False
    assert texts["num_neg_samples"] == (2, 2) and texts["max_num_samples"] == 6
    val_texts = next(t for t in cfg["val_dataloader"]["dataset"]["pipeline"] if t["type"] == "LoadText")
    assert val_texts["prompt_format"] == PROMPT_TEMPLATES["ensemble"][0]
    checkpoint = tmp_path / "start.pth"
    torch.save({"state_dict": {}}, checkpoint)
    prompt = _config(defects, tiny_clip_path, tmp_path, strategy="prompt", load_from=str(checkpoint),
                     repeat_factor_thr=0.2)["train_dataloader"]["dataset"]
    assert (prompt["type"], prompt["class_text_path"], prompt["dataset"]["type"]) == (
        "MultiModalDataset", None, "ClassBalancedDataset")  # the wrapper keeps the switchable pipeline
    assert "RandomLoadText" not in _types(prompt)


def test_embed_dims_other_than_the_text_width_adds_a_projection(defects, tiny_clip_path, tmp_path) -> None:
    model = build_model(_config(defects, tiny_clip_path, tmp_path, embed_dims=48)["model"])
    assert model.bbox_head.head_module.text_proj.weight.shape == (48, 32)  # the tiny CLIP is 32 wide


def test_prompt_tuning_learns_prompts_on_the_dataset_labels(defects, tiny_clip_path, tmp_path) -> None:
    checkpoint = tmp_path / "start.pth"  # prompt tuning needs one; building the config does not read it
    torch.save({"state_dict": {}}, checkpoint)
    cfg = _config(defects, tiny_clip_path, tmp_path, strategy="prompt", use_mlp_adapter=True,
                  load_from=str(checkpoint))
    assert (tmp_path / "work" / "class_embeddings.npy").is_file()
    model = build_model(cfg["model"])
    trainable = {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"embeddings", "adapter"}
    assert not {"RandomLoadText", "MultiModalDataset", "yolow_collate"} & _types(cfg["train_dataloader"])


def test_reparameterized_finetuning_starts_from_baked_weights(defects, tiny_clip_path, tmp_path) -> None:
    cfg = _config(defects, tiny_clip_path, tmp_path, strategy="reparameterized")
    assert cfg["model"]["reparameterized"] is True and cfg["model"]["neck"]["guide_channels"] == 6
    assert cfg["worldtune"]["init_checkpoint"] == str(tmp_path / "work" / INIT_CHECKPOINT)
    report = load_checkpoint(build_model(cfg["model"]), cfg["worldtune"]["init_checkpoint"], strict=True)
    assert report.complete
    assert "RandomLoadText" not in _types(cfg["train_dataloader"])


def test_zero_shot_evaluates_a_given_checkpoint(defects, tiny_clip_path, tmp_path) -> None:
    checkpoint = tmp_path / "start.pth"
    torch.save({"state_dict": {}}, checkpoint)
    cfg = _config(defects, tiny_clip_path, tmp_path, strategy="zero_shot", load_from=str(checkpoint))
    assert cfg["worldtune"] == dict(init_checkpoint=str(checkpoint), amp=None, mode="val")


def test_a_text_encoder_that_is_not_on_this_machine_is_named(defects, tmp_path) -> None:
    params = TrialParams.from_dict(BASE | dict(text_encoder="no-such-org/no-such-clip"))
    with pytest.raises(TextEncoderNotFound, match="'no-such-org/no-such-clip' is not a local folder"):
        build_trial_config(params, defects, tmp_path, num_data_workers=0)
