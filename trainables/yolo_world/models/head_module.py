"""Head modules: YOLOv8's decoupled box/class branches with a contrastive class output.

The class branch ends in ``embed_dims`` region embeddings (not class logits), which
a contrastive head scores against the text embeddings. ``text_embed_dims`` is a
worldtune extension: when it differs from ``embed_dims`` a learned ``text_proj``
maps the text embeddings to the head's width (the official code has no such
projection, so those head weights do not come from an official checkpoint).
"""
from __future__ import annotations

import math
from collections.abc import Sequence

from mmdet.models.utils import multi_apply
from mmdet.utils import ConfigType, OptMultiConfig
from mmyolo.models.dense_heads import YOLOv8HeadModule
from mmyolo.registry import MODELS
from torch import Tensor, nn

from .contrastive_heads import BNContrastiveHead, ContrastiveHead, RepBNContrastiveHead
from .freezing import freeze_keeping_mode

DEFAULT_NORM = dict(type="BN", momentum=0.03, eps=0.001)
DEFAULT_ACT = dict(type="SiLU", inplace=True)


@MODELS.register_module()
class YOLOWorldHeadModule(YOLOv8HeadModule):
    """Per level: reg_preds (as YOLOv8), cls_preds -> embed_dims, cls_contrasts vs texts."""

    def __init__(self, num_classes: int, in_channels: int | Sequence[int], embed_dims: int,
                 use_bn_head: bool = False, use_einsum: bool = True, freeze_all: bool = False,
                 widen_factor: float = 1.0, num_base_priors: int = 1,
                 featmap_strides: Sequence[int] = (8, 16, 32), reg_max: int = 16,
                 norm_cfg: ConfigType = DEFAULT_NORM, act_cfg: ConfigType = DEFAULT_ACT,
                 init_cfg: OptMultiConfig = None, text_embed_dims: int | None = None) -> None:
        self.embed_dims = embed_dims
        self.use_bn_head = use_bn_head
        self.use_einsum = use_einsum
        self.freeze_all = freeze_all
        self.text_embed_dims = embed_dims if text_embed_dims is None else text_embed_dims
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         widen_factor=widen_factor, num_base_priors=num_base_priors,
                         featmap_strides=featmap_strides, reg_max=reg_max, norm_cfg=norm_cfg,
                         act_cfg=act_cfg, init_cfg=init_cfg)
        # Freeze now, not only in train(): DDP must not wait for gradients of frozen weights.
        if freeze_all:
            freeze_keeping_mode(self)

    def _init_layers(self) -> None:
        super()._init_layers()
        for cls_pred in self.cls_preds:
            cls_pred[-1] = nn.Conv2d(cls_pred[-1].in_channels, self.embed_dims, kernel_size=1)
        self.cls_contrasts = nn.ModuleList(self._build_contrast() for _ in self.featmap_strides)
        if self.text_embed_dims != self.embed_dims:
            self.text_proj = nn.Linear(self.text_embed_dims, self.embed_dims)

    def _build_contrast(self) -> nn.Module:
        if self.use_bn_head:
            return BNContrastiveHead(self.embed_dims, self.norm_cfg, use_einsum=self.use_einsum)
        return ContrastiveHead(self.embed_dims, use_einsum=self.use_einsum)

    def init_weights(self, prior_prob: float = 0.01) -> None:
        """YOLOv8 init, then a zero embedding bias and a class-frequency prior as logit bias."""
        super().init_weights(prior_prob)
        for cls_pred, contrast, stride in zip(self.cls_preds, self.cls_contrasts,
                                              self.featmap_strides):
            nn.init.zeros_(cls_pred[-1].bias)
            contrast.init_bias(math.log(5 / self.num_classes / (640 / stride)**2))

    def train(self, mode: bool = True) -> YOLOWorldHeadModule:
        """Train mode, except that a ``freeze_all`` head stays frozen."""
        super().train(mode)
        if self.freeze_all:
            freeze_keeping_mode(self)
        return self

    def forward(self, img_feats: Sequence[Tensor], txt_feats: Tensor) -> tuple[list, ...]:
        """Per-level (cls logits B x N x H x W, boxes[, box distributions when training])."""
        if hasattr(self, "text_proj"):
            txt_feats = self.text_proj(txt_feats)
        levels = len(img_feats)
        return multi_apply(self.forward_single, img_feats, [txt_feats] * levels, self.cls_preds,
                           self.reg_preds, self.cls_contrasts)

    def forward_single(self, img_feat: Tensor, txt_feat: Tensor,  # type: ignore[override]
                       cls_pred: nn.Module, reg_pred: nn.Module,
                       cls_contrast: nn.Module) -> tuple[Tensor, ...]:
        """YOLOv8's single-level forward with the contrast as the end of the class branch."""
        return super().forward_single(img_feat, lambda x: cls_contrast(cls_pred(x), txt_feat),
                                      reg_pred)


@MODELS.register_module()
class RepYOLOWorldHeadModule(YOLOWorldHeadModule):
    """Reparameterized head: BN contrast with the class embeddings in a 1x1 conv; no texts."""

    def __init__(self, num_classes: int, in_channels: int | Sequence[int], embed_dims: int,
                 num_guide: int, freeze_all: bool = False, widen_factor: float = 1.0,
                 num_base_priors: int = 1, featmap_strides: Sequence[int] = (8, 16, 32),
                 reg_max: int = 16, norm_cfg: ConfigType = DEFAULT_NORM,
                 act_cfg: ConfigType = DEFAULT_ACT, init_cfg: OptMultiConfig = None) -> None:
        self.num_guide = num_guide
        super().__init__(num_classes=num_classes, in_channels=in_channels,
                         embed_dims=embed_dims, use_bn_head=True, freeze_all=freeze_all,
                         widen_factor=widen_factor, num_base_priors=num_base_priors,
                         featmap_strides=featmap_strides, reg_max=reg_max, norm_cfg=norm_cfg,
                         act_cfg=act_cfg, init_cfg=init_cfg)

    def _build_contrast(self) -> nn.Module:
        return RepBNContrastiveHead(self.embed_dims, self.num_guide, self.norm_cfg)

    def forward(self, img_feats: Sequence[Tensor]) -> tuple[list, ...]:  # type: ignore[override]
        """Per-level (cls logits B x num_guide x H x W, boxes[, distributions])."""
        return multi_apply(self.forward_single, img_feats, self.cls_preds, self.reg_preds,
                           self.cls_contrasts)

    def forward_single(self, img_feat: Tensor, cls_pred: nn.Module,  # type: ignore[override]
                       reg_pred: nn.Module, cls_contrast: nn.Module) -> tuple[Tensor, ...]:
        """YOLOv8's single-level forward ending the class branch with the Rep contrast."""
        return YOLOv8HeadModule.forward_single(self, img_feat,
                                               lambda x: cls_contrast(cls_pred(x)), reg_pred)
