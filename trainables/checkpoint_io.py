"""Resuming from mmengine checkpoints under torch >= 2.6 (torch.load defaults to weights_only=True).

mmengine checkpoints carry plain objects besides tensors: the message hub's history buffers
(pickled with references to their statistics methods), numpy arrays and scalars. They are
allow-listed for the checkpoints a trial wrote itself, instead of switching the safe loader off
for the whole process.
"""
from __future__ import annotations

import builtins
import codecs
import collections
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

_MMENGINE_CHECKPOINT_GLOBALS = [
    HistoryBuffer, builtins.getattr, codecs.encode, collections.OrderedDict,
    np.ndarray, np.dtype, np._core.multiarray._reconstruct, np._core.multiarray.scalar,
    *(type(np.dtype(name)) for name in ("float64", "float32", "int64", "int32", "bool")),
]


@contextmanager
def own_checkpoints_loadable() -> Iterator[None]:
    """Within this block, torch.load accepts checkpoints that worldtune's trials wrote.

    `getattr` is among the allowed globals, so use it only for files this trial's storage holds.
    """
    with torch.serialization.safe_globals(_MMENGINE_CHECKPOINT_GLOBALS):
        yield
