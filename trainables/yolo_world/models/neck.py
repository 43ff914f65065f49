"""YOLOWorldPAFPN: mmyolo's YOLOv8 PAFPN whose blocks are text-guided (VL-PAN)."""
from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

import torch
from mmdet.utils import ConfigType, OptMultiConfig
from mmyolo.models.necks import YOLOv8PAFPN
from mmyolo.models.utils import make_divisible, make_round
from mmyolo.registry import MODELS
from torch import Tensor, nn

DEFAULT_BLOCK = dict(type="CSPLayerWithTwoConv")
DEFAULT_NORM = dict(type="BN", momentum=0.03, eps=0.001)
DEFAULT_ACT = dict(type="SiLU", inplace=True)


@MODELS.register_module()
class YOLOWorldPAFPN(YOLOv8PAFPN):
    """VL-PAN: every top-down and bottom-up block is ``block_cfg`` and sees the texts.

    ``embed_channels`` and ``num_heads`` are per input level, before the widen
    factor; a block at level i gets make_round(value[i], widen_factor).
    """

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int],
                 guide_channels: int, embed_channels: Sequence[int], num_heads: Sequence[int],
                 deepen_factor: float = 1.0, widen_factor: float = 1.0, num_csp_blocks: int = 3,
                 freeze_all: bool = False, block_cfg: ConfigType = DEFAULT_BLOCK,
                 norm_cfg: ConfigType = DEFAULT_NORM, act_cfg: ConfigType = DEFAULT_ACT,
                 init_cfg: OptMultiConfig = None) -> None:
        for name, values in (("embed_channels", embed_channels), ("num_heads", num_heads)):
            if len(values) != len(in_channels):
                raise ValueError(
                    f"YOLOWorldPAFPN: {name}={list(values)} needs one value per input level "
                    f"(in_channels={list(in_channels)}); the v2 rule is embed_channels="
                    f"[128, 256, last_stage/2], num_heads=[4, 8, last_stage/64]")
        self.guide_channels = guide_channels
        self.embed_channels = list(embed_channels)
        self.num_heads = list(num_heads)
        self.block_cfg = dict(block_cfg)
        super().__init__(in_channels=in_channels, out_channels=out_channels,
                         deepen_factor=deepen_factor, widen_factor=widen_factor,
                         num_csp_blocks=num_csp_blocks, freeze_all=freeze_all,
                         norm_cfg=norm_cfg, act_cfg=act_cfg, init_cfg=init_cfg)
        # Freeze now, not only in train(): DDP must not wait for gradients of frozen weights.
        if freeze_all:
            self._freeze_all()

    def build_top_down_layer(self, idx: int) -> nn.Module:
        """Block fusing level idx (upsampled) into level idx - 1."""
        return self._build_block(self.in_channels[idx - 1] + self.in_channels[idx],
                                 self.out_channels[idx - 1], level=idx - 1)

    def build_bottom_up_layer(self, idx: int) -> nn.Module:
        """Block fusing level idx (downsampled) into level idx + 1."""
        return self._build_block(self.out_channels[idx] + self.out_channels[idx + 1],
                                 self.out_channels[idx + 1], level=idx + 1)

    def _build_block(self, in_channels: int, out_channels: int, level: int) -> nn.Module:
        cfg = copy.deepcopy(self.block_cfg)
        cfg.update(
            in_channels=make_divisible(in_channels, self.widen_factor),
            out_channels=make_divisible(out_channels, self.widen_factor),
            num_blocks=make_round(self.num_csp_blocks, self.deepen_factor),
            add_identity=False, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        block_cls = MODELS.get(cfg["type"])
        if block_cls is not None and "guide_channels" in inspect.signature(block_cls).parameters:
            cfg.update(guide_channels=self.guide_channels,
                       embed_channels=make_round(self.embed_channels[level], self.widen_factor),
                       num_heads=make_round(self.num_heads[level], self.widen_factor))
        return MODELS.build(cfg)

    def _run_block(self, block: nn.Module, x: Tensor, txt_feats: Tensor | None) -> Tensor:
        if not getattr(block, "uses_text", False):
            return block(x)
        if txt_feats is None:
            raise ValueError(
                f"YOLOWorldPAFPN: {type(block).__name__} needs text features but got none; "
                f"set mm_neck=True on the detector, or use RepConvMaxSigmoidCSPLayerWithTwoConv "
                f"blocks for a reparameterized model")
        return block(x, txt_feats)

    def forward(self, img_feats: Sequence[Tensor],  # type: ignore[override]
                txt_feats: Tensor | None = None) -> tuple[Tensor, ...]:
        """Fuse the image levels top-down then bottom-up, each block guided by the texts."""
        if len(img_feats) != len(self.in_channels):
            raise ValueError(f"YOLOWorldPAFPN: got {len(img_feats)} feature levels, "
                             f"built for {len(self.in_channels)}")
        reduced = [reduce(feat) for reduce, feat in zip(self.reduce_layers, img_feats)]
        top = len(self.in_channels) - 1
        inner = [reduced[-1]]
        for idx in range(top, 0, -1):
            upsampled = self.upsample_layers[top - idx](inner[0])
            fused = torch.cat([upsampled, reduced[idx - 1]], 1)
            inner.insert(0, self._run_block(self.top_down_layers[top - idx], fused, txt_feats))
        outs = [inner[0]]
        for idx in range(top):
            downsampled = self.downsample_layers[idx](outs[-1])
            fused = torch.cat([downsampled, inner[idx + 1]], 1)
            outs.append(self._run_block(self.bottom_up_layers[idx], fused, txt_feats))
        return tuple(out_layer(out) for out_layer, out in zip(self.out_layers, outs))
