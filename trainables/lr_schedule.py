"""The trial's learning rate, set before every training iteration from `Schedule.lr_factor`.

It replaces mmyolo's YOLOv5ParamSchedulerHook, whose warm-up lasts at least 1000 iterations (a
small dataset's whole run), whose decay starts at epoch 0 (so the lr after warm-up is already
below the one searched), and whose third parameter group warms up from 0.1.
"""
from __future__ import annotations

from mmengine.hooks import Hook
from mmyolo.registry import HOOKS

from trainables.configs.recipe import Schedule
from trainables.contract import WARMUP_ITERS


@HOOKS.register_module()
class TrialLrScheduleHook(Hook):
    """Every parameter group at its configured lr (its lr_mult included) times the schedule's factor."""

    priority = 9  # before mmengine's RuntimeInfoHook (VERY_HIGH, 10) logs the iteration's lr

    def __init__(self, schedule: dict) -> None:
        self.schedule = Schedule(**schedule)

    def before_train(self, runner) -> None:
        for group in runner.optim_wrapper.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])  # saved with the optimizer: a resumed run keeps it
        per_epoch = len(runner.train_dataloader)
        warmup, total = self.schedule.warmup_iters(per_epoch), self.schedule.epochs * per_epoch
        runner.message_hub.update_info(WARMUP_ITERS, warmup)  # reported with every epoch
        runner.logger.info(f"lr schedule: warm-up {warmup} of {total} iterations ({warmup / total:.0%}), "
                           f"then {self.schedule.lr_schedule} decay from lr {self.schedule.lr:g} to "
                           f"{self.schedule.lr * self.schedule.lr_final_factor:g}")

    def before_train_iter(self, runner, batch_idx: int, data_batch=None) -> None:
        factor = self.schedule.lr_factor(runner.iter, len(runner.train_dataloader))
        for group in runner.optim_wrapper.optimizer.param_groups:
            group["lr"] = group["initial_lr"] * factor


def trained_lr(runner) -> float:
    """The lr the detector's own weights train at now: the largest group's (the text tower's groups
    run at a small lr_mult, and group 0 may be one of them)."""
    return max(runner.optim_wrapper.get_lr()["lr"])
