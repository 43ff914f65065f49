"""Max-sigmoid text-guided attention: text embeddings reweight image features.

Per head and pixel, the pixel's embedding is compared with every text's guide
vector; the best match (max over texts) goes through a sigmoid and scales the
projected features of that head. The Rep block has the guide vectors baked into
per-head 1x1 convs, so it runs with no text input.
"""
from __future__ import annotations

import torch
from mmcv.cnn import ConvModule, DepthwiseSeparableConvModule
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from mmyolo.registry import MODELS
from torch import Tensor, nn

DEFAULT_NORM = dict(type="BN", momentum=0.03, eps=0.001)


class _MaxSigmoidAttnBase(BaseModule):
    """What both blocks share: optional embed conv, per-head bias and scale, projection."""

    def __init__(self, in_channels: int, out_channels: int, embed_channels: int,
                 kernel_size: int, padding: int, num_heads: int, use_depthwise: bool,
                 with_scale: bool, conv_cfg: OptConfigType, norm_cfg: ConfigType,
                 init_cfg: OptMultiConfig) -> None:
        super().__init__(init_cfg=init_cfg)
        for name, channels in (("embed_channels", embed_channels), ("out_channels", out_channels)):
            if channels % num_heads:
                raise ValueError(
                    f"{type(self).__name__}: {name}={channels} is not divisible by "
                    f"num_heads={num_heads}; choose num_heads dividing both "
                    f"embed_channels and out_channels")
        self.num_heads = num_heads
        self.head_channels = embed_channels // num_heads
        self.embed_conv = (
            ConvModule(in_channels, embed_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                       act_cfg=None)
            if embed_channels != in_channels else None)
        self.bias = nn.Parameter(torch.zeros(num_heads))
        self.scale = nn.Parameter(torch.ones(1, num_heads, 1, 1)) if with_scale else 1.0
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.project_conv = conv(in_channels, out_channels, kernel_size, stride=1,
                                 padding=padding, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=None)

    def pixel_embeddings(self, x: Tensor) -> Tensor:
        """Per-pixel embeddings that are matched against the texts."""
        return x if self.embed_conv is None else self.embed_conv(x)

    def apply_attention(self, x: Tensor, max_logits: Tensor) -> Tensor:
        """Scale each head of project_conv(x) by sigmoid(best text match + bias)."""
        b, _, h, w = x.shape
        weight = (max_logits + self.bias[None, :, None, None]).sigmoid() * self.scale
        out = self.project_conv(x).reshape(b, self.num_heads, -1, h, w)
        return (out * weight.unsqueeze(2)).reshape(b, -1, h, w)


@MODELS.register_module()
class MaxSigmoidAttnBlock(_MaxSigmoidAttnBase):
    """Text-guided attention: guide_fc maps text embeddings to per-head guides."""

    def __init__(self, in_channels: int, out_channels: int, guide_channels: int,
                 embed_channels: int, kernel_size: int = 3, padding: int = 1,
                 num_heads: int = 1, use_depthwise: bool = False, with_scale: bool = False,
                 conv_cfg: OptConfigType = None, norm_cfg: ConfigType = DEFAULT_NORM,
                 init_cfg: OptMultiConfig = None, use_einsum: bool = True) -> None:
        super().__init__(in_channels, out_channels, embed_channels, kernel_size, padding,
                         num_heads, use_depthwise, with_scale, conv_cfg, norm_cfg, init_cfg)
        self.use_einsum = use_einsum
        self.guide_fc = nn.Linear(guide_channels, embed_channels)

    def forward(self, x: Tensor, guide: Tensor) -> Tensor:
        """``x``: B x C x H x W image features; ``guide``: B x N x guide_channels texts."""
        b, _, h, w = x.shape
        guide = self.guide_fc(guide).reshape(b, -1, self.num_heads, self.head_channels)
        embed = self.pixel_embeddings(x).reshape(b, self.num_heads, self.head_channels, h, w)
        if self.use_einsum:
            logits = torch.einsum("bmchw,bnmc->bmhwn", embed, guide)
        else:
            pixels = embed.permute(0, 1, 3, 4, 2).reshape(b, self.num_heads, h * w, -1)
            logits = torch.matmul(pixels, guide.permute(0, 2, 3, 1))
            logits = logits.reshape(b, self.num_heads, h, w, -1)
        max_logits = logits.max(dim=-1).values / self.head_channels**0.5
        return self.apply_attention(x, max_logits)


@MODELS.register_module()
class RepConvMaxSigmoidAttnBlock(_MaxSigmoidAttnBase):
    """Reparameterized attention: guide_convs.{h} (1x1, head_channels -> N texts).

    ``use_einsum`` is accepted so that official configs build; this block has no einsum.
    """

    def __init__(self, in_channels: int, out_channels: int, embed_channels: int,
                 guide_channels: int, kernel_size: int = 3, padding: int = 1,
                 num_heads: int = 1, use_depthwise: bool = False, with_scale: bool = False,
                 conv_cfg: OptConfigType = None, norm_cfg: ConfigType = DEFAULT_NORM,
                 init_cfg: OptMultiConfig = None, use_einsum: bool = True) -> None:
        super().__init__(in_channels, out_channels, embed_channels, kernel_size, padding,
                         num_heads, use_depthwise, with_scale, conv_cfg, norm_cfg, init_cfg)
        # The official Rep block scales by the output (not embedding) head width.
        self.logit_divisor = (out_channels // num_heads)**0.5
        self.guide_convs = nn.ModuleList(
            nn.Conv2d(self.head_channels, guide_channels, 1, bias=False) for _ in range(num_heads))

    def forward(self, x: Tensor) -> Tensor:
        """``x``: B x C x H x W image features; the texts live in guide_convs."""
        heads = self.pixel_embeddings(x).split(self.head_channels, dim=1)
        max_logits = torch.cat(
            [conv(e).max(dim=1, keepdim=True).values for conv, e in zip(self.guide_convs, heads)],
            dim=1)
        return self.apply_attention(x, max_logits / self.logit_divisor)


@MODELS.register_module()
class VanillaSigmoidBlock(BaseModule):
    """The efficient neck's block: project_conv then x * sigmoid(x); the texts are unused.

    The text arguments are accepted so that official configs build unchanged.
    """

    def __init__(self, in_channels: int, out_channels: int, guide_channels: int,
                 embed_channels: int, kernel_size: int = 3, padding: int = 1,
                 num_heads: int = 1, use_depthwise: bool = False, with_scale: bool = False,
                 conv_cfg: OptConfigType = None, norm_cfg: ConfigType = DEFAULT_NORM,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        conv = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.project_conv = conv(in_channels, out_channels, kernel_size, stride=1,
                                 padding=padding, conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                 act_cfg=None)

    def forward(self, x: Tensor, guide: Tensor | None = None) -> Tensor:
        """``x``: B x C x H x W; ``guide`` is ignored."""
        x = self.project_conv(x)
        return x * x.sigmoid()
