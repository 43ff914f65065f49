"""Freezing helpers shared by the backbone, neck, head and text encoders.

A frozen part must keep both its weights and its BatchNorm statistics, so its
parameters stop requiring gradients and its BatchNorm layers stay in eval mode
(again after every ``train()`` call).
"""
from __future__ import annotations

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def freeze(module: nn.Module) -> None:
    """Put ``module`` in eval mode and stop gradients to its parameters."""
    module.eval()
    module.requires_grad_(False)


def freeze_keeping_mode(module: nn.Module) -> None:
    """Freeze weights and BatchNorm statistics but leave ``module.training`` as it is.

    For parts whose forward differs between train and eval mode beyond BatchNorm
    (the head returns box distributions for the loss only when training), as
    mmyolo's ``freeze_all`` does.
    """
    module.requires_grad_(False)
    for child in module.modules():
        if isinstance(child, _BatchNorm):
            child.eval()
