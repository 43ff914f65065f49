"""Load official (or worldtune) YOLO-World checkpoints, reporting every mismatch.

An mmengine checkpoint holds ``state_dict`` (the EMA weights, swapped in by
mmengine) and ``ema_state_dict`` (the same with keys prefixed ``module.`` plus a
``steps`` counter); either, or a bare state dict, loads. The CLIP text
embeddings' ``position_ids`` (persistent in older transformers) is skipped, as are
text-encoder weights when the model has no text encoder.

A starting checkpoint must fit the part of the detector that does not depend on the classes or
the text encoder (image backbone, neck, box regression): `require_start_weights` refuses one
that leaves most of it as initialised, since training from random weights would go unnoticed.
"""
from __future__ import annotations

import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

_SKIPPED = re.compile(r"(^|\.)position_ids$")
_TEXT_MODEL = "backbone.text_model."
CLASS_INDEPENDENT = re.compile(r"^(backbone\.image_model\.|neck\.|bbox_head\.head_module\.reg_preds\.)")
"""The weights every YOLO-World checkpoint of the same size shares, whatever its classes or texts."""
MIN_CLASS_INDEPENDENT_SHARE = 0.5
"""A start that loads less than half of them is another model (size, family) or no detector at all."""


class CheckpointMismatchError(RuntimeError):
    """The checkpoint does not fit the model; the message is the full LoadReport."""


class StartCheckpointError(CheckpointMismatchError):
    """A starting checkpoint leaves most of the detector's class-independent weights unloaded."""


