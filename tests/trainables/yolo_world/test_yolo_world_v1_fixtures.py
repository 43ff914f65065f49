"""YOLO-World v1 (dual VL-PAN, L2-norm head) and the efficient neck against the official code.

Keys and shapes of the seven official v1 / efficient-neck configs, their resolved model
sections from ``model_config(version="v1")``, and the numbers of a tiny v1 model: eval
head outputs (the neck's text enhancer changes them) and training losses.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from tests.official import (
    assert_head_outputs_close,
    assert_training_losses_close,
    built_shapes,
    relative_error,
)
from tests.project import OFFICIAL_FIXTURES
from trainables.yolo_world.models import (
    build_model,
    model_config,
    reparameterize_state_dict,
    reparameterized_config,
)

CONFIGS: dict[str, Any] = json.loads((OFFICIAL_FIXTURES / "model_configs_v1.json").read_text())
MANIFEST: dict[str, dict[str, list[int]]] = json.loads(
    (OFFICIAL_FIXTURES / "state_dict_shapes_v1.json").read_text())
PRETRAIN = "yolo_world_{}_dual_vlpan_l2norm_2e-3_100e_4x8gpus_obj365v1_goldg_train_lvis_minival"
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    return torch.load(OFFICIAL_FIXTURES / "tiny_v1_vectors.pt")


@pytest.fixture
def tiny(vectors: dict[str, Any]) -> torch.nn.Module:
    """worldtune's own tiny v1 config (the fixture's is the official one after its build filled
    in the enhancer's channels and the head's train/test settings), with the official weights."""
    model = build_model(model_config("tiny", version="v1", num_classes=6, with_text_model=False,
                                     with_data_preprocessor=False))
    model.load_state_dict(vectors["state_dict"], strict=True)
    return model


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_v1_state_dict_keys_and_shapes_match_official(name: str, full_size_clips: dict[str, str],
                                                      tmp_path: Path) -> None:
    shapes = built_shapes(CONFIGS[name], full_size_clips, tmp_path)
    assert sorted(shapes) == sorted(MANIFEST[name])
    assert shapes == MANIFEST[name]


@pytest.mark.parametrize("size", ["s", "m", "l", "x"])
def test_v1_model_config_equals_official_pretrain_config(size: str) -> None:
    assert model_config(size, version="v1", num_test_classes=1203) == CONFIGS[PRETRAIN.format(size)]
    assert model_config(size, version="v1", num_test_classes=1203, use_bn_head=False) == CONFIGS[
        PRETRAIN.format(size)]


def test_v1_finetune_config_equals_official() -> None:
    assert model_config("l", version="v1") == CONFIGS[
        "yolo_world_l_dual_vlpan_2e-4_80e_8gpus_finetune_coco"]


def test_v1_text_enhancer_gets_the_official_build_arguments(tiny: torch.nn.Module,
                                                            vectors: dict[str, Any]) -> None:
    official = vectors["model_config"]["neck"]["text_enhancder"]
    enhancer = tiny.neck.text_enhancer
    assert [p.conv.in_channels for p in enhancer.projections] == official["image_channels"]
    assert enhancer.query[1].in_features == official["text_channels"]
    assert (enhancer.num_feats, enhancer.num_heads, enhancer.embed_channels) == (
        official["num_feats"], official["num_heads"], official["embed_channels"])


def undo_one_batchnorm_update(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Roll BN running statistics back by the one train-mode step taken on ``images``.

    The official script computed the eval outputs, then the training losses (a train-mode
    forward, which moves every running mean and variance one momentum step towards this batch's
    statistics), and saved the state dict after that. Eval outputs from the saved weights are
    therefore ~0.1 % off (10 % on the near-orthogonal L2-head logits); a train-mode forward with
    momentum -m / (1 - m) inverts running = (1 - m) * running + m * batch exactly.
    """
    model.train()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.momentum = -module.momentum / (1 - module.momentum)
    with torch.no_grad():
        model._forward(images)


def test_v1_eval_head_outputs_match_official(tiny: torch.nn.Module,
                                             vectors: dict[str, Any]) -> None:
    tiny.text_feats = vectors["text_feats"][None]
    undo_one_batchnorm_update(tiny, vectors["images"])
    assert_head_outputs_close(tiny.eval(), vectors["images"], vectors["eval_cls_scores"],
                              vectors["eval_bbox_preds"], TOLERANCE)


def test_v1_text_enhancer_changes_the_bottom_up_levels(tiny: torch.nn.Module,
                                                       vectors: dict[str, Any]) -> None:
    """Without the enhancer's update the upper levels differ: the fixture checks the dual path."""
    neck = tiny.eval().neck
    texts = vectors["text_feats"][None].expand(2, -1, -1)
    with torch.no_grad():
        feats = tiny.backbone.forward_image(vectors["images"])
        dual = neck(feats, texts)
        single = neck._bottom_up(neck._top_down(feats, texts), texts)
    assert torch.equal(dual[0], single[0])  # the lowest level comes from the top-down path only
    assert relative_error(single[2], dual[2]) > 1e-3


def test_v1_training_losses_match_official(tiny: torch.nn.Module, vectors: dict[str, Any]) -> None:
    tiny.text_feats = vectors["text_feats"][None]
    assert_training_losses_close(tiny, vectors, TOLERANCE)


def test_v1_cannot_be_reparameterized(tiny: torch.nn.Module, vectors: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="dual VL-PAN"):
        reparameterize_state_dict(tiny.state_dict(), vectors["text_feats"])
    with pytest.raises(ValueError, match="use_bn_head"):
        reparameterized_config(model_config("tiny", version="v1"), 6)
    with pytest.raises(ValueError, match="dual VL-PAN"):
        reparameterized_config(model_config("tiny", version="v1", use_bn_head=True), 6)
