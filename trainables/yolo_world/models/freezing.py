"""Freezing helpers shared by the backbone, neck, head and text encoders.

A frozen part must keep both its weights and its BatchNorm statistics, so it is
put in eval mode (again after every ``train()`` call) and its parameters stop
requiring gradients.
"""
from __future__ import annotations

from torch import nn


def freeze(module: nn.Module) -> None:
    """Put ``module`` in eval mode and stop gradients to its parameters."""
    module.eval()
    for param in module.parameters():
        param.requires_grad_(False)
