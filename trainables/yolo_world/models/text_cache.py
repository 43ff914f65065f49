"""Memo of a frozen text encoder's output, one entry per distinct text.

The official code runs the CLIP text tower on every training step for B images x
up to 80 class texts, although a frozen encoder gives the same vector for the same
text every time. Encoding each distinct text once and reusing it is exact (the
CLIP text embedding of a text does not depend on the other texts in the batch) and
removes most of a CPU training step's cost.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor


class TextEmbeddingCache:
    """Maps text -> embedding; ``lookup`` encodes only the texts it has not seen."""

    def __init__(self) -> None:
        self._store: dict[str, Tensor] = {}
        #: Texts encoded so far (cache misses), for reports and tests.
        self.encoded = 0

    def __len__(self) -> int:
        return len(self._store)

    def clear(self) -> None:
        """Forget everything, e.g. after the encoder's weights changed."""
        self._store.clear()

    def lookup(self, texts: Sequence[str], encode: Callable[[list[str]], Tensor]) -> Tensor:
        """Embeddings (len(texts) x D) of ``texts``; ``encode`` runs once on the new ones."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._store))
        if missing:
            with torch.no_grad():
                feats = encode(missing)
            self._store.update(zip(missing, feats.detach()))
            self.encoded += len(missing)
        return torch.stack([self._store[t] for t in texts])
