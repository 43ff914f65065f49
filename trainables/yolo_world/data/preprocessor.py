"""The official YOLOWDetDataPreprocessor: mmyolo's training fast path, keeping the texts.

Training batches come from `yolow_collate` (a stacked tensor plus box rows and texts): BGR->RGB,
normalise (YOLO-World configs use mean 0, std 255, i.e. /255), no padding, and pass the texts on
for the text encoder. Test batches take mmdet's DetDataPreprocessor path, where the texts stay
in each data sample's metainfo.
"""
from __future__ import annotations

from mmyolo.models.data_preprocessors import YOLOv5DetDataPreprocessor
from mmyolo.registry import MODELS


@MODELS.register_module()
class YOLOWDetDataPreprocessor(YOLOv5DetDataPreprocessor):
    """YOLOv5DetDataPreprocessor (same arguments) whose training output also has `texts`."""

    def forward(self, data: dict, training: bool = False) -> dict:
        output = super().forward(data, training)
        if training:
            samples = data["data_samples"]
            if "texts" not in samples:
                raise KeyError("YOLOWDetDataPreprocessor: the training batch has no 'texts'; use "
                               "collate_fn=dict(type='yolow_collate') and put RandomLoadText in "
                               "the pipeline")
            output["data_samples"]["texts"] = samples["texts"]
        return output
