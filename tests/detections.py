"""Comparing two detectors' outputs detection by detection (reparameterized against plain models)."""
from __future__ import annotations

import torch
from mmdet.structures import DetDataSample


def assert_same_detections(plain: list[DetDataSample], rep: list[DetDataSample]) -> None:
    """Same boxes, scores and labels; matched per detection, since float noise may swap
    the order of near-equal scores."""
    for a, b in zip(plain, rep):
        a, b = a.pred_instances, b.pred_instances
        assert len(a) == len(b) > 0
        for box, score, label in zip(a.bboxes, a.scores, a.labels):
            same = (b.labels == label) & ((b.bboxes - box).abs().amax(dim=1) < 1e-3)
            assert torch.isclose(b.scores[same], score, rtol=1e-4, atol=1e-6).any(), (box, label)
