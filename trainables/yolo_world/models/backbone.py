"""MultiModalYOLOBackbone: an image backbone and a text encoder side by side."""
from __future__ import annotations

from collections.abc import Sequence

from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from mmyolo.registry import MODELS
from torch import Tensor

from .freezing import freeze


@MODELS.register_module()
class MultiModalYOLOBackbone(BaseModule):
    """Image features from ``image_model`` (e.g. YOLOv8CSPDarknet), texts from ``text_model``.

    ``frozen_stages=k`` freezes the image model's stem and stages 1..k (weights and
    BN statistics), the usual way to fine-tune only the upper layers.
    ``with_text_model=False`` builds no text encoder: the texts then come from
    elsewhere (cached, precomputed or prompt embeddings).
    """

    def __init__(self, image_model: ConfigType, text_model: OptConfigType = None,
                 frozen_stages: int = -1, with_text_model: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_text_model = with_text_model
        self.image_model = MODELS.build(image_model)
        stages = getattr(self.image_model, "layers", [])
        if not -1 <= frozen_stages < len(stages):
            raise ValueError(
                f"MultiModalYOLOBackbone: frozen_stages={frozen_stages} is out of range; the "
                f"image model has {len(stages)} stages ({', '.join(stages)}), so use -1 (none) "
                f"to {len(stages) - 1} (all)")
        self.frozen_stages = frozen_stages
        if with_text_model:
            if text_model is None:
                raise ValueError("MultiModalYOLOBackbone: with_text_model=True needs a "
                                 "text_model config (e.g. HuggingCLIPLanguageBackbone)")
            self.text_model = MODELS.build(text_model)
        else:
            self.text_model = None
        self._freeze_stages()

    def _freeze_stages(self) -> None:
        for name in self.image_model.layers[:self.frozen_stages + 1]:
            freeze(getattr(self.image_model, name))

    def train(self, mode: bool = True) -> MultiModalYOLOBackbone:
        """Train mode, keeping the frozen stages frozen."""
        super().train(mode)
        self._freeze_stages()
        return self

    def forward(self, image: Tensor,
                text: Sequence[Sequence[str]] | None) -> tuple[tuple[Tensor, ...], Tensor | None]:
        """(image features per level, B x N x D text features or None without a text model)."""
        img_feats = self.forward_image(image)
        return img_feats, (self.forward_text(text) if self.with_text_model else None)

    def forward_image(self, image: Tensor) -> tuple[Tensor, ...]:
        """Image features per level."""
        return self.image_model(image)

    def forward_text(self, text: Sequence[Sequence[str]] | None) -> Tensor:
        """B x N x D text features for one list of N class texts per image."""
        if self.text_model is None:
            raise ValueError(
                "MultiModalYOLOBackbone was built with with_text_model=False, so it cannot "
                "encode texts; build it with a text_model, or give the detector text "
                "features another way (prompt embeddings, a precomputed .npy)")
        if text is None:
            raise ValueError("MultiModalYOLOBackbone: no texts given; each image needs its "
                             "list of class texts (data samples' `texts`)")
        return self.text_model(text)
