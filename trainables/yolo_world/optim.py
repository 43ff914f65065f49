"""The official YOLOWv5OptimizerConstructor: YOLOv5's batch-scaled weight decay plus mmengine's
per-parameter options.

YOLOv5 tunes weight decay for a total batch of 64 images: a larger batch takes proportionally more
decay. YOLO-World fine-tuning also needs mmengine's `paramwise_cfg` (e.g. `custom_keys`:
`backbone.text_model` at lr_mult 0.01, `logit_scale` without decay), which mmyolo's
YOLOv5OptimizerConstructor does not support; this constructor does both.
"""
from __future__ import annotations

import copy

from mmengine.dist import get_world_size
from mmengine.logging import print_log
from mmengine.optim import DefaultOptimWrapperConstructor
from mmyolo.registry import OPTIM_WRAPPER_CONSTRUCTORS


def weight_decay_scale(total_batch_size: int, base_total_batch_size: int = 64) -> float:
    """YOLOv5's rule: small batches count as accumulated up to the base one (factor about 1);
    larger ones scale decay linearly, e.g. 128 images -> 2."""
    accumulate = max(round(base_total_batch_size / total_batch_size), 1)
    return total_batch_size * accumulate / base_total_batch_size


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class YOLOWv5OptimizerConstructor(DefaultOptimWrapperConstructor):
    """mmengine's DefaultOptimWrapperConstructor (same config) whose weight decay is first scaled.

    `optimizer.batch_size_per_gpu` (removed before the optimizer is built) times the world size
    is the total batch; `paramwise_cfg.base_total_batch_size` (default 64) the batch the decay is
    meant for. Parameter groups with `decay_mult` multiply the scaled decay; a custom key's own
    `weight_decay` (e.g. 0.0 for `logit_scale`) is used as given.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        optim_wrapper_cfg = copy.deepcopy(optim_wrapper_cfg)
        paramwise_cfg = dict(paramwise_cfg or {})
        base_total_batch_size = paramwise_cfg.pop("base_total_batch_size", 64)
        optimizer_cfg = optim_wrapper_cfg.get("optimizer")
        if not isinstance(optimizer_cfg, dict):
            raise TypeError(f"YOLOWv5OptimizerConstructor: optim_wrapper.optimizer must be a dict, got "
                            f"{optimizer_cfg!r}")
        batch_size_per_gpu = optimizer_cfg.pop("batch_size_per_gpu", None)
        if batch_size_per_gpu is not None and optimizer_cfg.get("weight_decay"):
            scale = weight_decay_scale(get_world_size() * batch_size_per_gpu, base_total_batch_size)
            if scale != 1:
                optimizer_cfg["weight_decay"] *= scale
                print_log(f"Scaled weight_decay by {scale:g} to {optimizer_cfg['weight_decay']:g}",
                          "current")
        super().__init__(optim_wrapper_cfg, paramwise_cfg)
