"""The searchable parameters of one trial: names, defaults, and the checks that run before training.

Every parameter a space file may search or fix is a field here, so a typo or an impossible
combination fails with its name before any worker starts, instead of as a TypeError deep in an
mmengine build. Defaults follow the official YOLO-World v2 fine-tune recipe.
"""
from __future__ import annotations

import typing
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from trainables.text_encoder import CLIP_BASE
from trainables.values import WrongType, conform, did_you_mean

SIZES = ("tiny", "s", "m", "l", "x")
STRATEGIES = ("normal", "prompt", "reparameterized", "zero_shot")
LR_SCHEDULES = ("linear", "cosine")
CLS_LOSSES = ("bce", "focal")
VERSIONS = ("v1", "v2")
PROMPT_TEMPLATES: dict[str, tuple[str, ...]] = {
    "none": ("{}",),
    "photo": ("a photo of a {}.",),
    "ensemble": ("a photo of a {}.", "a close-up photo of a {}.", "an image showing a {}.",
                 "a {} in the scene."),
}
"""Template sets for the class texts. Training draws one template per text and image (the texts
vary, as synonyms do); evaluation and deployment use the set's first template."""


class InvalidTrialParams(ValueError):
    """A trial parameter is unknown, out of range, or impossible together with another one."""


