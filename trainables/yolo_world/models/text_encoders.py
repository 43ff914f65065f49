"""Text backbones: a CLIP text tower from transformers, or precomputed embeddings.

Both take one list of N class texts per image and return B x N x D L2-normalised
text features, which is what the neck and head consume.
"""
from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmyolo.registry import MODELS
from torch import Tensor
from transformers import AutoTokenizer, CLIPTextConfig, CLIPTextModelWithProjection

from .freezing import freeze
from .text_cache import TextEmbeddingCache


def _flatten(text: Sequence[Sequence[str]], owner: str) -> tuple[list[str], int]:
    """All texts in batch order, and N; every image must carry the same number N."""
    counts = {len(texts) for texts in text}
    if len(counts) != 1:
        raise ValueError(
            f"{owner}: every image needs the same number of class texts, got "
            f"{[len(texts) for texts in text]}; pad the lists with '' (RandomLoadText "
            f"padding_to_max=True) or use LoadText for a fixed class list")
    return [t for texts in text for t in texts], counts.pop()


@MODELS.register_module()
class HuggingCLIPLanguageBackbone(BaseModule):
    """transformers CLIPTextModelWithProjection (in ``model``) plus its tokenizer.

    ``model_name`` is a local folder or a hub id that is already in the local cache.
    ``frozen_modules=['all']`` freezes the whole tower; it then also reuses cached
    embeddings per distinct text (exact, see text_cache.py) unless ``use_cache=False``
    (worldtune's switch; False runs the tower on every batch as the official code
    does). ``training_use_cache`` keeps the official meaning: reuse cached features
    in training even when the tower is not frozen.
    """

    def __init__(self, model_name: str, frozen_modules: Sequence[str] = (),
                 dropout: float = 0.0, training_use_cache: bool = False,
                 init_cfg: dict | None = None, use_cache: bool = True) -> None:
        super().__init__(init_cfg=init_cfg)
        self.frozen_modules = tuple(frozen_modules)
        self.training_use_cache = training_use_cache
        self.use_cache = use_cache
        # A folder or the local Hugging Face cache: nothing is downloaded at run time.
        self.tokenizer = AutoTokenizer.from_pretrained(model_name, local_files_only=True)
        config = CLIPTextConfig.from_pretrained(model_name, attention_dropout=dropout, local_files_only=True)
        self.model = CLIPTextModelWithProjection.from_pretrained(model_name, config=config, local_files_only=True)
        self.cache = TextEmbeddingCache()
        # New weights (a checkpoint) make cached embeddings stale. The hook gets the module
        # as an argument, so a deep copy (mmengine's EMA model) clears its own cache.
        self.register_load_state_dict_pre_hook(lambda module, *args: module.cache.clear())
        self._freeze_modules()

    @property
    def uses_cache(self) -> bool:
        """Whether forward reuses cached embeddings (exact only for a frozen tower)."""
        frozen = "all" in self.frozen_modules
        return (self.use_cache and frozen) or (self.training and self.training_use_cache)

    def _freeze_modules(self) -> None:
        if "all" in self.frozen_modules:
            freeze(self.model)
            return
        names = dict(self.model.named_modules())
        for prefix in self.frozen_modules:
            matches = [m for name, m in names.items() if name.startswith(prefix)]
            if not matches:
                close = difflib.get_close_matches(prefix, list(names), n=3)
                raise ValueError(
                    f"HuggingCLIPLanguageBackbone: frozen_modules entry {prefix!r} matches no "
                    f"module of the text model; use 'all' or a module name prefix"
                    + (f" such as {close}" if close else ""))
            for module in matches:
                freeze(module)

    def train(self, mode: bool = True) -> HuggingCLIPLanguageBackbone:
        """Train mode, keeping frozen modules frozen."""
        super().train(mode)
        self._freeze_modules()
        return self

    def encode(self, texts: list[str]) -> Tensor:
        """L2-normalised text_embeds (len(texts) x D), no cache."""
        device = self.model.text_projection.weight.device
        tokens = self.tokenizer(text=texts, return_tensors="pt", padding=True, truncation=True)
        feats = self.model(**tokens.to(device)).text_embeds
        return feats / feats.norm(p=2, dim=-1, keepdim=True)

    def forward(self, text: Sequence[Sequence[str]]) -> Tensor:
        """B x N x D features for one list of N texts per image."""
        flat, n = _flatten(text, type(self).__name__)
        if self.uses_cache:
            device = self.model.text_projection.weight.device
            feats = self.cache.lookup(flat, self.encode).to(device)
        else:
            feats = self.encode(flat)
        return feats.reshape(len(text), n, -1)


@MODELS.register_module()
class PrecomputedLanguageBackbone(BaseModule):
    """Text features looked up in an N x D .npy (e.g. written by export_text_embeddings).

    ``class_text_path`` is the class-name JSON (list of synonym lists) whose entry i
    names row i; every synonym maps to that row. The padding text '' maps to a
    zero vector (it then matches nothing) unless the JSON lists it.
    """

    def __init__(self, embedding_path: str, class_text_path: str,
                 init_cfg: dict | None = None) -> None:
        super().__init__(init_cfg=init_cfg)
        embeddings = torch.from_numpy(np.load(embedding_path)).float()
        class_texts = json.loads(Path(class_text_path).read_text())
        if embeddings.ndim != 2 or embeddings.shape[0] != len(class_texts):
            raise ValueError(
                f"PrecomputedLanguageBackbone: {embedding_path} holds an array of shape "
                f"{tuple(embeddings.shape)} but {class_text_path} names {len(class_texts)} "
                f"classes; the .npy needs one row per class, in the same order")
        self.index = {text: row for row, synonyms in enumerate(class_texts) for text in synonyms}
        zero_row = embeddings.new_zeros(1, embeddings.shape[1])
        padded = torch.cat([F.normalize(embeddings, dim=-1), zero_row])
        self.index.setdefault("", len(class_texts))
        self.register_buffer("embeddings", padded, persistent=False)

    def forward(self, text: Sequence[Sequence[str]]) -> Tensor:
        """B x N x D features for one list of N texts per image."""
        flat, n = _flatten(text, type(self).__name__)
        unknown = [t for t in dict.fromkeys(flat) if t not in self.index]
        if unknown:
            hints = {t: difflib.get_close_matches(t, list(self.index), n=1) for t in unknown}
            raise KeyError(
                "PrecomputedLanguageBackbone: texts with no precomputed embedding: "
                + ", ".join(f"{t!r}" + (f" (did you mean {h[0]!r}?)" if h else "")
                            for t, h in hints.items())
                + "; regenerate the .npy with export_text_embeddings for these classes")
        rows = torch.tensor([self.index[t] for t in flat], device=self.embeddings.device)
        return self.embeddings[rows].reshape(len(text), n, -1)


def export_text_embeddings(text_model: HuggingCLIPLanguageBackbone,
                           class_texts: Sequence[Sequence[str]], path: str | Path) -> np.ndarray:
    """Write the N x D embeddings of each class's first synonym to ``path`` (.npy).

    The file serves PrecomputedLanguageBackbone, SimpleYOLOWorldDetector's
    ``embedding_path`` (prompt tuning) and reparameterization.
    """
    with torch.no_grad():
        feats = text_model.encode([synonyms[0] for synonyms in class_texts]).cpu().numpy()
    np.save(path, feats)
    return feats
