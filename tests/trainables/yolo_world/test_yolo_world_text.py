"""Text side: the CLIP text backbone on transformers, its per-text cache, precomputed
embeddings, and a detector that encodes its class texts (local tiny CLIP, offline)."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, CLIPTextModelWithProjection

from trainables.yolo_world.models import (
    HuggingCLIPLanguageBackbone,
    PrecomputedLanguageBackbone,
    build_model,
    export_text_embeddings,
    model_config,
)

BATCHES = [[["scratch", "dent", ""], ["rust", "dent", "crack"]],
           [["dent", "scratch", "hole"], ["stain", "", "rust"]],
           [["scratch", "dent", ""], ["rust", "dent", "crack"]]]


def count_calls(module: torch.nn.Module) -> list[int]:
    """A list whose length grows by one per forward of ``module`` (a real hook, no mock)."""
    calls: list[int] = []
    module.register_forward_hook(lambda *args: calls.append(1))
    return calls


def test_clip_backbone_matches_transformers_directly(tiny_clip_path: Path) -> None:
    backbone = HuggingCLIPLanguageBackbone(str(tiny_clip_path))
    feats = backbone(BATCHES[0])
    tokenizer = AutoTokenizer.from_pretrained(tiny_clip_path)
    reference = CLIPTextModelWithProjection.from_pretrained(tiny_clip_path).eval()
    flat = [t for texts in BATCHES[0] for t in texts]
    with torch.no_grad():
        embeds = reference(**tokenizer(flat, padding=True, return_tensors="pt")).text_embeds
    assert feats.shape == (2, 3, 32)
    torch.testing.assert_close(feats.reshape(6, 32), F.normalize(embeds, dim=-1))
    assert feats.requires_grad  # not frozen: the tower trains


def test_cache_encodes_each_distinct_text_once_with_identical_results(
        tiny_clip_path: Path) -> None:
    frozen = HuggingCLIPLanguageBackbone(str(tiny_clip_path), frozen_modules=["all"]).train()
    plain = HuggingCLIPLanguageBackbone(str(tiny_clip_path), frozen_modules=["all"],
                                        use_cache=False)
    calls, plain_calls = count_calls(frozen.model), count_calls(plain.model)
    for batch in BATCHES:
        torch.testing.assert_close(frozen(batch), plain(batch), rtol=1e-5, atol=1e-6)
    distinct = {t for batch in BATCHES for texts in batch for t in texts}
    assert frozen.uses_cache and not plain.uses_cache
    assert frozen.cache.encoded == len(distinct) == len(frozen.cache)
    assert len(calls) == 2  # batch 1 (5 texts), batch 2 (2 new ones), batch 3 all cached
    assert len(plain_calls) == 3 and len(plain.cache) == 0
    assert not frozen.model.training  # frozen: stays in eval mode under .train()


def test_cache_is_cleared_when_weights_are_loaded(tiny_clip_path: Path) -> None:
    original = HuggingCLIPLanguageBackbone(str(tiny_clip_path), frozen_modules=["all"])
    original(BATCHES[0])
    backbone = copy.deepcopy(original)  # as mmengine's EMA wrapper copies the model
    before = backbone(BATCHES[0])
    state = backbone.state_dict()
    state["model.text_projection.weight"] = torch.randn_like(state["model.text_projection.weight"])
    backbone.load_state_dict(state)
    after = backbone(BATCHES[0])
    assert not torch.allclose(before, after, atol=1e-3)
    assert len(original.cache) == 5  # only the copy's cache was cleared
    flat = [t for texts in BATCHES[0] for t in texts]
    torch.testing.assert_close(after, backbone.encode(flat).reshape(2, 3, -1))


def test_training_use_cache_caches_an_unfrozen_tower_in_training_only(
        tiny_clip_path: Path) -> None:
    backbone = HuggingCLIPLanguageBackbone(str(tiny_clip_path), training_use_cache=True)
    assert backbone.train().uses_cache and not backbone.eval().uses_cache


def test_text_backbone_errors_name_the_fix(tiny_clip_path: Path) -> None:
    with pytest.raises(ValueError, match="text_model"):
        HuggingCLIPLanguageBackbone(str(tiny_clip_path), frozen_modules=["text_modle"])
    backbone = HuggingCLIPLanguageBackbone(str(tiny_clip_path), frozen_modules=["text_model"])
    assert not any(p.requires_grad for p in backbone.model.text_model.parameters())
    assert backbone.model.text_projection.weight.requires_grad
    with pytest.raises(ValueError, match=r"same number of class texts.*\[2, 1\]"):
        backbone([["scratch", "dent"], ["rust"]])


def test_precomputed_embeddings_match_the_encoder(tiny_clip_path: Path, tmp_path: Path) -> None:
    clip = HuggingCLIPLanguageBackbone(str(tiny_clip_path), frozen_modules=["all"])
    class_texts = [["scratch", "scrape"], ["dent"], ["rust"], ["crack"]]
    (tmp_path / "classes.json").write_text(json.dumps(class_texts))
    export_text_embeddings(clip, class_texts, tmp_path / "emb.npy")
    pre = PrecomputedLanguageBackbone(str(tmp_path / "emb.npy"), str(tmp_path / "classes.json"))
    texts = [["dent", "scratch", ""], ["rust", "scrape", "crack"]]
    feats = pre(texts)
    expected = clip([["dent", "scratch", "rust"], ["rust", "scratch", "crack"]])
    torch.testing.assert_close(feats[0, :2], expected[0, :2])
    torch.testing.assert_close(feats[1], expected[1])  # synonym 'scrape' -> row of 'scratch'
    assert torch.count_nonzero(feats[0, 2]) == 0  # padding text
    with pytest.raises(KeyError, match="'rusty' \\(did you mean 'rust'\\?\\)"):
        pre([["rusty"]])
    np.save(tmp_path / "short.npy", np.zeros((3, 32), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 32\).*4 classes"):
        PrecomputedLanguageBackbone(str(tmp_path / "short.npy"), str(tmp_path / "classes.json"))


def test_detector_with_text_model_trains_and_caches(tiny_clip_path: Path) -> None:
    cfg = model_config("tiny", num_classes=3, text_model_name=str(tiny_clip_path),
                       text_channels=32, with_data_preprocessor=False)
    model = build_model(cfg)
    model.init_weights()
    model.train()
    images = torch.rand(2, 3, 64, 64)
    batch = {"bboxes_labels": torch.tensor([[0, 1, 8.0, 8, 40, 40], [1, 0, 20, 10, 60, 50]]),
             "img_metas": [dict(batch_input_shape=(64, 64))] * 2, "texts": BATCHES[0]}
    calls = count_calls(model.backbone.text_model.model)
    losses = [sum(model.loss(images, batch).values()) for _ in range(2)]
    assert all(torch.isfinite(loss) for loss in losses)
    assert len(calls) == 1  # the frozen tower ran once for both steps
    assert model.backbone.text_model.cache.encoded == 5
