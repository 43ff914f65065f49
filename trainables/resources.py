"""What one trial holds on the cluster: Train workers, their CPUs and GPU share, and the token
its driver takes. Plain data (Ray only where a Ray object is made), so the search plans with it
before Ray starts."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ray.train


def check_resources(workers: int, gpus_per_worker: float, cpus_per_worker: float) -> None:
    """What a trial must hold: one worker or more, each with CPUs (the plan divides by them) and
    no negative GPU share. The space file's `resources` section is checked by the same rule."""
    if workers < 1:
        raise ValueError(f"'workers' must be >= 1, got {workers}")
    if cpus_per_worker <= 0:
        raise ValueError(f"'cpus_per_worker' must be > 0, got {cpus_per_worker}")
    if gpus_per_worker < 0:
        raise ValueError(f"'gpus_per_worker' must be >= 0, got {gpus_per_worker}")


@dataclass(frozen=True)
class TrialResources:
    """What one trial's Train workers hold; fractional GPUs let small models share a card."""

    workers: int = 1
    gpus_per_worker: float = 0.0
    cpus_per_worker: float = 1.0
    driver_resource: str | None = None   # a custom resource each trial driver takes one unit of

    def __post_init__(self) -> None:
        check_resources(self.workers, self.gpus_per_worker, self.cpus_per_worker)

    def scaling_config(self) -> ray.train.ScalingConfig:
        import ray.train

        resources = {"CPU": self.cpus_per_worker}
        if self.gpus_per_worker:
            resources["GPU"] = self.gpus_per_worker
        return ray.train.ScalingConfig(num_workers=self.workers, use_gpu=self.gpus_per_worker > 0,
                                       resources_per_worker=resources)

    def driver_resources(self) -> dict:
        """The trial function itself only waits on its workers: a token share, so that at
        concurrency N on a small machine the drivers never starve their own workers. With
        `driver_resource`, one unit of it: the drivers stay on the nodes that advertise it."""
        token = {"cpu": 0, "memory": 1 << 20}
        return (token | {self.driver_resource: 1}) if self.driver_resource else token

    def lane_task_options(self) -> dict:
        """One worker's CPUs and GPU share, so the lane times on the device a worker would get;
        scheduled as a task of its own, not inside the trial driver's token placement group."""
        return {"num_cpus": self.cpus_per_worker, "num_gpus": self.gpus_per_worker, "scheduling_strategy": "DEFAULT"}
