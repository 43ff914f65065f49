"""Fine-tuning strategies on a tiny YOLO-World with a local tiny CLIP: freezing, prompt
tuning, reparameterization (same detections, no text path), zero-shot texts, and loading
official weights into models that differ from them (embed_dims, num_classes)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from mmdet.structures import DetDataSample
from torch import nn

from tests.detections import assert_same_detections
from tests.project import OFFICIAL_FIXTURES
from trainables.yolo_world.models import (
    CheckpointMismatchError,
    SimpleYOLOWorldDetector,
    build_model,
    export_text_embeddings,
    finetune_config,
    load_checkpoint,
    model_config,
    prompt_tuning_config,
    reparameterize_detector,
)
from trainables.yolo_world.models.checkpoints import StartCheckpointError, require_start_weights

CLASSES = ["scratch", "dent", "rust"]
SIZE = 64
FIXTURES = OFFICIAL_FIXTURES


def tiny_config(clip: Path, **kwargs: Any) -> dict[str, Any]:
    return model_config("tiny", num_classes=len(CLASSES), text_model_name=str(clip),
                        text_channels=32, with_data_preprocessor=False, **kwargs)


def build(cfg: dict[str, Any], seed: int = 0) -> nn.Module:
    """A built, initialised model whose weights and BN statistics are all perturbed, so
    that every path (biases, BN, attention) carries signal as in the official vectors."""
    torch.manual_seed(seed)
    model = build_model(cfg)
    model.init_weights()
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if tensor.is_floating_point() and "text_model" not in name:
                tensor.add_(torch.randn_like(tensor) * 0.05)
                if name.endswith("running_var"):
                    tensor.abs_().add_(0.5)
    return model


def batch(texts: list[str] = CLASSES) -> dict[str, Any]:
    return {"bboxes_labels": torch.tensor([[0, 1, 8.0, 8, 40, 40], [1, 0, 20, 10, 60, 50]]),
            "img_metas": [dict(batch_input_shape=(SIZE, SIZE))] * 2, "texts": [texts] * 2}


def samples(texts: list[str] | None) -> list[DetDataSample]:
    meta = dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE), scale_factor=(1.0, 1.0),
                batch_input_shape=(SIZE, SIZE), pad_shape=(SIZE, SIZE))
    return [DetDataSample(metainfo=dict(meta, **({"texts": texts} if texts else {})))
            for _ in range(2)]


def train_steps(model: nn.Module, data: dict[str, Any], steps: int = 1) -> list[float]:
    images = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(params, lr=0.01)
    model.train()
    losses = []
    for _ in range(steps):
        loss = sum(model.loss(images, data).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def changed(before: dict[str, torch.Tensor], model: nn.Module) -> set[str]:
    return {k for k, v in model.state_dict().items() if not torch.equal(before[k], v)}


def test_finetune_freezes_stages_neck_and_head(tiny_clip_path: Path) -> None:
    cfg = finetune_config(tiny_config(tiny_clip_path), frozen_stages=2, freeze_neck=True)
    model = build(cfg)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_steps(model, batch())
    updated = changed(before, model)
    frozen = ("backbone.image_model.stem.", "backbone.image_model.stage1.",
              "backbone.image_model.stage2.", "neck.", "backbone.text_model.")
    assert not {k for k in updated if k.startswith(frozen)}  # weights and BN statistics
    assert any(k.startswith("backbone.image_model.stage3.") for k in updated)
    assert any(k.startswith("bbox_head.") for k in updated)
    assert not model.neck.top_down_layers[0].main_conv.bn.training


def test_prompt_tuning_learns_only_the_prompts(tiny_clip_path: Path, tmp_path: Path) -> None:
    base = tiny_config(tiny_clip_path)
    clip_model = build_model(base).backbone.text_model
    export_text_embeddings(clip_model, [[c] for c in CLASSES], tmp_path / "e.npy")
    cfg = prompt_tuning_config(base, embedding_path=str(tmp_path / "e.npy"), use_mlp_adapter=True)
    model = build(cfg)
    assert isinstance(model, SimpleYOLOWorldDetector) and model.backbone.text_model is None
    before = {k: v.clone() for k, v in model.state_dict().items()}
    train_steps(model, batch(), steps=2)
    updated = changed(before, model)
    assert "embeddings" in updated and any(k.startswith("adapter.") for k in updated)
    assert all(k == "embeddings" or k.startswith("adapter.") for k in updated)
    wrong = dict(cfg, num_prompts=5)
    with pytest.raises(ValueError, match=r"\(3, 32\).*num_prompts=5"):
        build_model(wrong)


def test_prompt_embeddings_start_from_the_file(tiny_clip_path: Path, tmp_path: Path) -> None:
    base = tiny_config(tiny_clip_path)
    clip_model = build_model(base).backbone.text_model
    embeddings = export_text_embeddings(clip_model, [[c] for c in CLASSES], tmp_path / "e.npy")
    model = build_model(prompt_tuning_config(base, embedding_path=str(tmp_path / "e.npy")))
    torch.testing.assert_close(model.embeddings.detach(), torch.from_numpy(embeddings))
    torch.testing.assert_close(model.prompt_features(), clip_model.encode(CLASSES))


@pytest.mark.parametrize("variant", ["plain", "projected_embed_dims", "prompt_adapter"])
def test_reparameterized_detector_gives_the_same_detections(tiny_clip_path: Path,
                                                            variant: str) -> None:
    cfg = tiny_config(tiny_clip_path, embed_dims=16 if variant == "projected_embed_dims" else None)
    if variant == "prompt_adapter":
        cfg = prompt_tuning_config(cfg, use_mlp_adapter=True)
    model = build(cfg).eval()
    texts = None if variant == "prompt_adapter" else CLASSES
    rep = reparameterize_detector(model, cfg, texts=texts).eval()
    assert not any("text" in k or "guide_fc" in k or "embeddings" in k for k in rep.state_dict())
    images = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert_same_detections(model.predict(images, samples(texts)),
                               rep.predict(images, samples(None)))


def test_l2_contrastive_head_cannot_be_reparameterized(tiny_clip_path: Path) -> None:
    cfg = tiny_config(tiny_clip_path, use_bn_head=False)
    with pytest.raises(ValueError, match="use_bn_head=True"):
        reparameterize_detector(build_model(cfg), cfg, texts=CLASSES)


def test_zero_shot_texts_at_test_time(tiny_clip_path: Path) -> None:
    model = build(tiny_config(tiny_clip_path)).eval()
    images = torch.rand(2, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(3))
    vocabulary = ["hole", "stain", "crack", "nodule", "cyst"]
    with torch.no_grad():
        results = model.predict(images, samples(vocabulary))
        assert model.bbox_head.num_classes == len(vocabulary)
        assert all(int(r.pred_instances.labels.max()) < len(vocabulary) for r in results)
        with pytest.raises(ValueError, match="reparameterize"):
            model.predict(images, samples(None))
        model.reparameterize(vocabulary)  # official API: a fixed vocabulary, encoded once
        assert_same_detections(results, model.predict(images, samples(None)))


def test_embed_dims_other_than_the_text_width_loads_the_rest_of_official_weights() -> None:
    official = torch.load(FIXTURES / "tiny_v2_vectors.pt")["state_dict"]
    model = build_model(model_config("tiny", num_classes=6, embed_dims=256,
                                     with_text_model=False, with_data_preprocessor=False))
    with pytest.raises(CheckpointMismatchError, match=r"embed_dims \(256\)"):
        load_checkpoint(model, {"state_dict": official})
    report = load_checkpoint(model, {"state_dict": official}, strict=False)
    mismatched = {k for k, _, _ in report.mismatched}
    assert mismatched == {f"bbox_head.head_module.{part}"
                          for level in range(3)
                          for part in (f"cls_preds.{level}.2.weight", f"cls_preds.{level}.2.bias",
                                       *(f"cls_contrasts.{level}.norm.{p}" for p in
                                         ("weight", "bias", "running_mean", "running_var")))}
    assert set(report.missing) == {"bbox_head.head_module.text_proj.weight",
                                   "bbox_head.head_module.text_proj.bias"}
    state = model.state_dict()
    assert all(torch.equal(state[k], official[k]) for k in report.loaded)
    assert len(report.loaded) == len(official) - len(mismatched)
    core_loaded, core = report.class_independent
    assert core_loaded == core > 300, "the image backbone, neck and box regression all loaded"
    require_start_weights(report)  # a fine start: the differences are the expected ones, named so
    assert "expected: another embed_dims" in str(report)
    assert str(report).startswith(f"checkpoint [state_dict]: {len(report.loaded)} of {len(state)} model tensors")


def test_a_checkpoint_of_another_size_is_refused_as_a_start() -> None:
    official = torch.load(FIXTURES / "tiny_v2_vectors.pt")["state_dict"]
    model = build_model(model_config("s", num_classes=6, with_text_model=False, with_data_preprocessor=False))
    report = load_checkpoint(model, {"state_dict": official}, strict=False)
    with pytest.raises(StartCheckpointError, match=r"only \d+ of \d+ class-independent weights(.|\n)*other shape"):
        require_start_weights(report)


def test_num_classes_above_head_width_is_reported() -> None:
    official = torch.load(FIXTURES / "tiny_v2_vectors.pt")["state_dict"]
    model = build_model(model_config("tiny", num_classes=80, with_text_model=False,
                                     with_data_preprocessor=False))
    with pytest.raises(CheckpointMismatchError,
                       match=r"max\(64, 80\)(.|\n)*num_classes <= 64"):
        load_checkpoint(model, {"state_dict": official})


def test_text_count_must_match_num_train_classes(tiny_clip_path: Path) -> None:
    model = build(tiny_config(tiny_clip_path))
    with pytest.raises(ValueError, match="4 class texts per image but num_train_classes=3"):
        train_steps(model, batch(CLASSES + [""]))


def test_params_m_counts_the_deployed_weights_for_every_strategy(tiny_clip_path: Path) -> None:
    """The same definition for each strategy: the network a deployment runs, without the text tower
    (class features are fixed first), so an MLP adapter (folded into the prompts) adds nothing."""
    from trainables.speed import deployed_params_m, deployment_copy

    base = tiny_config(tiny_clip_path)
    text_path = build(base)
    tower = sum(p.numel() for p in text_path.backbone.text_model.parameters())
    assert tower > 0
    normal = deployed_params_m(deployment_copy(text_path, CLASSES))
    assert normal * 1e6 < sum(p.numel() for p in text_path.parameters()) - tower + 1, "no text tower"
    prompt = deployed_params_m(deployment_copy(build(prompt_tuning_config(base))))
    adapter = deployed_params_m(deployment_copy(build(prompt_tuning_config(base, use_mlp_adapter=True))))
    reparameterized = deployed_params_m(deployment_copy(reparameterize_detector(text_path, base, texts=CLASSES)))
    assert prompt == adapter, "the adapter is folded into the fixed prompts"
    assert round(abs(prompt - normal) * 1e6) == len(CLASSES) * 32, "the text path's network, with its prompts"
    assert 0 < normal - reparameterized < 0.01 * normal, "the text-guided layers baked into fixed weights"


def test_a_bn_head_checkpoint_leaves_an_l2_heads_scale_alone() -> None:
    """A BatchNorm head's small logit scale (exp(-1)) would flatten an L2 head's cosine scores."""
    official = torch.load(FIXTURES / "tiny_v2_vectors.pt")["state_dict"]  # a v2 (BN head) checkpoint
    model = build_model(model_config("tiny", num_classes=6, use_bn_head=False, with_text_model=False,
                                     with_data_preprocessor=False))
    before = model.state_dict()
    report = load_checkpoint(model, {"state_dict": official}, strict=False)
    after = model.state_dict()
    scales = [k for k in after if k.endswith("logit_scale")]
    assert scales and all(torch.equal(after[k], before[k]) for k in scales)
    assert all(k in report.skipped for k in scales)
    assert "expected: another contrastive head" in str(report)
    require_start_weights(report)