@dataclass
class LoadReport:
    """What a load did: keys loaded, skipped, missing, unexpected and of the wrong shape."""

    source: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)   # "expected: ..." or "why: ..." lines
    model_keys: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Every model weight came from the checkpoint and nothing was left over."""
        return not (self.missing or self.unexpected or self.mismatched)

    @property
    def class_independent(self) -> tuple[int, int]:
        """(loaded, in the model) of the weights that do not depend on the classes or texts."""
        core = [k for k in self.model_keys if CLASS_INDEPENDENT.match(k)]
        loaded = set(self.loaded)
        return sum(k in loaded for k in core), len(core)

    @property
    def summary(self) -> str:
        """One line: n of m tensors, and of the class-independent ones."""
        core_loaded, core = self.class_independent
        return (f"{self.source}: {len(self.loaded)} of {len(self.model_keys)} model tensors loaded "
                f"({core_loaded} of {core} class-independent), {len(self.skipped)} skipped")

    def __str__(self) -> str:
        lines = [self.summary]
        text_tower = [k for k in self.missing if k.startswith(_TEXT_MODEL)]
        if text_tower:
            lines.append(f"expected: the file has no text tower ({len(text_tower)} tensors): the text "
                         f"encoder's own weights are used")
        for title, keys in (("missing from the checkpoint (kept as initialised)",
                             [k for k in self.missing if not k.startswith(_TEXT_MODEL)]),
                            ("in the checkpoint but not in the model", self.unexpected)):
            if keys:
                lines.append(f"{len(keys)} {title}: {_abbreviate(keys)}")
        if self.mismatched:
            lines.append(f"{len(self.mismatched)} with other shapes (kept as initialised): "
                         + _abbreviate([f"{k} checkpoint {list(c)} vs model {list(m)}"
                                        for k, c, m in self.mismatched]))
        lines.extend(self.hints)
        return "\n".join(lines)


def require_start_weights(report: LoadReport) -> None:
    """Raise StartCheckpointError unless most class-independent weights loaded: the file, the
    counts and the first keys that did not fit."""
    core_loaded, core = report.class_independent
    if core and core_loaded >= MIN_CLASS_INDEPENDENT_SHARE * core:
        return
    misfits = [f"{k} (other shape)" for k, _, _ in report.mismatched if CLASS_INDEPENDENT.match(k)]
    misfits += [f"{k} (missing)" for k in report.missing if CLASS_INDEPENDENT.match(k)]
    raise StartCheckpointError(
        f"{report.source}: only {core_loaded} of {core} class-independent weights (image backbone, neck, box "
        f"regression) fit the model, so it would train from random weights: this is not a checkpoint of this "
        f"model (another size, or not a YOLO-World detector). First keys that did not fit: "
        f"{_abbreviate(misfits, 4) or 'none'}; the file holds {_abbreviate(report.unexpected, 4) or 'no other keys'}")


def _abbreviate(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")


def read_checkpoint(checkpoint: str | Path | Mapping[str, Any], *,
                    key: str = "state_dict", allow_pickle: bool = True) -> dict[str, Tensor]:
    """The state dict under ``key`` ('state_dict' or 'ema_state_dict'), prefixes removed.

    mmengine checkpoints also pickle non-tensor objects (message hub, config), which
    torch's safe ``weights_only`` loader rejects; with ``allow_pickle`` such a file
    is loaded fully, so only pass files you trust.
    """
    if isinstance(checkpoint, (str, Path)):
        checkpoint = _torch_load(Path(checkpoint), allow_pickle)
    if key in checkpoint:
        state = checkpoint[key]
    elif key == "state_dict" and all(torch.is_tensor(v) for v in checkpoint.values()):
        state = checkpoint  # a bare state dict
    else:
        raise KeyError(f"read_checkpoint: the checkpoint has no {key!r}; it has "
                       f"{sorted(k for k in checkpoint if not torch.is_tensor(checkpoint[k]))}")
    if key == "ema_state_dict":
        state = {k: v for k, v in state.items() if k != "steps"}
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def _torch_load(path: Path, allow_pickle: bool) -> Mapping[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if not allow_pickle:
            raise CheckpointMismatchError(
                f"{path} holds non-tensor objects that the safe loader refuses ({error}); "
                f"pass allow_pickle=True if you trust the file") from error
        return torch.load(path, map_location="cpu", weights_only=False)


def load_checkpoint(model: nn.Module, checkpoint: str | Path | Mapping[str, Any], *,
                    key: str = "state_dict", strict: bool = True,
                    allow_pickle: bool = True) -> LoadReport:
    """Load ``checkpoint`` into ``model`` and say what did not fit.

    ``strict=True`` loads nothing and raises CheckpointMismatchError unless every
    weight fits; ``strict=False`` loads every tensor whose name and shape fit (e.g.
    a detector with another ``embed_dims``) and returns the report of the rest.
    """
    source = str(checkpoint) if isinstance(checkpoint, (str, Path)) else "checkpoint"
    state = read_checkpoint(checkpoint, key=key, allow_pickle=allow_pickle)
    expected = model.state_dict()
    has_text_model = any(k.startswith(_TEXT_MODEL) for k in expected)
    report = LoadReport(source=f"{source} [{key}]")
    other_head = _other_contrast_head(state, expected)
    fitting: dict[str, Tensor] = {}
    for name, value in state.items():
        if _SKIPPED.search(name) or (not has_text_model and name.startswith(_TEXT_MODEL)) or name in other_head:
            report.skipped.append(name)
        elif name not in expected:
            report.unexpected.append(name)
        elif value.shape != expected[name].shape:
            report.mismatched.append((name, tuple(value.shape), tuple(expected[name].shape)))
        else:
            fitting[name] = value
    report.loaded = list(fitting)
    report.model_keys = [k for k in expected if not _SKIPPED.search(k)]
    report.missing = [k for k in report.model_keys if k not in state]
    report.hints = _hints(model, report) + ([
        "expected: another contrastive head: the checkpoint's scores regions through BatchNorm "
        "(use_bn_head: true), this model's through L2 normalisation: their logit scale and bias mean "
        "different things, so this model keeps its own"] if other_head else [])
    if strict and not report.complete:
        raise CheckpointMismatchError(str(report))
    model.load_state_dict(fitting, strict=False)
    return report


_CONTRAST = re.compile(r"^bbox_head\.head_module\.cls_contrasts\.\d+\.")


def _other_contrast_head(state: Mapping[str, Tensor], expected: Mapping[str, Tensor]) -> set[str]:
    """The checkpoint's logit scale and bias when its contrastive head has BatchNorm and the model's
    has not (or the other way round): loaded, a BN head's small scale leaves the L2 head's cosine
    scores almost flat, and the trial learns next to nothing."""
    def has_norm(keys) -> bool:
        return any(_CONTRAST.match(k) and ".norm." in k for k in keys)

    if has_norm(state) == has_norm(expected):
        return set()
    return {k for k in state if _CONTRAST.match(k) and k.rsplit(".", 1)[-1] in ("logit_scale", "bias")}


def _hints(model: nn.Module, report: LoadReport) -> list[str]:
    """Plain-language causes of the usual mismatches."""
    hints = []
    names = [k for k, _, _ in report.mismatched] + report.missing
    head = getattr(getattr(model, "bbox_head", None), "head_module", None)
    if head is not None and any(re.search(r"cls_preds\.\d+\.[01]\.", k) for k in names):
        hints.append(
            f"expected: another class count: the head's class branch is max(first input width, "
            f"num_classes) = max({head.in_channels[0]}, {head.num_classes}) channels wide here but not in the "
            f"checkpoint: num_classes above the first head input width changes it; keep "
            f"num_classes <= {head.in_channels[0]} (the texts, not num_classes, decide the "
            f"classes) to load these layers")
    if head is not None and any("text_proj" in k or re.search(r"cls_preds\.\d+\.2\.", k)
                                for k in names):
        hints.append(
            f"expected: another embed_dims: the head's embed_dims ({head.embed_dims}) differs from the "
            f"checkpoint's; the last class convs, the contrast norms and the text projection start from "
            f"scratch, everything else loads (set embed_dims to the text width to load all)")
    if any("guide_fc" in k for k in names):
        hints.append("why: the neck's guide_channels (the text embedding width) differ from the "
                     "checkpoint's: use the text encoder the checkpoint was trained with")
    return hints


def load_start_weights(model: nn.Module, checkpoint: str | Path) -> LoadReport:
    """Load a starting checkpoint: every weight that fits, after `require_start_weights`."""
    report = load_checkpoint(model, checkpoint, strict=False)
    require_start_weights(report)
    return report
