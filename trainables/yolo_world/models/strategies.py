"""Fine-tuning strategies as config transforms (dict in, new dict out, official names).

- fine-tuning: ``finetune_config`` (freeze the image stages, the neck, the head);
- prompt tuning: ``prompt_tuning_config`` (learned class prompts, frozen detector);
- reparameterized fine-tuning: ``reparameterized_config`` (no text path; load a
  state dict made by reparameterize.reparameterize_state_dict);
- zero-shot evaluation needs no change: the texts come with the test data.
"""
from __future__ import annotations

import copy
from typing import Any

_PLAIN_PREPROCESSOR = "YOLOv5DetDataPreprocessor"


def finetune_config(cfg: dict[str, Any], *, frozen_stages: int = -1, freeze_neck: bool = False,
                    freeze_head: bool = False) -> dict[str, Any]:
    """Normal fine-tuning; ``frozen_stages=k`` freezes the image stem and stages 1..k."""
    out = copy.deepcopy(cfg)
    out["backbone"]["frozen_stages"] = frozen_stages
    out["neck"]["freeze_all"] = freeze_neck
    out["bbox_head"]["head_module"]["freeze_all"] = freeze_head
    return out


def prompt_tuning_config(cfg: dict[str, Any], *, embedding_path: str = "",
                         use_mlp_adapter: bool = False, freeze_prompt: bool = False,
                         frozen_stages: int = 4) -> dict[str, Any]:
    """SimpleYOLOWorldDetector learning one prompt per class; the detector stays frozen.

    ``embedding_path`` (N x D .npy, e.g. from export_text_embeddings) starts the
    prompts at the class texts' embeddings; without it they start random.
    """
    out = finetune_config(cfg, frozen_stages=frozen_stages, freeze_neck=True, freeze_head=True)
    head = out["bbox_head"]["head_module"]
    out.update(type="SimpleYOLOWorldDetector", embedding_path=embedding_path,
               prompt_dim=out["neck"]["guide_channels"], num_prompts=head["num_classes"],
               freeze_prompt=freeze_prompt, use_mlp_adapter=use_mlp_adapter)
    out["backbone"].update(text_model=None, with_text_model=False)
    if "data_preprocessor" in out:
        out["data_preprocessor"]["type"] = _PLAIN_PREPROCESSOR
    return out


def reparameterized_config(cfg: dict[str, Any], num_classes: int) -> dict[str, Any]:
    """The text-free model for ``num_classes`` baked-in classes (official Rep layout)."""
    if not cfg["bbox_head"]["head_module"].get("use_bn_head", False):
        raise ValueError("reparameterized_config: only the BN contrastive head "
                         "(use_bn_head=True) can be reparameterized")
    if cfg["neck"]["type"] == "YOLOWorldDualPAFPN":
        raise ValueError("reparameterized_config: the dual VL-PAN (v1) updates the texts from "
                         "each image, so they cannot be baked into weights; use version v2")
    out = copy.deepcopy(cfg)
    out.update(type="SimpleYOLOWorldDetector", reparameterized=True,
               num_train_classes=num_classes, num_test_classes=num_classes)
    for key in ("embedding_path", "prompt_dim", "num_prompts", "freeze_prompt",
                "use_mlp_adapter"):
        out.pop(key, None)
    out["backbone"].update(text_model=None, with_text_model=False)
    neck = out["neck"]
    neck["guide_channels"] = num_classes
    neck["block_cfg"] = dict(neck["block_cfg"], type="RepConvMaxSigmoidCSPLayerWithTwoConv",
                             guide_channels=num_classes)
    head = out["bbox_head"]["head_module"]
    for key in ("use_bn_head", "use_einsum", "text_embed_dims"):
        head.pop(key, None)
    head.update(type="RepYOLOWorldHeadModule", num_classes=num_classes, num_guide=num_classes)
    out["bbox_head"]["type"] = "YOLOv8Head"
    out["train_cfg"]["assigner"]["num_classes"] = num_classes
    if "data_preprocessor" in out:
        out["data_preprocessor"]["type"] = _PLAIN_PREPROCESSOR
    return out
