"""The Ray Train worker loop: mmengine's Runner, data parallel on the process group Ray set up.

Ray has already initialised torch.distributed (gloo on CPU, NCCL on GPU) and set RANK/WORLD_SIZE,
so the Runner runs with launcher='pytorch' and does not initialise again; the model is wrapped in
MMDistributedDataParallel so gradients are synchronised (launcher='none' would silently let the
ranks drift apart). A restarted worker group resumes from the latest reported checkpoint.
"""
from __future__ import annotations

import copy
import shutil
from contextlib import nullcontext
from pathlib import Path

import ray.train
import ray.train.torch
import torch
from mmengine.config import Config

from trainables import contract
from trainables.checkpoint_io import own_checkpoints_loadable
from trainables.configs.recipe import use_mixed_precision
from trainables.contract import CHECKPOINT_FILE
from trainables.hooks import NonFiniteLossError


class TrialOutOfMemoryError(RuntimeError):
    """The trial ran out of (GPU or host) memory: retrying the same settings would fail again."""


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA's OutOfMemoryError, Python's MemoryError, or torch's CPU allocator failing (a plain
    RuntimeError from DefaultCPUAllocator)."""
    return isinstance(error, torch.OutOfMemoryError | MemoryError) or (
        isinstance(error, RuntimeError) and "DefaultCPUAllocator" in str(error))


def out_of_memory_error(error: BaseException, device: object, where: str) -> TrialOutOfMemoryError:
    """The error a trial ends with when `error` ran it out of memory: where, and what to lower."""
    return TrialOutOfMemoryError(
        f"out of memory on {device} while {where}: lower batch_size, image_size or the model's widths "
        f"(embed_dims, neck_embed_channels), or give each worker more memory: "
        f"{str(error).splitlines()[0][:300]}")


def adapt_to_worker(cfg: Config, device: torch.device, amp: bool | None) -> None:
    """Settings that depend on where the worker runs, applied to the final merged config.

    Mixed precision runs on a GPU unless `amp` is False, never on the CPU. On a CPU node, the
    run pauses between iterations while the speed lane times another trial's architecture.
    """
    cfg.launcher = "pytorch"
    cfg.work_dir = str(Path(cfg.work_dir).absolute())
    if device.type == "cuda":
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=[device.index],
                                     broadcast_buffers=False)
        if amp is not False:
            use_mixed_precision(cfg.optim_wrapper)
    else:
        # CPU DDP rejects device_ids, and SyncBatchNorm needs GPUs.
        cfg.model_wrapper_cfg = dict(type="MMDistributedDataParallel", device_ids=None, broadcast_buffers=False)
        cfg.model.use_syncbn = False
        cfg.custom_hooks.append(dict(type="CpuLaneShareHook"))
        for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
            if loader in cfg:
                cfg[loader].pin_memory = False  # pinning only helps host-to-GPU copies


def resume_from_ray_checkpoint(cfg: Config) -> bool:
    """Point the Runner at the latest reported checkpoint, if Ray restarted this worker group."""
    checkpoint = ray.train.get_checkpoint()
    if checkpoint is None:
        return False
    local = Path(cfg.work_dir) / "resume"
    local.mkdir(parents=True, exist_ok=True)
    with checkpoint.as_directory() as folder:
        shutil.copy(Path(folder) / CHECKPOINT_FILE, local / CHECKPOINT_FILE)
    cfg.load_from = str(local / CHECKPOINT_FILE)
    cfg.resume = True
    return True


def train_worker(loop_config: dict) -> None:
    """Ray Train's `train_loop_per_worker`: `loop_config["mmengine"]` is the complete config dict."""
    from mmengine.runner import Runner

    import trainables.registry  # noqa: F401  (registers every worldtune module)

    cfg = Config(copy.deepcopy(loop_config["mmengine"]))
    extras = cfg.pop("worldtune", {})
    device = ray.train.torch.get_device()
    adapt_to_worker(cfg, device, extras.get("amp"))
    resumed = resume_from_ray_checkpoint(cfg)
    if extras.get("init_checkpoint") and not resumed:
        cfg.custom_hooks.append(dict(type="PretrainedWeightsHook", checkpoint=extras["init_checkpoint"]))
    runner = None
    try:
        runner = Runner.from_cfg(cfg)  # building the model allocates its weights: it may not fit
        with own_checkpoints_loadable() if resumed else nullcontext():  # the Runner resumes in train()
            runner.val() if extras.get("mode") == "val" else runner.train()
    except NonFiniteLossError as error:  # every rank raises it at the same iteration
        ray.train.report({contract.STATUS: contract.TrialEnd.DIVERGED.value, contract.ERROR: str(error),
                          contract.EPOCH: runner.epoch, contract.FINISHED_BUDGET: False})
    except (RuntimeError, MemoryError) as error:
        if not is_out_of_memory(error):
            raise
        where = "building the model" if runner is None else "training"
        raise out_of_memory_error(
            error, device, f"{where} (batch size {cfg.train_dataloader.batch_size} per worker)") from error
