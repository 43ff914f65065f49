"""A finished trial's model rebuilt from its values and its last reported checkpoint.

What export.py writes and what the end-to-end timing of the front runs: the trial's complete
config (rebuilt from its values, so it needs no Ray), its detector with the checkpoint's weights
(the EMA weights when EMA was on), and the class texts a text-path model is deployed with.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from torch import nn

from trainables.contract import CHECKPOINT_FILE
from trainables.dataset_files import DatasetFiles
from trainables.params import TrialParams
from trainables.yolo_world.data.class_texts import load_class_texts


@dataclass(frozen=True)
class TrainedTrial:
    cfg: dict[str, Any]             # the complete mmengine config, as the trial ran (bar general_mix)
    model: nn.Module                # eval mode, CPU, the checkpoint's weights
    params: TrialParams
    class_texts: list[list[str]]

    @property
    def deployed_texts(self) -> list[str] | None:
        """The class texts a text-path model encodes once at deployment; None for prompt-tuned and
        reparameterized models (their class features are in the weights)."""
        if self.params.strategy in ("prompt", "reparameterized"):
            return None
        return [texts[0] for texts in self.class_texts]


def load_trained(values: dict[str, Any], data: DatasetFiles, checkpoint_dir: str | Path,
                 work_dir: str | Path) -> TrainedTrial:
    """Rebuild the trial (config files it needs go to `work_dir`) and load its checkpoint strictly."""
    import trainables.registry  # noqa: F401  (registers every worldtune module)
    from trainables.configs.yolo_world import build_trial_config
    from trainables.yolo_world.models.build import build_model
    from trainables.yolo_world.models.checkpoints import load_checkpoint

    params = TrialParams.from_dict(values)
    # general images mixed into training need the retention set, and shape no weight: left out
    cfg = build_trial_config(replace(params, general_mix=0.0), data, work_dir, num_data_workers=0)
    model = build_model(cfg["model"], sync_bn_to_bn=True)
    load_checkpoint(model, Path(checkpoint_dir) / CHECKPOINT_FILE, strict=True)
    return TrainedTrial(cfg=cfg, model=model.eval(), params=params,
                        class_texts=load_class_texts(data.class_text_file))
