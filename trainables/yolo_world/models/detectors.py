"""YOLO-World detectors on mmyolo's YOLODetector.

YOLOWorldDetector encodes class texts with its text backbone (fine-tuning and
zero-shot evaluation: the texts come with the data samples). SimpleYOLOWorldDetector
has no text encoder: its class embeddings are a learnable parameter (prompt tuning)
or, once reparameterized, baked into the neck and head weights.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from mmdet.structures import OptSampleList, SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmyolo.models.detectors import YOLODetector
from mmyolo.registry import MODELS
from torch import Tensor, nn

Features = tuple[Tensor, ...]


def _batch_texts(batch_data_samples: OptSampleList | dict) -> list[list[str]] | None:
    """The per-image class texts carried by the batch, if any."""
    if isinstance(batch_data_samples, dict):
        return batch_data_samples.get("texts")
    if batch_data_samples and "texts" in batch_data_samples[0]:
        return [sample.texts for sample in batch_data_samples]
    return None


@MODELS.register_module()
class YOLOWorldDetector(YOLODetector):
    """Open-vocabulary YOLO: image backbone + text encoder, VL-PAN neck, contrastive head.

    Training sets the head's class count to ``num_train_classes`` (the padded
    number of texts per image); prediction sets it to the number of texts given.
    The neck sees the texts only when ``mm_neck`` (v2 configs set it).
    """

    def __init__(self, backbone: ConfigType, neck: ConfigType, bbox_head: ConfigType,
                 mm_neck: bool = False, num_train_classes: int = 80,
                 num_test_classes: int = 80, train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None, data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None, use_syncbn: bool = True) -> None:
        self.mm_neck = mm_neck
        self.num_train_classes = num_train_classes
        self.num_test_classes = num_test_classes
        super().__init__(backbone=backbone, neck=neck, bbox_head=bbox_head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, use_syncbn=use_syncbn)
        self.texts: list[str] | None = None
        self.register_buffer("text_feats", None, persistent=False)

    def reparameterize(self, texts: Sequence[str]) -> None:
        """Encode a fixed class list once; batches without texts then use it.

        (The official name. It does not change weights: see reparameterize.py for
        baking the texts into the neck and head.)
        """
        self.texts = list(texts)
        with torch.no_grad():
            self.text_feats = self.backbone.forward_text([self.texts])

    def extract_feat(self, batch_inputs: Tensor,  # type: ignore[override]
                     batch_data_samples: OptSampleList | dict = None
                     ) -> tuple[Features, Tensor | None]:
        """(neck outputs, B x N x D text features) for the batch's texts."""
        texts = _batch_texts(batch_data_samples)
        if texts is not None:
            img_feats, txt_feats = self.backbone(batch_inputs, texts)
        elif self.text_feats is not None:
            img_feats = self.backbone.forward_image(batch_inputs)
            txt_feats = self.text_feats.expand(batch_inputs.shape[0], -1, -1)
        else:
            raise ValueError(
                "YOLOWorldDetector: the batch carries no class texts; pack 'texts' with the "
                "data samples (LoadText / RandomLoadText, 'texts' in PackDetInputs meta_keys) "
                "or call detector.reparameterize(class_texts) once before inference")
        return self._run_neck(img_feats, txt_feats), txt_feats

    def _run_neck(self, img_feats: Features, txt_feats: Tensor | None) -> Features:
        if not self.with_neck:
            return img_feats
        return self.neck(img_feats, txt_feats) if self.mm_neck else self.neck(img_feats)

    @staticmethod
    def _head_inputs(img_feats: Features, txt_feats: Tensor | None) -> tuple:
        return (img_feats,) if txt_feats is None else (img_feats, txt_feats)

    def loss(self, batch_inputs: Tensor, batch_data_samples: SampleList | dict) -> dict:
        """Losses over ``num_train_classes`` texts per image."""
        img_feats, txt_feats = self.extract_feat(batch_inputs, batch_data_samples)
        if txt_feats is not None and txt_feats.shape[1] != self.num_train_classes:
            raise ValueError(
                f"{type(self).__name__}: the batch has {txt_feats.shape[1]} class texts per "
                f"image but num_train_classes={self.num_train_classes}; set num_train_classes "
                f"to the padded text count (RandomLoadText max_num_samples, or the number of "
                f"classes with LoadText)")
        self.bbox_head.num_classes = self.num_train_classes
        return self.bbox_head.loss(*self._head_inputs(img_feats, txt_feats), batch_data_samples)

    def predict(self, batch_inputs: Tensor, batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Detections whose labels index the given texts."""
        img_feats, txt_feats = self.extract_feat(batch_inputs, batch_data_samples)
        self.bbox_head.num_classes = (self.num_test_classes if txt_feats is None
                                      else txt_feats.shape[1])
        results = self.bbox_head.predict(*self._head_inputs(img_feats, txt_feats),
                                         batch_data_samples, rescale=rescale)
        return self.add_pred_to_datasample(batch_data_samples, results)

    def _forward(self, batch_inputs: Tensor,
                 batch_data_samples: OptSampleList = None) -> tuple[list, ...]:
        """Raw head outputs (tensor mode)."""
        img_feats, txt_feats = self.extract_feat(batch_inputs, batch_data_samples)
        return self.bbox_head.forward(*self._head_inputs(img_feats, txt_feats))


@MODELS.register_module()
class SimpleYOLOWorldDetector(YOLOWorldDetector):
    """YOLO-World without a text encoder: prompt tuning, or a reparameterized model.

    Prompt tuning learns ``embeddings`` (num_prompts x prompt_dim, from
    ``embedding_path`` or random unit vectors), optionally through a residual MLP
    ``adapter``, usually with the rest frozen. ``reparameterized=True`` is the
    model whose class embeddings are baked into the weights: no text anywhere.
    """

    def __init__(self, backbone: ConfigType, neck: ConfigType, bbox_head: ConfigType,
                 mm_neck: bool = False, num_train_classes: int = 80,
                 num_test_classes: int = 80, prompt_dim: int = 512, num_prompts: int = 80,
                 embedding_path: str = "", reparameterized: bool = False,
                 freeze_prompt: bool = False, use_mlp_adapter: bool = False,
                 train_cfg: OptConfigType = None, test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None, init_cfg: OptMultiConfig = None,
                 use_syncbn: bool = True) -> None:
        super().__init__(backbone=backbone, neck=neck, bbox_head=bbox_head, mm_neck=mm_neck,
                         num_train_classes=num_train_classes, num_test_classes=num_test_classes,
                         train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg,
                         use_syncbn=use_syncbn)
        self.reparameterized = reparameterized
        if reparameterized:
            return
        initial = _initial_prompts(embedding_path, num_prompts, prompt_dim)
        self.embeddings = nn.Parameter(initial, requires_grad=not freeze_prompt)
        self.adapter = (nn.Sequential(nn.Linear(prompt_dim, prompt_dim * 2), nn.ReLU(True),
                                      nn.Linear(prompt_dim * 2, prompt_dim))
                        if use_mlp_adapter else None)

    def prompt_features(self) -> Tensor:
        """N x D class features: the prompts through the adapter, L2-normalised."""
        feats = self.embeddings
        if self.adapter is not None:
            feats = self.adapter(feats) + feats
        return F.normalize(feats, dim=-1, p=2)

    def extract_feat(self, batch_inputs: Tensor,  # type: ignore[override]
                     batch_data_samples: OptSampleList | dict = None
                     ) -> tuple[Features, Tensor | None]:
        """(neck outputs, prompt features per image, or None when reparameterized)."""
        img_feats = self.backbone.forward_image(batch_inputs)
        txt_feats = (None if self.reparameterized
                     else self.prompt_features()[None].expand(batch_inputs.shape[0], -1, -1))
        return self._run_neck(img_feats, txt_feats), txt_feats


def _initial_prompts(embedding_path: str, num_prompts: int, prompt_dim: int) -> Tensor:
    if not embedding_path:
        return F.normalize(torch.randn(num_prompts, prompt_dim), dim=-1)
    if not Path(embedding_path).is_file():
        raise FileNotFoundError(
            f"SimpleYOLOWorldDetector: embedding_path {embedding_path!r} does not exist; write "
            f"it with export_text_embeddings (one row per class) or set embedding_path='' to "
            f"start from random prompts")
    embeddings = torch.from_numpy(np.load(embedding_path)).float()
    if tuple(embeddings.shape) != (num_prompts, prompt_dim):
        raise ValueError(
            f"SimpleYOLOWorldDetector: {embedding_path} holds {tuple(embeddings.shape)} "
            f"embeddings but num_prompts={num_prompts}, prompt_dim={prompt_dim}; set them to "
            f"the file's shape (one row per class, text width columns)")
    return embeddings
