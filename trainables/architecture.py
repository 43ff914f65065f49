"""What decides a trial's inference cost, and the stable key that names it.

Speed is a property of the deployed architecture on a device, not of how it was trained: two
trials that differ only in lr, loss or freezing run the same network at the same speed. Every
`TrialParams` field is declared here, once, as inference-relevant or training-only; the speed
lane times each architecture key once, and the impact matrix credits speed only to the
inference-relevant parameters. Plain Python (no torch): the service imports it to read results.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from trainables.params import TrialParams

INFERENCE_FIELDS = frozenset({
    "size", "version", "strategy", "use_bn_head", "embed_dims", "neck_embed_channels", "neck_num_heads",
    "use_depthwise", "expand_ratio", "text_encoder", "image_size",
})
"""Fields that change the deployed network. `strategy` counts by its deployed form (text path or
reparameterized), `text_encoder` by its embedding width (its features are computed once per class
list at deployment, never per image)."""

TRAINING_ONLY_FIELDS = frozenset({
    "freeze_all", "frozen_stages", "use_mlp_adapter", "prompt_templates", "synonyms", "neg_texts",
    "repeat_factor_thr", "general_mix", "lr", "weight_decay", "batch_size", "epochs",
    "warmup_epochs", "warmup_min_iters", "warmup_max_fraction", "lr_schedule", "cls_loss", "focal_gamma", "focal_alpha",
    "mosaic_prob", "mixup_prob", "close_mosaic_epochs", "load_from", "amp", "seed",
})
"""Fields that change the weights, never the network's shape. `use_mlp_adapter` only transforms
the class prompts, which a deployment computes once (as it encodes the templated texts once);
`amp` is training precision (the lane's precision is its own protocol setting)."""

KEY_LENGTH = 12


def undeclared_fields() -> set[str]:
    """TrialParams fields declared neither way (a new field must be put in one of the sets)."""
    return {f.name for f in fields(TrialParams)} - INFERENCE_FIELDS - TRAINING_ONLY_FIELDS


def is_inference_relevant(name: str) -> bool:
    return name in INFERENCE_FIELDS


def deployed_form(strategy: str) -> str:
    """How a strategy's model is deployed: with its text path (class features precomputed) or
    reparameterized (classes baked into the weights, no text path)."""
    return "reparameterized" if strategy == "reparameterized" else "text"


def inference_signature(params: TrialParams, *, num_classes: int, text_width: int) -> dict[str, Any]:
    """The inference-relevant values of a trial, resolved (defaults made explicit where two
    spellings would name the same network)."""
    values = {name: getattr(params, name) for name in sorted(INFERENCE_FIELDS)}
    values["strategy"] = deployed_form(params.strategy)
    values.pop("text_encoder")
    values["text_width"] = text_width
    values["embed_dims"] = params.embed_dims or text_width
    values["use_bn_head"] = params.bn_head
    values["num_classes"] = num_classes
    for name in ("neck_embed_channels", "neck_num_heads"):
        values[name] = None if values[name] is None else list(values[name])
    return values


def architecture_key(signature: Mapping[str, Any], environment: Mapping[str, Any]) -> str:
    """A short stable hash of the architecture and where it is timed (device, threads, backend,
    precision, library versions): equal keys are timed once."""
    text = json.dumps({"architecture": dict(signature), "environment": dict(environment)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_LENGTH]
