"""Single YOLO-World modules: einsum and export paths agree, the focal loss for soft
targets, and config errors that name the fix."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from mmdet.models.losses.focal_loss import py_sigmoid_focal_loss

from trainables.yolo_world.models import (
    ContrastiveHead,
    MaxSigmoidAttnBlock,
    ModelConfigError,
    SoftTargetFocalLoss,
    build_model,
    focal_loss_cls,
    model_config,
)


def test_attention_einsum_and_matmul_paths_agree() -> None:
    torch.manual_seed(0)
    block = MaxSigmoidAttnBlock(16, 16, guide_channels=8, embed_channels=24, num_heads=4,
                                with_scale=True).eval()
    plain = MaxSigmoidAttnBlock(16, 16, guide_channels=8, embed_channels=24, num_heads=4,
                                with_scale=True, use_einsum=False).eval()
    plain.load_state_dict(block.state_dict())
    assert block.embed_conv is not None  # embed_channels != in_channels
    x, guide = torch.randn(2, 16, 5, 7), torch.randn(2, 3, 8)
    torch.testing.assert_close(block(x, guide), plain(x, guide))


def test_contrastive_head_einsum_and_bmm_paths_agree() -> None:
    head, plain = ContrastiveHead(8), ContrastiveHead(8, use_einsum=False)
    x, w = torch.randn(2, 8, 4, 3), torch.randn(2, 5, 8)
    out = head(x, w)
    torch.testing.assert_close(out, plain(x, w))
    cosine = F.cosine_similarity(x[:, None], w[:, :, :, None, None], dim=2)
    torch.testing.assert_close(out, cosine / 0.07)


def test_attention_rejects_heads_that_do_not_divide() -> None:
    with pytest.raises(ValueError, match="embed_channels=24 is not divisible by num_heads=5"):
        MaxSigmoidAttnBlock(16, 16, guide_channels=8, embed_channels=24, num_heads=5)


def test_focal_loss_equals_sigmoid_focal_loss_on_hard_targets() -> None:
    pred = torch.randn(50, 6)
    target = F.one_hot(torch.randint(0, 6, (50,)), 6).float()
    ours = SoftTargetFocalLoss(gamma=2.0, alpha=0.25)(pred, target)
    torch.testing.assert_close(ours, py_sigmoid_focal_loss(pred, target, reduction="none"))


def test_focal_loss_without_focusing_is_bce() -> None:
    pred, target = torch.randn(40, 3), torch.rand(40, 3)
    torch.testing.assert_close(SoftTargetFocalLoss(gamma=0.0, alpha=None)(pred, target),
                               F.binary_cross_entropy_with_logits(pred, target, reduction="none"))


def test_focal_loss_is_minimal_where_the_prediction_meets_a_soft_target() -> None:
    target = torch.tensor([0.3, 0.7, 0.05])
    pred = torch.logit(target).requires_grad_()
    loss = SoftTargetFocalLoss(gamma=1.5, alpha=0.25)(pred, target).sum()
    loss.backward()
    torch.testing.assert_close(pred.grad, torch.zeros(3), atol=1e-6, rtol=0)
    assert SoftTargetFocalLoss()(pred.detach() + 1.0, target).sum() > loss
    with pytest.raises(ValueError, match="alpha=1.5"):
        SoftTargetFocalLoss(alpha=1.5)


def test_focal_loss_is_selectable_in_the_head_config() -> None:
    cfg = model_config("tiny", num_classes=3, with_text_model=False,
                       with_data_preprocessor=False, loss_cls=focal_loss_cls(gamma=1.5))
    model = build_model(cfg)
    assert isinstance(model.bbox_head.loss_cls, SoftTargetFocalLoss)
    assert model.bbox_head.loss_cls.gamma == 1.5


def test_config_typos_are_reported_with_close_matches() -> None:
    cfg = model_config("tiny", num_classes=3, with_text_model=False, with_data_preprocessor=False)
    cfg["bbox_head"]["head_module"]["embed_dim"] = 512
    with pytest.raises(ModelConfigError,
                       match=r"model.bbox_head.head_module: YOLOWorldHeadModule takes no "
                             r"argument 'embed_dim'; did you mean \['embed_dims'"):
        build_model(cfg)
    cfg = model_config("tiny", num_classes=3, with_text_model=False, with_data_preprocessor=False)
    cfg["neck"]["type"] = "YOLOWorldPAFPM"
    with pytest.raises(ModelConfigError, match=r"did you mean \['YOLOWorldPAFPN'"):
        build_model(cfg)


def test_invalid_values_are_reported() -> None:
    cfg = model_config("tiny", num_classes=3, with_text_model=False, with_data_preprocessor=False)
    cfg["neck"]["num_heads"] = [4, 8]
    with pytest.raises(ValueError, match=r"num_heads=\[4, 8\] needs one value per input level"):
        build_model(cfg)
    cfg = model_config("tiny", num_classes=3, with_text_model=False, with_data_preprocessor=False)
    cfg["backbone"]["frozen_stages"] = 5
    with pytest.raises(ValueError, match=r"frozen_stages=5 is out of range.*-1 \(none\) to 4"):
        build_model(cfg)
    with pytest.raises(ValueError, match="unknown size 'xl'"):
        model_config("xl")


def test_sync_bn_configs_build_as_bn_on_cpu() -> None:
    cfg = model_config("tiny", num_classes=3, with_text_model=False, with_data_preprocessor=False)
    for part in (cfg["backbone"]["image_model"], cfg["neck"], cfg["bbox_head"]["head_module"]):
        part["norm_cfg"] = dict(type="SyncBN", momentum=0.03, eps=0.001)
    model = build_model(cfg, sync_bn_to_bn=True)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    assert norms and not any(isinstance(m, torch.nn.SyncBatchNorm) for m in norms)
    assert any(isinstance(m, torch.nn.SyncBatchNorm)
               for m in build_model(cfg, sync_bn_to_bn=False).modules())
