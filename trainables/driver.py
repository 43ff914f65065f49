"""The Tune trial: a plain function that asks the speed lane, then builds and fits a Ray Train
TorchTrainer.

Under Ray Train V2 a TorchTrainer cannot be handed to a Tuner; a trial function fits one instead,
and `trainables.tune_reports` forwards rank 0's per-epoch reports to Tune (one report = one Tune
`training_iteration`, what the schedulers count). The Train run lives in the trial's own folder,
so a trial that Tune restarts (after the search driver was killed) resumes from its latest
checkpoint. Before any of that, the speed lane times the architecture in a Ray task on a worker's
resources (the same kind of node and device the workers get): a trial that breaks the space's
limits (`SpeedConstraints`) reports "infeasible" once and starts no Train worker.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import ray.train
import ray.tune
from ray.train.torch import TorchTrainer

from trainables import contract
from trainables.hooks import report_hook
from trainables.resources import TrialResources
from trainables.speed_constraints import SpeedConstraints
from trainables.tune_reports import QueuedReports, fit_reporting_to_tune
from trainables.worker import is_out_of_memory, out_of_memory_error, train_worker

ConfigBuilder = Callable[[dict, str], dict]
"""(trial parameters, absolute work dir) -> complete mmengine config dict."""


@ray.remote
def _lane_task(model_cfg: dict, request: dict, log_file: str) -> dict:
    import torch

    from trainables.speed_lane import LaneRequest, lane_speed

    device = torch.device("cuda", 0) if ray.get_gpu_ids() else torch.device("cpu")
    with open(log_file, "a") as log:
        try:
            return lane_speed(model_cfg, LaneRequest.from_dict(request), device,
                              log=lambda line: print(line, file=log, flush=True))
        except (RuntimeError, MemoryError) as error:
            if not is_out_of_memory(error):
                raise
            raise out_of_memory_error(error, device, "building the model for the speed lane") from error


def speed_before_training(config: dict, resources: TrialResources) -> dict:
    """The trial's speed metrics from the lane (cache or timed now), before a Train worker starts;
    the lane's lines go to `speed_lane.log` in the trial's work dir."""
    hook = report_hook(config)
    log_file = Path(config["work_dir"]) / contract.SPEED_LANE_LOG
    task = _lane_task.options(**resources.lane_task_options())
    return ray.get(task.remote(config["model"], hook["speed"], str(log_file)))


def run_trial(params: dict, *, build_config: ConfigBuilder, resources: TrialResources, train_storage: str,
              constraints: SpeedConstraints = SpeedConstraints(), max_failures: int = 1) -> None:
    """Tune function trainable: one trial = the speed lane, then one data-parallel fine-tune, or
    a single "infeasible" report (the lane's figures and why) when it breaks `constraints`.

    The Train run is `train_storage/<trial id>` (persistent, shared by the nodes on a cluster):
    trial ids survive a resumed search, so a re-run trial finds its checkpoints there.
    `max_failures` restarts a crashed worker group from the latest checkpoint; errors raised by
    the training code itself (bad settings, out of memory) reach Tune as the trial's error.
    """
    run_name = ray.tune.get_context().get_trial_id()
    config = build_config(params, str(Path(train_storage) / run_name / "work_dir"))
    speed = speed_before_training(config, resources)
    failure = constraints.failure(speed)
    if failure:
        ray.tune.report(speed | {contract.STATUS: contract.TrialEnd.INFEASIBLE.value, contract.INFEASIBLE_WHY: failure,
                                 contract.EPOCH: 0, contract.FINISHED_BUDGET: False})
        return
    report_hook(config)["speed_metrics"] = speed
    reports = QueuedReports()
    trainer = TorchTrainer(
        train_worker,
        train_loop_config={"mmengine": config},
        scaling_config=resources.scaling_config(),
        run_config=ray.train.RunConfig(
            name=run_name,
            storage_path=train_storage,
            callbacks=[reports],
            failure_config=ray.train.FailureConfig(max_failures=max_failures),
            checkpoint_config=ray.train.CheckpointConfig(num_to_keep=1),
        ),
    )
    fit_reporting_to_tune(trainer.fit, reports)


def make_trainable(build_config: ConfigBuilder, resources: TrialResources, train_storage: str | Path,
                   constraints: SpeedConstraints = SpeedConstraints(), max_failures: int = 1):
    """`run_trial` bound to a config builder, with its resources and limits, ready for `tune.Tuner`."""
    trainable = ray.tune.with_parameters(run_trial, build_config=build_config, resources=resources,
                                         train_storage=str(Path(train_storage).absolute()),
                                         constraints=constraints, max_failures=max_failures)
    return ray.tune.with_resources(trainable, resources.driver_resources())
