"""The demo start detector: a YOLO-World pretrained on `demo-general`, made once and cached.

Prompt tuning, the reparameterized model and zero-shot adapt a trained detector; a random one
learns nothing from them. Offline there is no official checkpoint, so the first search that asks
for `checkpoint: demo` (the shipped spaces do) trains one of the trials' size on the broad demo set
at 160 px and keeps it under the data root beside the demo sets, one file per size and text
encoder. The demo datasets'
classes are not among its six, so using it on them is transfer to unseen classes, as with a real
pretrained checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

from search.datasets.demo import ensure_demo_dataset
from trainables.params import TrialParams

DEMO_CHECKPOINT = "demo"
"""The `model.checkpoint` (or `load_from`) value that stands for this detector."""
PRETRAIN_SET = "demo-general"
PRETRAIN_VALUES = dict(image_size=160, epochs=12, batch_size=8, lr=2e-3, close_mosaic_epochs=2, seed=0)
"""Its recipe: about 450 iterations, two to three minutes for the tiny model on two CPU cores."""


def demo_checkpoint_file(root: Path, size: str, text_encoder: str) -> Path:
    """Where the detector is kept: a name per size and text encoder (its width and texts)."""
    key = hashlib.sha256(json.dumps([text_encoder, PRETRAIN_VALUES]).encode()).hexdigest()[:10]
    return Path(root) / "demo-start" / f"yolo_world_{size}_{key}.pth"


def ensure_demo_checkpoint(root: Path, size: str, text_encoder: str) -> Path:
    """The demo start detector of `size` for `text_encoder`, trained on first use (saying so), cached."""
    out = demo_checkpoint_file(root, size, text_encoder)
    if out.is_file():
        return out
    data = ensure_demo_dataset(PRETRAIN_SET, root)
    params = TrialParams.from_dict(PRETRAIN_VALUES | dict(size=size, text_encoder=text_encoder))
    print(f"[worldtune] training the demo start detector once (YOLO-World {size}, {params.epochs} epochs on "
          f"{PRETRAIN_SET}; minutes on a laptop CPU for the tiny size); it is kept in {out}", flush=True)
    from trainables.api import train_locally

    started = time.monotonic()
    work_dir = Path(tempfile.mkdtemp(prefix="worldtune-demo-start-"))
    staging = out.with_name(f".{out.name}.{work_dir.name}")
    try:
        metrics = train_locally(params, data, work_dir, staging, label="[worldtune] demo start detector")
        staging.replace(out)  # atomic: a half-written file never shows
    finally:
        staging.unlink(missing_ok=True)
        shutil.rmtree(work_dir, ignore_errors=True)
    print(f"[worldtune] demo start detector ready in {time.monotonic() - started:.0f} s: map {metrics['map']:.3f}, "
          f"map_50 {metrics['map_50']:.3f} on {PRETRAIN_SET} val", flush=True)
    return out
