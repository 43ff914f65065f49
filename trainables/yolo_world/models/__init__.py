"""YOLO-World v2 modules, registered into mmyolo's registries under the official names."""
from __future__ import annotations

from .attention import MaxSigmoidAttnBlock, RepConvMaxSigmoidAttnBlock
from .backbone import MultiModalYOLOBackbone
from .contrastive_heads import BNContrastiveHead, ContrastiveHead, RepBNContrastiveHead
from .csp_layers import MaxSigmoidCSPLayerWithTwoConv, RepConvMaxSigmoidCSPLayerWithTwoConv
from .detectors import SimpleYOLOWorldDetector, YOLOWorldDetector
from .head import YOLOWorldHead
from .head_module import RepYOLOWorldHeadModule, YOLOWorldHeadModule
from .losses import SoftTargetFocalLoss
from .neck import YOLOWorldPAFPN
from .text_cache import TextEmbeddingCache
from .text_encoders import (HuggingCLIPLanguageBackbone, PrecomputedLanguageBackbone,
                            export_text_embeddings)

__all__ = [
    "BNContrastiveHead", "ContrastiveHead", "HuggingCLIPLanguageBackbone",
    "MaxSigmoidAttnBlock", "MaxSigmoidCSPLayerWithTwoConv", "MultiModalYOLOBackbone",
    "PrecomputedLanguageBackbone", "RepBNContrastiveHead", "RepConvMaxSigmoidAttnBlock",
    "RepConvMaxSigmoidCSPLayerWithTwoConv", "RepYOLOWorldHeadModule", "SimpleYOLOWorldDetector",
    "SoftTargetFocalLoss", "TextEmbeddingCache", "YOLOWorldDetector", "YOLOWorldHead",
    "YOLOWorldHeadModule", "YOLOWorldPAFPN", "export_text_embeddings",
]
