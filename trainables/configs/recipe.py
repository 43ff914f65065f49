"""The training side of a fine-tune (optimizer, LR schedule, EMA, loops, evaluation), shared by
YOLO-World trials and the plain YOLOv8 baseline so that their speed compares like with like.

Values follow the official YOLO-World v2 fine-tune recipe (AdamW 2e-4, weight decay 0.05, grad
clip 10, EMA 1e-4, linear decay to 0.01x, mosaic closed for the last epochs), sized by the trial,
with one change for short runs: the official warm-up (at least 1000 iterations) is capped at a
fraction of the trial's iterations, and the decay starts where the warm-up ends, so a trial on a
small dataset trains at the lr it was given instead of spending its whole run warming up.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from trainables.params import TrialParams


@dataclass(frozen=True)
class Schedule:
    """The trial's schedule; its values (and their defaults) are the trial parameters'."""

    epochs: int
    lr: float
    weight_decay: float
    batch_size: int                   # per worker
    warmup_epochs: float
    warmup_min_iters: int             # official: warm up for max(3 epochs, 1000 iterations)
    warmup_max_fraction: float        # ... but never for more than this share of the trial
    lr_schedule: str                  # "linear" or "cosine"
    close_mosaic_epochs: int
    lr_final_factor: float = 0.01
    val_interval: int = 1

    @classmethod
    def of(cls, params: TrialParams) -> Schedule:
        return cls(**{f.name: getattr(params, f.name) for f in fields(cls) if hasattr(params, f.name)})

    def warmup_iters(self, iters_per_epoch: int) -> int:
        """The official max(warmup_epochs, warmup_min_iters), capped at warmup_max_fraction of the run."""
        wanted = max(round(self.warmup_epochs * iters_per_epoch), self.warmup_min_iters)
        return min(wanted, int(self.warmup_max_fraction * self.epochs * iters_per_epoch))

    def lr_factor(self, iteration: int, iters_per_epoch: int) -> float:
        """The share of each parameter group's lr at (0-based) `iteration`: a linear ramp from 0 that
        reaches 1 at the end of the warm-up, then a linear or cosine decay to `lr_final_factor` at
        the last iteration. Biases ramp from 0 like every other weight (mmyolo's hook starts its
        'group 2' at 0.1, meant for YOLOv5's SGD bias group; with one group per parameter, as
        here, that would be an arbitrary tensor at 50x the lr)."""
        warmup, total = self.warmup_iters(iters_per_epoch), self.epochs * iters_per_epoch
        if iteration < warmup:
            return (iteration + 1) / warmup
        progress = (iteration - warmup) / max(total - 1 - warmup, 1)  # 0 at the peak, 1 at the last
        progress = min(progress, 1.0)
        if self.lr_schedule == "cosine":
            progress = (1 - math.cos(math.pi * progress)) / 2
        return 1 - (1 - self.lr_final_factor) * progress


def iterations_per_epoch(train_images: int, batch_size: int, workers: int) -> int:
    """Training iterations each worker runs per epoch (the sampler splits the images, then batches)."""
    return max(math.ceil(math.ceil(train_images / workers) / batch_size), 1)


def use_mixed_precision(optim_wrapper: dict, dtype: str = "float16") -> None:
    """Switch an OptimWrapper config to mmengine's AMP wrapper (GPU only; the worker decides)."""
    optim_wrapper.update(type="AmpOptimWrapper", dtype=dtype, loss_scale="dynamic")


def training_recipe(schedule: Schedule, *, optimizer_constructor: str, paramwise_cfg: dict | None,
                    stage2_pipeline: list[dict], val_ann_file: str, work_dir: str, seed: int = 0,
                    log_interval: int = 10) -> dict:
    """Everything but the model and the dataloaders, as an mmengine config dict."""
    close_at = max(schedule.epochs - schedule.close_mosaic_epochs, 0)
    optim_wrapper = dict(
        type="OptimWrapper",
        clip_grad=dict(max_norm=10.0),
        optimizer=dict(type="AdamW", lr=schedule.lr, weight_decay=schedule.weight_decay,
                       batch_size_per_gpu=schedule.batch_size),
        constructor=optimizer_constructor,
    )
    if paramwise_cfg:
        optim_wrapper["paramwise_cfg"] = paramwise_cfg
    custom_hooks = [dict(type="EMAHook", ema_type="ExpMomentumEMA", momentum=0.0001, update_buffers=True,
                         strict_load=False, priority=49)]
    if schedule.close_mosaic_epochs > 0:
        custom_hooks.append(dict(type="mmdet.PipelineSwitchHook", switch_epoch=close_at,
                                 switch_pipeline=stage2_pipeline))
    return dict(
        default_scope="mmyolo",
        work_dir=work_dir,
        randomness=dict(seed=seed),
        env_cfg=dict(cudnn_benchmark=True, mp_cfg=dict(mp_start_method="fork", opencv_num_threads=0),
                     dist_cfg=dict(backend="nccl")),
        optim_wrapper=optim_wrapper,
        param_scheduler=None,
        default_hooks=dict(
            timer=dict(type="IterTimerHook"),
            logger=dict(type="LoggerHook", interval=log_interval),
            param_scheduler=dict(type="TrialLrScheduleHook", schedule=asdict(schedule)),
            checkpoint=None,  # checkpoints go through Ray Train (see trainables/hooks.py)
            sampler_seed=dict(type="DistSamplerSeedHook"),
        ),
        custom_hooks=custom_hooks,
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=schedule.epochs, val_interval=schedule.val_interval,
                       dynamic_intervals=[(close_at, 1)]),
        val_cfg=dict(type="ValLoop"),
        test_cfg=dict(type="TestLoop"),
        # Ranks hand their results to rank 0 through files; by default in a folder relative to
        # each worker's working directory, which differs between nodes: use the (shared) work dir.
        val_evaluator=dict(type="DetectionCocoMetric", ann_file=val_ann_file,
                           collect_dir=f"{work_dir}/.dist_results"),
        test_evaluator=dict(type="DetectionCocoMetric", ann_file=val_ann_file,
                            collect_dir=f"{work_dir}/.dist_results"),
        log_processor=dict(type="LogProcessor", window_size=log_interval, by_epoch=True),
        log_level="INFO",
        load_from=None,
        resume=False,
    )
