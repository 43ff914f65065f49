"""worldtune's YOLO-World against what the official code produces (shared fixtures).

Keys and shapes of every official config's state dict, the resolved official model
configs, and the numbers of a tiny v2 model: eval head outputs, training losses,
the reparameterized weights and their outputs.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.logging import HistoryBuffer

from tests.official import assert_head_outputs_close, assert_training_losses_close, built_shapes
from tests.project import OFFICIAL_FIXTURES
from trainables.yolo_world.models import (
    build_model,
    load_checkpoint,
    model_config,
    prompt_tuning_config,
    reparameterize_state_dict,
    reparameterized_config,
)

FIXTURES = OFFICIAL_FIXTURES
CONFIGS: dict[str, Any] = json.loads((FIXTURES / "model_configs.json").read_text())
MANIFEST: dict[str, dict[str, list[int]]] = json.loads(
    (FIXTURES / "state_dict_shapes.json").read_text())
FINETUNE = "yolo_world_v2_{}_vlpan_bn_2e-4_80e_8gpus_mask-refine_finetune_coco"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return torch.load(FIXTURES / "tiny_v2_vectors.pt")


def tiny(vectors: dict[str, Any], key: str = "tiny") -> torch.nn.Module:
    model = build_model(CONFIGS[key])
    model.load_state_dict(vectors["state_dict" if key == "tiny" else "rep_state_dict"],
                          strict=True)
    return model


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_state_dict_keys_and_shapes_match_official(name: str, full_size_clips: dict[str, str],
                                                   tmp_path: Path) -> None:
    shapes = built_shapes(CONFIGS[name], full_size_clips, tmp_path)
    assert sorted(shapes) == sorted(MANIFEST[name])
    assert shapes == MANIFEST[name]


@pytest.mark.parametrize("size", ["s", "m", "l", "x"])
def test_model_config_equals_official_finetune_config(size: str) -> None:
    assert model_config(size) == CONFIGS[FINETUNE.format(size)]


def test_model_config_variants_equal_official_configs() -> None:
    lvis = "yolo_world_v2_{}_vlpan_bn_2e-3_100e_4x8gpus_obj365v1_goldg_train_lvis_minival"
    assert model_config("s", num_test_classes=1203) == CONFIGS[lvis.format("s")]
    assert model_config("l", text_model_name="openai/clip-vit-large-patch14-336",
                        text_channels=768, num_test_classes=1203) == CONFIGS[
                            lvis.format("l_clip_large")]
    tiny_cfg = model_config("tiny", num_classes=6, with_text_model=False,
                            with_data_preprocessor=False)
    assert tiny_cfg == CONFIGS["tiny"]
    assert reparameterized_config(tiny_cfg, 6) == CONFIGS["tiny_rep"]
    assert reparameterized_config(model_config("s"), 80) == CONFIGS[
        "yolo_world_v2_s_rep_vlpan_bn_2e-4_80e_8gpus_mask-refine_finetune_coco"]
    prompt = prompt_tuning_config(model_config("l"),
                                  embedding_path="embeddings/clip_vit_b32_coco_80_embeddings.npy")
    official = CONFIGS["yolo_world_v2_l_vlpan_bn_2e-4_80e_8gpus_prompt_tuning_coco"]
    assert prompt == {**official, "use_mlp_adapter": False}


def test_eval_head_outputs_match_official(vectors: dict[str, Any]) -> None:
    model = tiny(vectors).eval()
    # The fixture gives text features, not texts (its model has no text encoder).
    model.text_feats = vectors["text_feats"][None]
    assert_head_outputs_close(model, vectors["images"], vectors["eval_cls_scores"], vectors["eval_bbox_preds"],
                              TOLERANCE)


def test_training_losses_match_official(vectors: dict[str, Any]) -> None:
    model = tiny(vectors)
    model.text_feats = vectors["text_feats"][None]
    assert_training_losses_close(model, vectors, TOLERANCE)


def test_reparameterized_outputs_match_official(vectors: dict[str, Any]) -> None:
    model = tiny(vectors, "tiny_rep").eval()
    assert_head_outputs_close(model, vectors["images"], vectors["rep_eval_cls_scores"],
                              vectors["rep_eval_bbox_preds"], TOLERANCE)


def test_reparameterize_state_dict_reproduces_official_rep_weights(
        vectors: dict[str, Any]) -> None:
    rep = reparameterize_state_dict(vectors["state_dict"], vectors["text_feats"])
    expected = vectors["rep_state_dict"]
    assert sorted(rep) == sorted(expected)
    for key, value in expected.items():
        torch.testing.assert_close(rep[key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_checkpoint_state_dict_and_ema_forms_load_strictly(vectors: dict[str, Any],
                                                          tmp_path: Path) -> None:
    weights = vectors["state_dict"]
    meta = {"message_hub": {"log_scalars": {"loss": HistoryBuffer([1.0, 0.5], [1, 1])}}}
    path = tmp_path / "epoch_80.pth"  # mmengine layout, with objects the safe loader refuses
    torch.save({"meta": meta, "state_dict": weights,
                "ema_state_dict": {"steps": torch.tensor(10),
                                   **{f"module.{k}": v * 2 for k, v in weights.items()
                                      if v.is_floating_point()},
                                   **{f"module.{k}": v for k, v in weights.items()
                                      if not v.is_floating_point()}}}, path)
    for key, factor in (("state_dict", 1), ("ema_state_dict", 2)):
        model = build_model(CONFIGS["tiny"])
        report = load_checkpoint(model, path, key=key)
        assert report.complete and len(report.loaded) == len(weights)
        name = "neck.top_down_layers.0.attn_block.guide_fc.weight"
        torch.testing.assert_close(model.state_dict()[name], weights[name] * factor)
