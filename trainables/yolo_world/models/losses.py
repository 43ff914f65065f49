"""Focal classification loss for the soft targets of the task-aligned assigner.

YOLOv8's assigner gives each positive a target score in (0, 1] (its normalised
alignment), not a hard 1. mmdet's sigmoid focal loss modulates by the distance to
a *hard* label, so with a soft target it never vanishes. Here the modulating
factor is |target - p|^gamma (as in quality focal loss): the loss is zero where the
prediction meets the target, and for hard 0/1 targets it equals the usual sigmoid
focal loss, alpha balancing included.
"""
from __future__ import annotations

import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmyolo.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class SoftTargetFocalLoss(nn.Module):
    """Sigmoid focal loss accepting targets in [0, 1]; a drop-in for the head's ``loss_cls``.

    ``alpha=None`` weights positives and negatives alike; ``gamma=0`` and
    ``alpha=None`` give plain binary cross-entropy.
    """

    def __init__(self, gamma: float = 2.0, alpha: float | None = 0.25,
                 reduction: str = "none", loss_weight: float = 1.0) -> None:
        super().__init__()
        if gamma < 0:
            raise ValueError(f"SoftTargetFocalLoss: gamma={gamma} must be >= 0 (2.0 is usual)")
        if alpha is not None and not 0.0 <= alpha <= 1.0:
            raise ValueError(f"SoftTargetFocalLoss: alpha={alpha} must be in [0, 1] or None")
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"SoftTargetFocalLoss: reduction={reduction!r}; use 'none' (what "
                             f"the YOLOv8/YOLO-World head expects), 'mean' or 'sum'")
        self.gamma = gamma
        self.alpha = alpha
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, weight: Tensor | None = None,
                avg_factor: float | None = None,
                reduction_override: str | None = None) -> Tensor:
        """Element-wise loss of logits ``pred`` against soft targets, then reduced."""
        target = target.type_as(pred)
        loss = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
        loss = loss * (target - pred.sigmoid()).abs().pow(self.gamma)
        if self.alpha is not None:
            loss = loss * (self.alpha * target + (1 - self.alpha) * (1 - target))
        reduction = reduction_override or self.reduction
        return self.loss_weight * weight_reduce_loss(loss, weight, reduction, avg_factor)
