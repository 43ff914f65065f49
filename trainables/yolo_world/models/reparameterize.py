"""Reparameterized fine-tuning: bake a fixed class list into the neck and head weights.

With N class embeddings E (N x D, L2-normalised), as the official tool does:
- head, per level: contrast ``conv.weight = E' * exp(logit_scale)`` (N x D x 1 x 1)
  and ``conv.bias = bias`` repeated N times, where E' is E (through ``text_proj``
  when the head has one); BatchNorm ``norm.*`` is kept;
- neck, per attention block: ``guide = E @ guide_fc.weight.T + guide_fc.bias``, its
  columns split into the block's heads as ``guide_convs.{h}.weight``;
- every text-path key (text model, prompt embeddings, adapter) is dropped.
The result loads strictly into ``reparameterized_config(cfg, N)`` and predicts the
same as the plain model given those texts, with no text encoder at all.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .build import build_model
from .detectors import SimpleYOLOWorldDetector, YOLOWorldDetector
from .strategies import reparameterized_config

_CONTRAST = re.compile(r"^(.*cls_contrasts\.\d+\.)logit_scale$")
_GUIDE_FC = re.compile(r"^(.*attn_block\.)guide_fc\.weight$")
_TEXT_PATH = ("backbone.text_model.", "embeddings", "adapter.", "bbox_head.head_module.text_proj.")


def reparameterize_state_dict(state_dict: Mapping[str, Tensor],
                              embeddings: Tensor) -> dict[str, Tensor]:
    """A plain v2 state dict with ``embeddings`` (N x D) baked in (see module docstring)."""
    if any(key.startswith("neck.text_enhancer.") for key in state_dict):
        raise ValueError("reparameterize: the dual VL-PAN (YOLO-World v1) updates the class texts from "
                         "each image, so they cannot be baked into the weights; only v2 models can")
    texts = F.normalize(embeddings.detach().float(), dim=-1)
    head_texts = texts
    if "bbox_head.head_module.text_proj.weight" in state_dict:
        head_texts = F.linear(texts, state_dict["bbox_head.head_module.text_proj.weight"],
                              state_dict["bbox_head.head_module.text_proj.bias"])
        head_texts = F.normalize(head_texts, dim=-1)
    out = {k: v for k, v in state_dict.items() if not k.startswith(_TEXT_PATH)}
    for key in list(out):
        if contrast := _CONTRAST.match(key):
            prefix = contrast.group(1)
            if prefix + "norm.weight" not in out:
                raise ValueError(
                    f"reparameterize: {prefix[:-1]} is the L2 contrastive head "
                    f"(use_bn_head=False); only the BN head (use_bn_head=True, all v2 "
                    f"configs) can be reparameterized into a 1x1 conv")
            logit_scale, bias = out.pop(key), out.pop(prefix + "bias")
            out[prefix + "conv.weight"] = (head_texts * logit_scale.exp())[:, :, None, None]
            out[prefix + "conv.bias"] = bias.expand(len(texts)).clone()
        elif guide_fc := _GUIDE_FC.match(key):
            prefix = guide_fc.group(1)
            guide = F.linear(texts, out.pop(key), out.pop(prefix + "guide_fc.bias"))
            num_heads = out[prefix + "bias"].numel()
            for h, part in enumerate(guide.chunk(num_heads, dim=1)):
                out[f"{prefix}guide_convs.{h}.weight"] = part[:, :, None, None].contiguous()
    return out


def class_embeddings(model: nn.Module, texts: Sequence[str] | None = None) -> Tensor:
    """N x D class embeddings as the model itself would compute them for ``texts``."""
    if isinstance(model, SimpleYOLOWorldDetector) and not model.reparameterized:
        if texts is not None:
            raise ValueError("reparameterize: a prompt-tuning model's classes are its learned "
                             "prompts; pass no texts")
        with torch.no_grad():
            return model.prompt_features()
    if isinstance(model, YOLOWorldDetector) and not isinstance(model, SimpleYOLOWorldDetector):
        if texts is None:
            raise ValueError("reparameterize: give the class texts to bake in")
        with torch.no_grad():
            return model.backbone.forward_text([list(texts)])[0]
    raise ValueError(f"reparameterize: {type(model).__name__} has no text path to bake in "
                     f"(already reparameterized?)")


def reparameterize_detector(model: nn.Module, cfg: dict[str, Any],
                            texts: Sequence[str] | None = None,
                            embeddings: Tensor | None = None) -> SimpleYOLOWorldDetector:
    """A SimpleYOLOWorldDetector with no text path, equivalent to ``model`` on these classes.

    ``cfg`` is the config ``model`` was built from. The classes are ``embeddings``
    (N x D), else ``texts`` encoded by the model's text backbone, else (prompt
    tuning) the model's own prompts.
    """
    if embeddings is None:
        embeddings = class_embeddings(model, texts)
    rep = build_model(reparameterized_config(cfg, num_classes=len(embeddings)))
    rep.load_state_dict(reparameterize_state_dict(model.state_dict(), embeddings), strict=True)
    return rep.train(model.training)
