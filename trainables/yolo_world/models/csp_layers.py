"""CSP layers of the VL-PAN neck: mmyolo's CSPLayerWithTwoConv plus one attention chunk.

The main conv's output is split in two, the bottlenecks run in a chain on the last
chunk, and the text-guided attention block adds one more chunk, so the final conv
sees (3 + num_blocks) chunks instead of (2 + num_blocks).
"""
from __future__ import annotations

import torch
from mmcv.cnn import ConvModule
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmyolo.models.layers import CSPLayerWithTwoConv
from mmyolo.registry import MODELS
from torch import Tensor, nn

from .attention import MaxSigmoidAttnBlock, RepConvMaxSigmoidAttnBlock, VanillaSigmoidBlock

DEFAULT_NORM = dict(type="BN", momentum=0.03, eps=0.001)
DEFAULT_ACT = dict(type="SiLU", inplace=True)


class _AttnCSPLayer(CSPLayerWithTwoConv):
    """CSPLayerWithTwoConv whose chunks end with ``attn_block(last chunk, *text)``."""

    #: Whether forward needs the text features (the Rep layer has them baked in).
    uses_text = True

    def __init__(self, in_channels: int, out_channels: int, attn_block: nn.Module,
                 expand_ratio: float, num_blocks: int, add_identity: bool,
                 conv_cfg: OptConfigType, norm_cfg: ConfigType, act_cfg: ConfigType,
                 init_cfg: OptMultiConfig) -> None:
        super().__init__(in_channels, out_channels, expand_ratio=expand_ratio,
                         num_blocks=num_blocks, add_identity=add_identity, conv_cfg=conv_cfg,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, init_cfg=init_cfg)
        self.final_conv = ConvModule((3 + num_blocks) * self.mid_channels, out_channels, 1,
                                     conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg)
        self.attn_block = attn_block

    def forward(self, x: Tensor, *text: Tensor) -> Tensor:
        """``text`` is the B x N x C text features for the plain layer, nothing for Rep."""
        chunks = list(self.main_conv(x).split((self.mid_channels, self.mid_channels), 1))
        chunks.extend(block(chunks[-1]) for block in self.blocks)
        chunks.append(self.attn_block(chunks[-1], *text))
        return self.final_conv(torch.cat(chunks, 1))


@MODELS.register_module()
class MaxSigmoidCSPLayerWithTwoConv(_AttnCSPLayer):
    """VL-PAN block: CSP layer with a MaxSigmoidAttnBlock fed by the text features."""

    def __init__(self, in_channels: int, out_channels: int, guide_channels: int,
                 embed_channels: int, num_heads: int = 1, expand_ratio: float = 0.5,
                 num_blocks: int = 1, with_scale: bool = False, add_identity: bool = True,
                 conv_cfg: OptConfigType = None, norm_cfg: ConfigType = DEFAULT_NORM,
                 act_cfg: ConfigType = DEFAULT_ACT, init_cfg: OptMultiConfig = None,
                 use_einsum: bool = True, use_depthwise: bool = False) -> None:
        mid = int(out_channels * expand_ratio)
        attn = MaxSigmoidAttnBlock(mid, mid, guide_channels=guide_channels,
                                   embed_channels=embed_channels, num_heads=num_heads,
                                   with_scale=with_scale, use_depthwise=use_depthwise,
                                   conv_cfg=conv_cfg, norm_cfg=norm_cfg, use_einsum=use_einsum)
        super().__init__(in_channels, out_channels, attn, expand_ratio, num_blocks, add_identity,
                         conv_cfg, norm_cfg, act_cfg, init_cfg)


@MODELS.register_module()
class RepConvMaxSigmoidCSPLayerWithTwoConv(_AttnCSPLayer):
    """Reparameterized VL-PAN block: the text guides live in the attention's 1x1 convs."""

    uses_text = False

    def __init__(self, in_channels: int, out_channels: int, embed_channels: int,
                 guide_channels: int, num_heads: int = 1, expand_ratio: float = 0.5,
                 num_blocks: int = 1, with_scale: bool = False, add_identity: bool = True,
                 conv_cfg: OptConfigType = None, norm_cfg: ConfigType = DEFAULT_NORM,
                 act_cfg: ConfigType = DEFAULT_ACT, init_cfg: OptMultiConfig = None,
                 use_einsum: bool = True, use_depthwise: bool = False) -> None:
        mid = int(out_channels * expand_ratio)
        attn = RepConvMaxSigmoidAttnBlock(mid, mid, embed_channels=embed_channels,
                                          guide_channels=guide_channels, num_heads=num_heads,
                                          with_scale=with_scale, use_depthwise=use_depthwise,
                                          conv_cfg=conv_cfg, norm_cfg=norm_cfg,
                                          use_einsum=use_einsum)
        super().__init__(in_channels, out_channels, attn, expand_ratio, num_blocks, add_identity,
                         conv_cfg, norm_cfg, act_cfg, init_cfg)


@MODELS.register_module()
class EfficientCSPLayerWithTwoConv(_AttnCSPLayer):
    """Efficient-neck block: the attention chunk is a text-free VanillaSigmoidBlock."""

    uses_text = False

    def __init__(self, in_channels: int, out_channels: int, guide_channels: int,
                 embed_channels: int, num_heads: int = 1, expand_ratio: float = 0.5,
                 num_blocks: int = 1, with_scale: bool = False, add_identity: bool = True,
                 conv_cfg: OptConfigType = None, norm_cfg: ConfigType = DEFAULT_NORM,
                 act_cfg: ConfigType = DEFAULT_ACT, init_cfg: OptMultiConfig = None) -> None:
        mid = int(out_channels * expand_ratio)
        attn = VanillaSigmoidBlock(mid, mid, guide_channels=guide_channels,
                                   embed_channels=embed_channels, num_heads=num_heads,
                                   with_scale=with_scale, conv_cfg=conv_cfg, norm_cfg=norm_cfg)
        super().__init__(in_channels, out_channels, attn, expand_ratio, num_blocks, add_identity,
                         conv_cfg, norm_cfg, act_cfg, init_cfg)
