"""YOLO-World v1 and v2 modules, registered into mmyolo's registries under the official names."""
from __future__ import annotations

from .attention import MaxSigmoidAttnBlock, RepConvMaxSigmoidAttnBlock, VanillaSigmoidBlock
from .backbone import MultiModalYOLOBackbone
from .build import ModelConfigError, build_model, check_model_config
from .checkpoints import CheckpointMismatchError, LoadReport, load_checkpoint, read_checkpoint
from .contrastive_heads import BNContrastiveHead, ContrastiveHead, RepBNContrastiveHead
from .csp_layers import (
    EfficientCSPLayerWithTwoConv,
    MaxSigmoidCSPLayerWithTwoConv,
    RepConvMaxSigmoidCSPLayerWithTwoConv,
)
from .detectors import SimpleYOLOWorldDetector, YOLOWorldDetector
from .head import YOLOWorldHead
from .head_module import RepYOLOWorldHeadModule, YOLOWorldHeadModule
from .image_pooling import ImagePoolingAttentionModule
from .losses import SoftTargetFocalLoss
from .neck import YOLOWorldDualPAFPN, YOLOWorldPAFPN
from .reparameterize import class_embeddings, reparameterize_detector, reparameterize_state_dict
from .sizes import SIZES, bce_loss_cls, focal_loss_cls, model_config
from .strategies import finetune_config, prompt_tuning_config, reparameterized_config
from .text_cache import TextEmbeddingCache
from .text_encoders import HuggingCLIPLanguageBackbone, PrecomputedLanguageBackbone, export_text_embeddings

__all__ = [
    "bce_loss_cls", "BNContrastiveHead", "build_model", "check_model_config",
    "CheckpointMismatchError", "class_embeddings", "ContrastiveHead", "EfficientCSPLayerWithTwoConv",
    "export_text_embeddings", "ImagePoolingAttentionModule",
    "finetune_config", "focal_loss_cls", "HuggingCLIPLanguageBackbone", "load_checkpoint",
    "LoadReport", "MaxSigmoidAttnBlock", "MaxSigmoidCSPLayerWithTwoConv", "model_config",
    "ModelConfigError", "MultiModalYOLOBackbone", "PrecomputedLanguageBackbone",
    "prompt_tuning_config", "read_checkpoint", "reparameterize_detector",
    "reparameterize_state_dict", "reparameterized_config", "RepBNContrastiveHead",
    "RepConvMaxSigmoidAttnBlock", "RepConvMaxSigmoidCSPLayerWithTwoConv", "RepYOLOWorldHeadModule",
    "SimpleYOLOWorldDetector", "SIZES", "SoftTargetFocalLoss", "TextEmbeddingCache",
    "VanillaSigmoidBlock", "YOLOWorldDetector", "YOLOWorldDualPAFPN", "YOLOWorldHead",
    "YOLOWorldHeadModule", "YOLOWorldPAFPN",
]
