"""A trial's fine-tune on this process, outside Ray: a plain mmengine Runner on the trial's own config.

Used for the demo start detector (search/datasets/demo_start.py), which is trained once, before
any search, where no Ray Train worker group exists yet. The recipe is the trials' (same model,
data pipelines, optimizer, lr schedule, EMA); only Ray's report hook is left out, and the run is
validated once, at the end.
"""
from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from mmengine.hooks import Hook

from trainables.configs.yolo_world import build_trial_config
from trainables.dataset_files import DatasetFiles
from trainables.params import TrialParams


class _EpochLines(Hook):
    """One console line per epoch (mmengine's own log, config dump included, stays at WARNING)."""

    def __init__(self, say: Callable[[str], None], label: str) -> None:
        self.say, self.label = say, label

    def after_train_epoch(self, runner) -> None:
        loss = runner.message_hub.get_scalar("train/loss").mean(len(runner.train_dataloader))
        self.say(f"{self.label}: epoch {runner.epoch + 1}/{runner.max_epochs}, train_loss {loss:.4g}")


def local_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """`cfg` (a trial config) for a Runner on this process: no Ray report hook, no worldtune extras,
    one validation at the end."""
    cfg = copy.deepcopy(cfg)
    cfg["custom_hooks"] = [hook for hook in cfg["custom_hooks"] if hook["type"] != "RayTrainReportHook"]
    cfg.pop("worldtune", None)
    cfg["train_cfg"].update(val_interval=cfg["train_cfg"]["max_epochs"] + 1, dynamic_intervals=None)  # val once, after
    return cfg


def train_locally(params: TrialParams, data: DatasetFiles, work_dir: Path, out: Path, *,
                  say: Callable[[str], None] = print, label: str = "training") -> dict[str, float]:
    """Train `params` on `data`, save the final (EMA) weights as {'state_dict'} to `out`, and return
    the validation metrics at the end (`map`, `map_50`, ...); `say` gets a line per epoch."""
    from mmengine.config import Config
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401  (registers every worldtune module)
    from trainables.yolo_world.models.checkpoints import read_checkpoint

    cfg = local_config(build_trial_config(params, data, work_dir, num_data_workers=0)) | {"log_level": "WARNING"}
    runner = Runner.from_cfg(Config(cfg))
    runner.register_hook(_EpochLines(say, label), priority="LOWEST")
    runner.train()
    metrics = {key.split("/", 1)[-1]: float(value) for key, value in runner.val().items()}
    runner.save_checkpoint(str(work_dir), "final.pth", save_optimizer=False, save_param_scheduler=False)
    state = read_checkpoint(work_dir / "final.pth")  # 'state_dict': the EMA weights, as in every trial checkpoint
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "meta": {"metrics": metrics, "params": params.as_dict()}}, out)
    return metrics
