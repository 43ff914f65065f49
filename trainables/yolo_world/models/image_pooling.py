"""ImagePoolingAttentionModule: the v1 dual VL-PAN's image-to-text enhancer.

Each neck level is projected to ``embed_channels`` and max-pooled to a pool_size x
pool_size grid; the texts attend (multi-head) over those few image patches and the
result is added to the text features. The texts then carry what this image shows,
which the bottom-up path of YOLOWorldDualPAFPN uses.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmyolo.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class ImagePoolingAttentionModule(BaseModule):
    """Texts (queries) attend over pooled multi-level image patches (keys and values)."""

    def __init__(self, image_channels: Sequence[int], text_channels: int, embed_channels: int,
                 with_scale: bool = False, num_feats: int = 3, num_heads: int = 8,
                 pool_size: int = 3, use_einsum: bool = True) -> None:
        super().__init__()
        if embed_channels % num_heads:
            raise ValueError(f"ImagePoolingAttentionModule: embed_channels={embed_channels} is "
                             f"not divisible by num_heads={num_heads}")
        if len(image_channels) != num_feats:
            raise ValueError(f"ImagePoolingAttentionModule: {len(image_channels)} image_channels "
                             f"for num_feats={num_feats} levels")
        self.num_feats = num_feats
        self.num_heads = num_heads
        self.head_channels = embed_channels // num_heads
        self.embed_channels = embed_channels
        self.pool_size = pool_size
        self.use_einsum = use_einsum
        self.query = nn.Sequential(nn.LayerNorm(text_channels),
                                   nn.Linear(text_channels, embed_channels))
        self.key = nn.Sequential(nn.LayerNorm(embed_channels),
                                 nn.Linear(embed_channels, embed_channels))
        self.value = nn.Sequential(nn.LayerNorm(embed_channels),
                                   nn.Linear(embed_channels, embed_channels))
        self.proj = nn.Linear(embed_channels, text_channels)
        self.scale = nn.Parameter(torch.tensor([0.0])) if with_scale else 1.0
        self.projections = nn.ModuleList(
            ConvModule(channels, embed_channels, 1, act_cfg=None) for channels in image_channels)
        self.image_pools = nn.ModuleList(
            nn.AdaptiveMaxPool2d((pool_size, pool_size)) for _ in range(num_feats))

    def forward(self, text_features: Tensor, image_features: Sequence[Tensor]) -> Tensor:
        """``text_features`` B x N x text_channels, updated by the image levels."""
        if len(image_features) != self.num_feats:
            raise ValueError(f"ImagePoolingAttentionModule: got {len(image_features)} image "
                             f"levels, built for {self.num_feats}")
        b = text_features.shape[0]
        patches = torch.cat([pool(project(feat)).flatten(2) for feat, project, pool
                             in zip(image_features, self.projections, self.image_pools)], dim=-1)
        patches = patches.transpose(1, 2)  # B x (levels * pool_size^2) x embed
        q = self.query(text_features).reshape(b, -1, self.num_heads, self.head_channels)
        k = self.key(patches).reshape(b, -1, self.num_heads, self.head_channels)
        v = self.value(patches).reshape(b, -1, self.num_heads, self.head_channels)
        if self.use_einsum:
            weights = torch.einsum("bnmc,bkmc->bmnk", q, k)
        else:
            weights = torch.matmul(q.transpose(1, 2), k.permute(0, 2, 3, 1))
        weights = (weights / self.head_channels**0.5).softmax(dim=-1)
        if self.use_einsum:
            attended = torch.einsum("bmnk,bkmc->bnmc", weights, v)
        else:
            attended = torch.matmul(weights, v.transpose(1, 2)).transpose(1, 2)
        update = self.proj(attended.reshape(b, -1, self.embed_channels))
        return update * self.scale + text_features
