"""YOLOWorldHead: mmyolo's YOLOv8Head (assigner, losses, decoding, NMS) fed with texts.

Only the inputs change: the head module also takes the text features, and the
number of classes is the number of texts (the detector sets ``num_classes``
before each loss or predict call).
"""
from __future__ import annotations

from collections.abc import Sequence

from mmdet.models.utils import unpack_gt_instances
from mmdet.structures import SampleList
from mmengine.structures import InstanceData
from mmyolo.models.dense_heads import YOLOv8Head
from mmyolo.registry import MODELS
from torch import Tensor


@MODELS.register_module()
class YOLOWorldHead(YOLOv8Head):
    """YOLOv8 head whose class logits come from region-text similarity."""

    def forward(self, img_feats: Sequence[Tensor],  # type: ignore[override]
                txt_feats: Tensor) -> tuple[list, ...]:
        """Head module outputs for image features and B x N x D text features."""
        return self.head_module(img_feats, txt_feats)

    def loss(self, img_feats: Sequence[Tensor], txt_feats: Tensor,  # type: ignore[override]
             batch_data_samples: SampleList | dict) -> dict[str, Tensor]:
        """BCE (or the configured class loss), CIoU and DFL against the batch's boxes.

        ``batch_data_samples`` is either mmyolo's fast dict (``bboxes_labels``:
        rows of image index, label, x1, y1, x2, y2; ``img_metas``) or a list of
        DetDataSample.
        """
        outs = self(img_feats, txt_feats)
        if isinstance(batch_data_samples, dict):
            gt: Tensor | list[InstanceData] = batch_data_samples["bboxes_labels"]
            img_metas = batch_data_samples["img_metas"]
        else:
            gt, _, img_metas = unpack_gt_instances(batch_data_samples)
        return self.loss_by_feat(*outs, gt, img_metas)

    def predict(self, img_feats: Sequence[Tensor], txt_feats: Tensor,  # type: ignore[override]
                batch_data_samples: SampleList, rescale: bool = False) -> list[InstanceData]:
        """Decoded, NMS-filtered detections per image (labels index the texts)."""
        img_metas = [sample.metainfo for sample in batch_data_samples]
        outs = self(img_feats, txt_feats)
        return self.predict_by_feat(*outs, batch_img_metas=img_metas, rescale=rescale)
