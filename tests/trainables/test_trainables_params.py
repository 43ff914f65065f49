"""Trial parameters: defaults follow the official recipe; every bad value fails by name."""
from __future__ import annotations

import pytest

from trainables.params import InvalidTrialParams, TrialParams


def test_defaults_are_the_official_v2_recipe() -> None:
    params = TrialParams()
    assert (params.lr, params.weight_decay, params.batch_size, params.epochs) == (2e-4, 0.05, 16, 80)
    assert (params.close_mosaic_epochs, params.version, params.bn_head, params.cls_loss) == (10, "v2", True, "bce")
    assert (params.prompt_templates, params.synonyms, params.neg_texts, params.repeat_factor_thr) == (
        "none", True, None, 0.0)  # every class by its text as written, no resampling: the official recipe


@pytest.mark.parametrize("values, message", [
    (dict(sise="s"), "unknown trial parameter 'sise'; did you mean 'size'?"),
    (dict(size="xl"), "'size' = 'xl': must be one of"),
    (dict(strategy="lora"), "'strategy' = 'lora': must be one of"),
    (dict(lr=0.0), "'lr' = 0.0: must be > 0"),
    (dict(lr="fast"), "'lr' = 'fast': must be float, got 'fast'"),
    (dict(batch_size=2.5), "'batch_size' = 2.5: must be int, got 2.5"),
    (dict(freeze_all=1), "'freeze_all' = 1: must be bool, got 1"),
    (dict(mixup_prob=1.5), "'mixup_prob' = 1.5: must be between 0 and 1"),
    (dict(frozen_stages=5), "'frozen_stages' = 5: must be -1"),
    (dict(image_size=300), "'image_size' = 300: must be a multiple of 32"),
    (dict(embed_dims=0), "'embed_dims' = 0: must be a positive number"),
    (dict(neck_num_heads=[4, 8]), "'neck_num_heads' = (4, 8): must list 3 positive integers"),
    (dict(neck_embed_channels=[128, 256, 512], neck_num_heads=[3, 8, 16]), "level 0: 3 heads do not divide 128"),
    (dict(use_mlp_adapter=True), "'use_mlp_adapter' = True: only applies to strategy 'prompt'"),
    (dict(strategy="zero_shot"), "zero-shot evaluation needs a pretrained checkpoint"),
    (dict(freeze_all=True, frozen_stages=4), "'freeze_all' = True: with frozen_stages 4 (the whole image backbone) "
                                             "leaves nothing to train"),
    (dict(strategy="prompt"), "prompt tuning trains the class prompts of a frozen detector: it needs a pretrained"),
    (dict(focal_gamma=1.0), "set cls_loss: focal"),
    (dict(epochs=5, close_mosaic_epochs=10), "'close_mosaic_epochs' = 10: is more than the 5 training epochs"),
    (dict(load_from="/no/such.pth"), "'load_from' = '/no/such.pth': no such checkpoint file"),
    (dict(text_encoder="/no/such.npy"), "no such embeddings file"),
    (dict(version="v3"), "'version' = 'v3': must be one of"),
    (dict(version="v1", strategy="reparameterized"), "cannot be baked into the weights; reparameterize version v2"),
    (dict(prompt_templates="fancy"), "'prompt_templates' = 'fancy': must be one of"),
    (dict(neg_texts=-1), "'neg_texts' = -1: must be >= 0"),
    (dict(strategy="reparameterized", prompt_templates="photo"), "only applies to models that read class texts"),
    (dict(strategy="reparameterized", neg_texts=3), "'neg_texts' = 3: only applies to models that read class"),
    (dict(repeat_factor_thr=1.5), "'repeat_factor_thr' = 1.5: must be between 0 and 1"),
])
def test_bad_values_are_rejected_by_name(values: dict, message: str) -> None:
    with pytest.raises(InvalidTrialParams, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        TrialParams.from_dict(values)


def test_templates_need_an_encoder_that_reads_text(tmp_path) -> None:
    embeddings = tmp_path / "classes.npy"
    embeddings.write_bytes(b"rows")
    with pytest.raises(InvalidTrialParams, match="cannot encode templated texts; use a CLIP text encoder"):
        TrialParams.from_dict(dict(text_encoder=str(embeddings), prompt_templates="photo"))


def test_valid_combinations_pass_and_lists_become_tuples() -> None:
    params = TrialParams.from_dict(dict(size="tiny", strategy="prompt", use_mlp_adapter=True, cls_loss="focal",
                                        focal_gamma=1.5, neck_num_heads=[2, 4, 8], lr=1, load_from=__file__))
    assert params.neck_num_heads == (2, 4, 8) and params.lr == 1
    assert TrialParams.from_dict(params.as_dict()) == params
