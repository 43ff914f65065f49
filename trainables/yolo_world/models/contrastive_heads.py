"""Region-text contrastive heads: class logits from region embeddings and text embeddings.

The plain heads score every region embedding against every text embedding of its
image; the Rep head has the (scaled) text embeddings baked into a 1x1 conv, so it
needs no text at run time.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from mmcv.cnn import build_norm_layer
from mmdet.utils import ConfigType, OptMultiConfig
from mmengine.model import BaseModule
from mmyolo.registry import MODELS
from torch import Tensor, nn

DEFAULT_NORM = dict(type="BN", momentum=0.03, eps=0.001)


def _region_text_scores(x: Tensor, w: Tensor, use_einsum: bool) -> Tensor:
    """B x C x H x W regions against B x N x C texts -> B x N x H x W scores."""
    if use_einsum:
        return torch.einsum("bchw,bkc->bkhw", x, w)
    b, c, h, w_ = x.shape
    return torch.bmm(w, x.reshape(b, c, h * w_)).reshape(b, -1, h, w_)


@MODELS.register_module()
class ContrastiveHead(BaseModule):
    """YOLO-World v1 head: cosine similarity of L2-normalised regions and texts."""

    def __init__(self, embed_dims: int, init_cfg: OptMultiConfig = None,
                 use_einsum: bool = True) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        self.use_einsum = use_einsum
        self.bias = nn.Parameter(torch.zeros([]))
        self.logit_scale = nn.Parameter(torch.ones([]) * math.log(1 / 0.07))

    def normalize_regions(self, x: Tensor) -> Tensor:
        """Region embeddings as the similarity sees them (L2 over channels here)."""
        return F.normalize(x, dim=1, p=2)

    def forward(self, x: Tensor, w: Tensor) -> Tensor:
        """Class logits B x N x H x W for regions ``x`` and texts ``w`` (B x N x C)."""
        x = self.normalize_regions(x)
        w = F.normalize(w, dim=-1, p=2)
        return _region_text_scores(x, w, self.use_einsum) * self.logit_scale.exp() + self.bias

    def init_bias(self, value: float) -> None:
        """Set the logit bias (the head module uses a class-frequency prior)."""
        nn.init.constant_(self.bias, value)


@MODELS.register_module()
class BNContrastiveHead(ContrastiveHead):
    """YOLO-World v2 head: BatchNorm on regions instead of L2, which trains faster."""

    def __init__(self, embed_dims: int, norm_cfg: ConfigType = DEFAULT_NORM,
                 init_cfg: OptMultiConfig = None, use_einsum: bool = True) -> None:
        super().__init__(embed_dims, init_cfg=init_cfg, use_einsum=use_einsum)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        nn.init.constant_(self.logit_scale, -1.0)

    def normalize_regions(self, x: Tensor) -> Tensor:
        """Region embeddings through BatchNorm."""
        return self.norm(x)


@MODELS.register_module()
class RepBNContrastiveHead(BaseModule):
    """Reparameterized v2 head: BatchNorm then a 1x1 conv holding the class embeddings."""

    def __init__(self, embed_dims: int, num_guide_embeds: int,
                 norm_cfg: ConfigType = DEFAULT_NORM, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.conv = nn.Conv2d(embed_dims, num_guide_embeds, kernel_size=1)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits B x N x H x W, no text input."""
        return self.conv(self.norm(x))

    def init_bias(self, value: float) -> None:
        """Set every class's logit bias."""
        nn.init.constant_(self.conv.bias, value)
