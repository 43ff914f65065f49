"""VL-PAN necks: mmyolo's YOLOv8 PAFPN whose blocks are text-guided.

YOLOWorldPAFPN is v2's (and the efficient neck's); YOLOWorldDualPAFPN is v1's.
"""
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
        return self._bottom_up(self._top_down(img_feats, txt_feats), txt_feats)

    def _top_down(self, img_feats: Sequence[Tensor], txt_feats: Tensor | None) -> list[Tensor]:
        """Per level, the reduced input fused with everything above it (low level first)."""
        if len(img_feats) != len(self.in_channels):
            raise ValueError(f"{type(self).__name__}: got {len(img_feats)} feature levels, "
                             f"built for {len(self.in_channels)}")
        reduced = [reduce(feat) for reduce, feat in zip(self.reduce_layers, img_feats)]
        top = len(self.in_channels) - 1
        inner = [reduced[-1]]
        for idx in range(top, 0, -1):
            upsampled = self.upsample_layers[top - idx](inner[0])
            fused = torch.cat([upsampled, reduced[idx - 1]], 1)
            inner.insert(0, self._run_block(self.top_down_layers[top - idx], fused, txt_feats))
        return inner

    def _bottom_up(self, inner: list[Tensor], txt_feats: Tensor | None) -> tuple[Tensor, ...]:
        """The top-down levels fused upwards again, through the output layers."""
        outs = [inner[0]]
        for idx in range(len(inner) - 1):
            downsampled = self.downsample_layers[idx](outs[-1])
            fused = torch.cat([downsampled, inner[idx + 1]], 1)
            outs.append(self._run_block(self.bottom_up_layers[idx], fused, txt_feats))
        return tuple(out_layer(out) for out_layer, out in zip(self.out_layers, outs))


DEFAULT_TEXT_ENHANCER = dict(type="ImagePoolingAttentionModule", embed_channels=256, num_heads=8)


@MODELS.register_module()
class YOLOWorldDualPAFPN(YOLOWorldPAFPN):
    """YOLO-World v1's dual VL-PAN: text guides image, then image updates text.

    After the top-down path, ``text_enhancer`` (built from the official key
    ``text_enhancder``, spelling kept) lets the texts attend over the top-down
    levels; only the bottom-up path sees the updated texts. The head still gets
    the original text features from the detector.
    """

    def __init__(self, in_channels: Sequence[int], out_channels: Sequence[int],
                 guide_channels: int, embed_channels: Sequence[int], num_heads: Sequence[int],
                 deepen_factor: float = 1.0, widen_factor: float = 1.0, num_csp_blocks: int = 3,
                 freeze_all: bool = False, text_enhancder: ConfigType = DEFAULT_TEXT_ENHANCER,
                 block_cfg: ConfigType = DEFAULT_BLOCK, norm_cfg: ConfigType = DEFAULT_NORM,
                 act_cfg: ConfigType = DEFAULT_ACT, init_cfg: OptMultiConfig = None) -> None:
        super().__init__(in_channels=in_channels, out_channels=out_channels,
                         guide_channels=guide_channels, embed_channels=embed_channels,
                         num_heads=num_heads, deepen_factor=deepen_factor,
                         widen_factor=widen_factor, num_csp_blocks=num_csp_blocks,
                         freeze_all=freeze_all, block_cfg=block_cfg, norm_cfg=norm_cfg,
                         act_cfg=act_cfg, init_cfg=init_cfg)
        self.text_enhancer = MODELS.build(dict(
            text_enhancder,
            image_channels=[make_divisible(c, widen_factor) for c in out_channels],
            text_channels=guide_channels, num_feats=len(out_channels)))
        if freeze_all:  # again: the enhancer did not exist when the parent froze the rest
            self._freeze_all()

    def forward(self, img_feats: Sequence[Tensor],  # type: ignore[override]
                txt_feats: Tensor | None = None) -> tuple[Tensor, ...]:
        """Top-down with the texts, texts updated from its levels, bottom-up with those."""
        if txt_feats is None:
            raise ValueError("YOLOWorldDualPAFPN: the dual VL-PAN needs text features (its "
                             "text enhancer updates them per image); it cannot run text-free "
                             "or reparameterized")
        inner = self._top_down(img_feats, txt_feats)
        return self._bottom_up(inner, self.text_enhancer(txt_feats, inner))
