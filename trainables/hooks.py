"""mmengine hooks that connect a training run to Ray Train: per-epoch reports and divergence stops.

They live outside the YOLO-World package because they import Ray; the model stays a plain mmyolo
extension.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from pathlib import Path

import torch
from mmengine.dist import all_reduce, get_rank, is_distributed
from mmengine.hooks import EMAHook, Hook
from mmyolo.registry import HOOKS

from trainables import contract
from trainables.contract import CHECKPOINT_FILE, HISTORY_FILE
from trainables.cpu_lane import TrainingShare
from trainables.lr_schedule import trained_lr
from trainables.retention import RETENTION_INFO
from trainables.speed_lane import LaneRequest, lane_speed
from trainables.yolo_world.models.checkpoints import load_start_weights


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite: the trial has diverged."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop a diverged run at the first non-finite loss instead of burning its budget.

    Every rank sees the decision at the same iteration (one tiny all-reduce), so no rank is left
    waiting in a collective for a peer that stopped.
    """

    priority = "VERY_HIGH"

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        loss = (outputs or {}).get("loss")
        value = None if loss is None else float(loss.detach() if torch.is_tensor(loss) else loss)
        bad = torch.tensor([0.0 if value is None or math.isfinite(value) else 1.0])
        if is_distributed():
            all_reduce(bad, op="max")
        if bad.item() > 0:
            here = value is not None and not math.isfinite(value)
            raise NonFiniteLossError(
                f"training loss became {value if here else 'non-finite on another rank'} at epoch "
                f"{runner.epoch + 1}, iteration {runner.iter + 1}; lower the learning rate or check the data")


def _ema_model(runner) -> torch.nn.Module | None:
    for hook in runner.hooks:
        if isinstance(hook, EMAHook):
            return hook.ema_model.module
    return None


def _detector(runner) -> torch.nn.Module:
    model = runner.model
    return model.module if hasattr(model, "module") else model


def report_hook(config: dict) -> dict:
    """The `RayTrainReportHook` entry of a trial config (every trial config has one)."""
    return next(hook for hook in config["custom_hooks"] if hook["type"] == "RayTrainReportHook")


