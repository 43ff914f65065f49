"""The recipe's data side without texts, for models with no text path.

Prompt tuning and reparameterized models have one fixed output per dataset class, so their labels
must stay the dataset's: text sampling (which shuffles and relabels classes per image) is removed,
the multimodal mix transforms become mmyolo's plain ones, and the dataset is unwrapped (unless
class-balanced sampling sits inside it). The same
pipeline serves the plain YOLOv8 speed baseline.
"""
from __future__ import annotations

import copy
from typing import Any

_TEXT_TRANSFORMS = {"LoadText", "RandomLoadText"}
_PLAIN_TYPES = {"MultiModalMosaic": "Mosaic", "YOLOv5MultiModalMixUp": "YOLOv5MixUp"}
_PIPELINES = ("train_pipeline", "train_pipeline_stage2", "test_pipeline")


def _strip(node: Any) -> Any:
    """Drop text transforms and the 'texts' meta key, at any depth (RandomChoice, pre_transform)."""
    if isinstance(node, list):
        return [_strip(item) for item in node
                if not (isinstance(item, dict) and item.get("type") in _TEXT_TRANSFORMS)]
    if isinstance(node, dict):
        out = {key: _strip(value) for key, value in node.items()}
        out["type"] = _PLAIN_TYPES.get(out.get("type"), out.get("type"))
        if out["type"] is None:
            del out["type"]
        if "meta_keys" in out:
            out["meta_keys"] = tuple(k for k in out["meta_keys"] if k != "texts")
        return out
    return node


def text_free_data_config(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """`box_only_data_config`'s result for a model without texts."""
    out = {name: _strip(data_cfg[name]) for name in _PIPELINES}
    for name in ("train_dataloader", "val_dataloader"):
        loader = copy.deepcopy(data_cfg[name])
        wrapper = loader["dataset"]
        if wrapper["dataset"]["type"] == "ClassBalancedDataset":
            # The wrapper keeps the pipeline (without texts) for the close-mosaic switch to reach.
            loader["dataset"] = dict(wrapper, class_text_path=None, pipeline=_strip(wrapper["pipeline"]))
        else:
            loader["dataset"] = dict(wrapper["dataset"], pipeline=_strip(wrapper["pipeline"]))
        if "collate_fn" in loader:
            loader["collate_fn"] = {"type": "yolov5_collate"}
        out[name] = loader
    return out
