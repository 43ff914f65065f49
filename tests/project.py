"""What many test modules share: the repository's folders and a small, fast search space."""
from __future__ import annotations

import json
from pathlib import Path

from trainables.speed_protocol import SpeedProtocol

ROOT = Path(__file__).resolve().parents[1]
SPACES = ROOT / "spaces"
OFFICIAL_FIXTURES = ROOT / "tests" / "fixtures" / "yolo_world_official"   # copied from the official code's output

QUICK_SPEED = SpeedProtocol(warmup_s=0.05, rounds=3, round_s=0.02, attempts=1, quiet_wait_s=0)
"""The speed lane's protocol for tests of what a search or trial does with its figures, not of the
figures themselves: one short attempt, no waiting for a quiet machine (about 15 s less per
architecture timed on 2 cores; `tests/trainables/test_trainables_speed*.py` test the measurement)."""

FAST = dict(size="tiny", epochs=2, batch_size=8, image_size=160, close_mosaic_epochs=1, warmup_epochs=0.5,
            warmup_min_iters=2)


RETENTION = {"objectives": {"retention": "demo-general"},
             "parameters": {"general_mix": {"type": "float", "low": 0.0, "high": 0.25, "step": 0.25}}}
"""What `write_space(..., retention=True)` adds: demo-general's zero-shot mAP as the third objective,
and general images mixed into training as a searched share."""


def write_space(folder: Path, name: str, clip: Path, epochs: int = 2, retention: bool = False, **budget: int) -> Path:
    space = {"name": name, "datasets": ["demo-defects"], "model": {"text_encoder": str(clip)},
             "parameters": {"lr": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True},
                            "use_bn_head": {"type": "bool"},
                            "cls_loss": {"type": "choice", "values": ["bce", "focal"]},
                            **(RETENTION["parameters"] if retention else {})},
             **({"objectives": RETENTION["objectives"]} if retention else {}),
             "fixed": FAST | {"epochs": epochs}, "sampler": {"type": "tpe", "seed": 0}, "scheduler": {"type": "none"},
             "budget": budget, "resources": {"workers": 1, "cpus_per_worker": 1}, "speed": QUICK_SPEED.as_dict(),
             "storage": {"root": str(folder / "runs")}}
    file = folder / f"{name}.yaml"
    file.write_text(json.dumps(space))  # JSON is YAML
    return file