@HOOKS.register_module()
class RayTrainReportHook(Hook):
    """After every validation: one `ray.train.report` with the metrics and a resumable checkpoint.

    Runs last (after the EMA hook has swapped the training weights back) so the checkpoint holds
    both weight sets as mmengine expects. Every report carries the architecture's speed, so the
    search knows it from a trial's first report on: `speed_metrics` when the trial function got
    them from the speed lane before training (trainables/driver.py), else rank 0 asks the lane
    itself before the first epoch (`speed`: a `LaneRequest` as a dict; a config run directly).
    """

    priority = "LOWEST"

    def __init__(self, speed: dict | None = None, speed_metrics: dict | None = None, val_only: bool = False) -> None:
        self.speed, self.val_only = speed, val_only
        self._speed_metrics: dict = dict(speed_metrics or {})
        self._started = time.monotonic()
        self._resumed_wall_s = 0.0
        self._history: list[dict] = []

    def before_run(self, runner) -> None:
        if get_rank() == 0 and self.speed and not self._speed_metrics:
            device = next(_detector(runner).parameters()).device
            self._speed_metrics = lane_speed(runner.cfg.model.to_dict(), LaneRequest.from_dict(self.speed), device,
                                             log=runner.logger.info)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get("meta", {})
        self._resumed_wall_s = float(meta.get("wall_s", 0.0))
        self._history = list(meta.get("worldtune_history", []))

    def _wall_s(self) -> float:
        return self._resumed_wall_s + time.monotonic() - self._started

    def _train_metrics(self, runner) -> dict[str, float]:
        hub = runner.message_hub
        iterations = max(len(runner.train_dataloader), 1)
        return {
            contract.EPOCH: runner.epoch,
            contract.TRAIN_LOSS: float(hub.get_scalar("train/loss").mean(iterations)),
            contract.LEARNING_RATE: trained_lr(runner),
            contract.WARMUP_ITERS: hub.get_info(contract.WARMUP_ITERS, 0),
            contract.TRAIN_ITERS: runner.iter,
            contract.WALL_S: self._wall_s(),
        }

    def after_val_epoch(self, runner, metrics: dict[str, float] | None = None) -> None:
        import ray.train

        report = {key.split("/", 1)[-1]: value for key, value in (metrics or {}).items()}
        if "train/loss" in runner.message_hub.log_scalars:  # absent when only validating
            report |= self._train_metrics(runner)
        final = self.val_only or runner.epoch >= runner.max_epochs
        report[contract.FINISHED_BUDGET] = final
        report |= self._speed_metrics | runner.message_hub.get_info(contract.START_WEIGHTS, {})
        report |= runner.message_hub.get_info(RETENTION_INFO, {})  # the last report: RetentionEvalHook ran
        folder = None
        if get_rank() == 0 and not self.val_only:  # evaluation alone changes no weights
            self._history.append(report | {"timestamp": time.time()})
            folder = Path(tempfile.mkdtemp(prefix="worldtune-ckpt-"))
            runner.save_checkpoint(str(folder), CHECKPOINT_FILE, save_optimizer=True,
                                   save_param_scheduler=True,
                                   meta=dict(epoch=runner.epoch, iter=runner.iter, wall_s=self._wall_s(),
                                             worldtune_history=self._history))
            (folder / HISTORY_FILE).write_text(json.dumps(self._history, default=str))
        try:
            checkpoint = ray.train.Checkpoint.from_directory(str(folder)) if folder else None
            ray.train.report(report, checkpoint=checkpoint)
        finally:
            if folder:
                shutil.rmtree(folder, ignore_errors=True)


@HOOKS.register_module()
class CpuLaneShareHook(Hook):
    """On a CPU node: let the speed lane in between iterations (see `trainables.cpu_lane`), so
    that no trial trains while another one's architecture is timed."""

    priority = "VERY_LOW"

    def __init__(self) -> None:
        self._share = TrainingShare()

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._share.pause_point()

    def before_val_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        self._share.pause_point()

    def after_val_epoch(self, runner, metrics=None) -> None:
        """Before the report hook (priority LOWEST) waits on Ray to take the epoch's report and
        checkpoint: that wait must not keep the lane out."""
        self._share.step_aside()

    def after_run(self, runner) -> None:
        self._share.release()


@HOOKS.register_module()
class PretrainedWeightsHook(Hook):
    """Start from a user's checkpoint (official or worldtune), loading every weight that fits.

    mmengine's own `load_from` would refuse official checkpoints under torch's safe loader and
    fail on any shape difference (another embed_dims, class count); this loads what fits, refuses
    a file that leaves most class-independent weights unloaded (`require_start_weights`), logs
    what did not fit and why, reports the counts with every epoch, and copies the result into the
    EMA model so both start equal.
    """

    priority = "VERY_HIGH"

    def __init__(self, checkpoint: str) -> None:
        self.checkpoint = checkpoint
        self._loaded = False

    def _load(self, runner) -> None:
        if self._loaded:
            return
        detector = _detector(runner)
        report = load_start_weights(detector, self.checkpoint)
        runner.logger.info(f"initial weights: {report}")
        core_loaded, core = report.class_independent
        runner.message_hub.update_info(contract.START_WEIGHTS, {
            contract.START_LOADED: len(report.loaded), contract.START_TENSORS: len(report.model_keys),
            contract.START_CORE_LOADED: core_loaded, contract.START_CORE_TENSORS: core})
        ema = _ema_model(runner)
        if ema is not None:
            ema.load_state_dict(detector.state_dict())
        self._loaded = True

    def before_train(self, runner) -> None:
        self._load(runner)

    def before_val(self, runner) -> None:
        self._load(runner)
