"""The architecture key: trials that differ only in how they train share it; any change to the
deployed network changes it."""
from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import fields

import pytest

from tests.project import ROOT
from trainables.architecture import (
    INFERENCE_FIELDS,
    TRAINING_ONLY_FIELDS,
    architecture_key,
    inference_signature,
    undeclared_fields,
)
from trainables.params import TrialParams

ENVIRONMENT = {"device": "some cpu", "threads": 1, "backend": "pytorch", "precision": "fp32"}


def key(params: TrialParams, *, num_classes: int = 6, text_width: int = 32, **environment: object) -> str:
    signature = inference_signature(params, num_classes=num_classes, text_width=text_width)
    return architecture_key(signature, ENVIRONMENT | environment)


BASE = TrialParams(size="tiny", image_size=160, text_encoder="some/encoder", close_mosaic_epochs=1)

TRAINING_CHANGES = {
    "freeze_all": True, "frozen_stages": 2, "lr": 1e-3, "weight_decay": 0.01, "batch_size": 4, "epochs": 7,
    "warmup_epochs": 1.0, "warmup_min_iters": 5, "warmup_max_fraction": 0.5, "lr_schedule": "cosine",
    "cls_loss": "focal",
    "focal_gamma": 1.5, "focal_alpha": 0.5, "mosaic_prob": 0.5, "mixup_prob": 0.2, "close_mosaic_epochs": 2,
    "amp": False, "seed": 3, "prompt_templates": "ensemble", "synonyms": False, "neg_texts": 2,
    "repeat_factor_thr": 0.1, "general_mix": 0.25,
}
"""One new value per training-only field (checked to cover them all below, bar the three that
need a file or a strategy: load_from, use_mlp_adapter, tested apart)."""

INFERENCE_CHANGES = {
    "size": "s", "version": "v1", "strategy": "reparameterized", "use_bn_head": False, "embed_dims": 64,
    "neck_embed_channels": (64, 128, 256), "neck_num_heads": (2, 4, 8), "use_depthwise": True,
    "expand_ratio": 0.25, "image_size": 192,
}


def test_every_trial_parameter_is_declared_exactly_once() -> None:
    assert undeclared_fields() == set(), "declare new TrialParams fields in trainables/architecture.py"
    assert not INFERENCE_FIELDS & TRAINING_ONLY_FIELDS
    assert INFERENCE_FIELDS | TRAINING_ONLY_FIELDS == {f.name for f in fields(TrialParams)}


def test_the_tables_cover_every_declared_field() -> None:
    assert set(TRAINING_CHANGES) == TRAINING_ONLY_FIELDS - {"load_from", "use_mlp_adapter"}
    assert set(INFERENCE_CHANGES) == INFERENCE_FIELDS - {"text_encoder"}


@pytest.mark.parametrize("name", sorted(TRAINING_CHANGES))
def test_a_training_only_change_keeps_the_key(name: str) -> None:
    values = BASE.as_dict() | {name: TRAINING_CHANGES[name]}
    if name in ("focal_gamma", "focal_alpha"):
        values["cls_loss"] = "focal"
    assert key(TrialParams.from_dict(values)) == key(BASE)


def test_the_version_default_head_is_the_explicit_one() -> None:
    """use_bn_head left out means the version's own head: the same network as spelling it out."""
    assert key(BASE) == key(TrialParams.from_dict(BASE.as_dict() | {"use_bn_head": True}))
    v1 = TrialParams.from_dict(BASE.as_dict() | {"version": "v1"})
    assert key(v1) == key(TrialParams.from_dict(v1.as_dict() | {"use_bn_head": False})) != key(BASE)


def test_loading_weights_and_an_mlp_adapter_keep_the_key(tmp_path) -> None:
    checkpoint = tmp_path / "start.pth"
    checkpoint.write_bytes(b"weights")
    assert key(TrialParams.from_dict(BASE.as_dict() | {"load_from": str(checkpoint)})) == key(BASE)
    prompt = TrialParams.from_dict(BASE.as_dict() | {"strategy": "prompt", "load_from": str(checkpoint)})
    adapter = TrialParams.from_dict(prompt.as_dict() | {"use_mlp_adapter": True})
    assert key(prompt) == key(adapter) == key(BASE), "prompt tuning deploys the same text-path network"


@pytest.mark.parametrize("name", sorted(INFERENCE_CHANGES))
def test_an_inference_change_changes_the_key(name: str) -> None:
    assert key(TrialParams.from_dict(BASE.as_dict() | {name: INFERENCE_CHANGES[name]})) != key(BASE)


def test_classes_text_width_and_where_it_is_timed_change_the_key() -> None:
    assert key(BASE, num_classes=7) != key(BASE)
    assert key(BASE, text_width=64) != key(BASE)
    assert key(BASE, threads=2) != key(BASE)
    assert key(BASE, device="another cpu") != key(BASE)


def test_the_default_head_width_is_the_text_width() -> None:
    explicit = TrialParams.from_dict(BASE.as_dict() | {"embed_dims": 32})
    assert key(explicit, text_width=32) == key(BASE, text_width=32)


def test_the_key_is_stable_across_processes() -> None:
    """A hash of sorted JSON, not Python's per-process salted hash: later searches reuse it."""
    code = ("import sys; sys.path.insert(0, '.'); from tests.trainables.test_trainables_architecture import BASE, key; "
            "print(key(BASE))")
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           cwd=ROOT, env=os.environ | {"PYTHONHASHSEED": "123"})
    assert other.stdout.strip() == key(BASE)
    assert len(key(BASE)) == 12