@dataclass(frozen=True, kw_only=True)
class TrialParams:
    size: str = "s"
    version: str = "v2"                      # v1: dual VL-PAN with its text enhancer; v2: VL-PAN
    strategy: str = "normal"
    freeze_all: bool = False                 # freeze the neck and the head module
    frozen_stages: int = -1                  # image backbone stages to freeze (-1: none, 4: all)
    use_bn_head: bool | None = None          # None: the version's head (v2 BatchNorm, v1 L2 norm)
    embed_dims: int | None = None            # head width; None = the text embedding width
    neck_embed_channels: tuple[int, ...] | None = None  # per level, before widening
    neck_num_heads: tuple[int, ...] | None = None       # per level, before widening
    use_depthwise: bool = False              # depthwise-separable attention projections
    expand_ratio: float = 0.5                # hidden width of the neck's CSP layers
    use_mlp_adapter: bool = False            # prompt tuning only
    text_encoder: str = CLIP_BASE              # hub id, local folder, or an N x D .npy
    prompt_templates: str = "none"           # a PROMPT_TEMPLATES set around each class text
    synonyms: bool = True                    # train on a random synonym per class (else the first)
    neg_texts: int | None = None             # negative texts sampled per image; None: every class
    repeat_factor_thr: float = 0.0           # class-balanced repeat-factor sampling; 0: off
    general_mix: float = 0.0                 # general images (the retention set's train split) mixed into
                                             # training, as a share of the dataset's training images
    lr: float = 2e-4
    weight_decay: float = 0.05
    batch_size: int = 16                     # per worker
    epochs: int = 80
    warmup_epochs: float = 3.0
    warmup_min_iters: int = 1000
    warmup_max_fraction: float = 0.2         # of the trial's iterations: short runs still train
    lr_schedule: str = "linear"
    image_size: int = 640
    cls_loss: str = "bce"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.25
    mosaic_prob: float = 1.0
    mixup_prob: float = 0.0
    close_mosaic_epochs: int = 10
    load_from: str | None = None             # a YOLO-World checkpoint to start from
    amp: bool | None = None                  # mixed precision; None = on when training on GPU
    seed: int = 0

    def __post_init__(self) -> None:
        for check in (self._check_types, self._check_choices, self._check_ranges, self._check_neck,
                      self._check_combinations):
            check()

    # -- checks ------------------------------------------------------------------------
    def _fail(self, name: str, why: str) -> None:
        raise InvalidTrialParams(f"trial parameter '{name}' = {getattr(self, name)!r}: {why}")

    def _check_types(self) -> None:
        for name, hint in typing.get_type_hints(type(self)).items():
            try:  # frozen: the conformed value (a float for an int, a tuple for a list) is set directly
                object.__setattr__(self, name, conform(hint, getattr(self, name)))
            except WrongType as error:
                self._fail(name, str(error) + error.where)

    def _check_choices(self) -> None:
        for name, choices in (("size", SIZES), ("version", VERSIONS), ("strategy", STRATEGIES),
                              ("lr_schedule", LR_SCHEDULES), ("cls_loss", CLS_LOSSES),
                              ("prompt_templates", PROMPT_TEMPLATES)):
            if getattr(self, name) not in choices:
                self._fail(name, f"must be one of {list(choices)}")

    def _check_ranges(self) -> None:
        positive = ("lr", "batch_size", "epochs", "image_size", "expand_ratio")
        non_negative = ("weight_decay", "warmup_epochs", "warmup_min_iters", "focal_gamma",
                        "close_mosaic_epochs")
        for name in positive:
            if not getattr(self, name) > 0:
                self._fail(name, "must be > 0")
        for name in non_negative:
            if not getattr(self, name) >= 0:
                self._fail(name, "must be >= 0")
        if not 0 < self.warmup_max_fraction <= 1:
            self._fail("warmup_max_fraction", "must be above 0 and at most 1 (a share of the trial's iterations)")
        for name in ("mosaic_prob", "mixup_prob", "focal_alpha", "repeat_factor_thr", "general_mix"):
            if not 0 <= getattr(self, name) <= 1:
                self._fail(name, "must be between 0 and 1")
        if not -1 <= self.frozen_stages <= 4:
            self._fail("frozen_stages", "must be -1 (none) to 4 (the whole image backbone)")
        if self.image_size % 32:
            self._fail("image_size", "must be a multiple of 32 (the largest feature stride)")
        if self.neg_texts is not None and self.neg_texts < 0:
            self._fail("neg_texts", "must be >= 0 (or left out for every class)")
        if self.embed_dims is not None and self.embed_dims <= 0:
            self._fail("embed_dims", "must be a positive number of channels")
        if self.load_from is not None and not Path(self.load_from).is_file():
            self._fail("load_from", "no such checkpoint file")
        if self.text_encoder.endswith(".npy") and not Path(self.text_encoder).is_file():
            self._fail("text_encoder", "no such embeddings file")

    def _check_neck(self) -> None:
        for name in ("neck_embed_channels", "neck_num_heads"):
            value = getattr(self, name)
            if value is not None and (len(value) != 3 or any(v <= 0 for v in value)):
                self._fail(name, "must list 3 positive integers, one per pyramid level")
        if self.neck_embed_channels and self.neck_num_heads:
            for level, (channels, heads) in enumerate(zip(self.neck_embed_channels, self.neck_num_heads)):
                if channels % heads:
                    self._fail("neck_num_heads", f"level {level}: {heads} heads do not divide "
                                                 f"{channels} embed channels")

    def _check_combinations(self) -> None:
        if self.version == "v1" and self.strategy == "reparameterized":
            self._fail("version", "v1's dual VL-PAN updates the class texts from each image, so they cannot "
                                  "be baked into the weights; reparameterize version v2")
        text_knobs = [name for name in ("prompt_templates", "neg_texts")
                      if getattr(self, name) != TrialParams.__dataclass_fields__[name].default]
        if self.strategy in ("prompt", "reparameterized") and text_knobs:
            self._fail(text_knobs[0], f"only applies to models that read class texts (strategy normal or "
                                      f"zero_shot); strategy {self.strategy!r} has one fixed output per class")
        if self.text_encoder.endswith(".npy") and self.prompt_templates != "none":
            self._fail("prompt_templates", "precomputed embeddings (a .npy text_encoder) hold one row per class "
                                           "text and cannot encode templated texts; use a CLIP text encoder")
        if self.general_mix and self.strategy != "normal":
            self._fail("general_mix", f"mixes other classes into training, which only a model that reads class "
                                      f"texts and trains can use (strategy normal), not {self.strategy!r}")
        if self.use_mlp_adapter and self.strategy != "prompt":
            self._fail("use_mlp_adapter", "only applies to strategy 'prompt' (prompt tuning)")
        if self.strategy == "zero_shot" and self.load_from is None:
            self._fail("strategy", "zero-shot evaluation needs a pretrained checkpoint in 'load_from'")
        if self.strategy in ("normal", "reparameterized") and self.freeze_all and self.frozen_stages == 4:
            self._fail("freeze_all", "with frozen_stages 4 (the whole image backbone) leaves nothing to train; "
                                     "to evaluate a checkpoint as it is, use strategy zero_shot")
        if self.strategy == "prompt" and self.load_from is None:
            self._fail("strategy", "prompt tuning trains the class prompts of a frozen detector: it needs a "
                                   "pretrained checkpoint in 'load_from' (model.checkpoint; 'demo' offline), a "
                                   "random frozen detector learns nothing")
        defaults = TrialParams.__dataclass_fields__
        if self.cls_loss == "bce" and (self.focal_gamma, self.focal_alpha) != (
                defaults["focal_gamma"].default, defaults["focal_alpha"].default):
            self._fail("cls_loss", "focal_gamma / focal_alpha are set but the loss is 'bce'; "
                                   "set cls_loss: focal")
        if self.close_mosaic_epochs > self.epochs:
            self._fail("close_mosaic_epochs", f"is more than the {self.epochs} training epochs")

    # -- construction ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrialParams:
        """Build from sampled and fixed values; unknown names fail with the closest known ones."""
        known = [f.name for f in fields(cls)]
        for name in values:
            if name not in known:
                raise InvalidTrialParams(f"unknown trial parameter {name!r}{did_you_mean(name, known)}")
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def bn_head(self) -> bool:
        """Whether the contrastive head normalises regions with BatchNorm (use_bn_head resolved)."""
        return self.version == "v2" if self.use_bn_head is None else self.use_bn_head
