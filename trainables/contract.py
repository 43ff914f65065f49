"""What a trial reports and how it ended: the one contract between the trials and the search.

The trial side (trainables/driver.py, hooks.py, worker.py, metrics.py, the speed lane) writes
these result keys and files; the search side (its Tune callbacks, the searcher, the front, the
MLflow runs, the advisor) reads them. How a trial ended is decided here, once, by `TrialEnd.of`,
and each end knows what Optuna and MLflow are told about it. Plain Python, no Ray: the search's
readers import it without the training stack.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

# Result keys: every epoch's report (and the one report of a trial that never trained).
EPOCH = "epoch"
STATUS = "status"                    # only on a trial's last report: "diverged" or "infeasible"
FINISHED_BUDGET = "finished_budget"  # True on the report of the trial's last epoch
ERROR = "error"                      # why a trial diverged
INFEASIBLE_WHY = "infeasible"        # the limit an untrained trial broke: `fps 42.1 < min_fps 60`
TRAIN_LOSS = "train_loss"
LEARNING_RATE = "lr"                 # the detector weights' lr at the epoch's last iteration
WARMUP_ITERS = "warmup_iters"        # the lr warm-up's length, in training iterations
TRAIN_ITERS = "train_iters"          # training iterations so far (per worker)
WALL_S = "wall_s"                    # seconds of training so far, resumes included
CHECKPOINT_PATH = "checkpoint_path"  # Ray Train adds it to a report that carries a checkpoint
# The speed lane's figures, in every report from the first on (they depend on the architecture).
FPS, LATENCY_MS, PARAMS_M, GFLOPS = "fps", "latency_ms", "params_m", "gflops"
ARCH_KEY, SPEED_PROTOCOL = "arch_key", "speed_protocol"
# What the starting checkpoint gave (trials that start from one): tensors loaded of those in the
# model, and of its class-independent ones (image backbone, neck, box regression).
START_WEIGHTS = "start_weights"      # the group's name inside the trial
START_LOADED, START_TENSORS = "start_tensors_loaded", "start_tensors"
START_CORE_LOADED, START_CORE_TENSORS = "start_core_loaded", "start_core_tensors"
# Zero-shot retention (`objectives.retention`): the final model's accuracy on a second, general
# dataset with its own class texts, or why it has none (a model without a text path).
RETENTION = "retention"
UNSCORED_WHY = "unscored"
# Per-class evaluation metrics: `ap_<class>` and `recall50_<class>` (recall at IoU 0.5).
AP_PREFIX, RECALL50_PREFIX = "ap_", "recall50_"

# Files.
CHECKPOINT_FILE = "checkpoint.pth"   # the weights (and optimizer) in every reported checkpoint
HISTORY_FILE = "history.json"
"""Next to the weights in every reported checkpoint: every epoch's report so far. A report lost
with a killed search driver (its checkpoint saved, the report not yet in Tune) is logged from it."""
SPEED_LANE_LOG = "speed_lane.log"    # in the trial's work dir: what the speed lane did for it


class TrialEnd(StrEnum):
    """How a trial ended (or `RUNNING`: not yet). The value is the status shown in the summary,
    the tables and MLflow's `worldtune.status` tag."""

    FINISHED = "finished"            # ran its whole budget and has every objective: on the front
    STOPPED_EARLY = "stopped_early"  # a scheduler or the study's time limit stopped it: partial accuracy
    INFEASIBLE = "infeasible"        # broke a limit of the space before training: never trained
    DIVERGED = "diverged"            # its loss became NaN or infinite
    ERROR = "error"                  # raised, or ran its budget without an objective to rank it by
    UNSCORED = "unscored"            # ran its budget, but an objective cannot be measured on its model
    RUNNING = "running"

    @classmethod
    def of(cls, result: Mapping[str, Any] | None, *, errored: bool, objectives: Sequence[str] = ()) -> TrialEnd:
        """How a terminated trial ended, from its last result; `objectives` are the metrics a
        finished trial must have reported."""
        result = result or {}
        if errored:
            return cls.ERROR
        if result.get(STATUS) in (cls.DIVERGED.value, cls.INFEASIBLE.value):
            return cls(result[STATUS])
        if result.get(FINISHED_BUDGET) is not True:
            return cls.STOPPED_EARLY
        if result.get(UNSCORED_WHY):
            return cls.UNSCORED
        return cls.ERROR if any(result.get(name) is None for name in objectives) else cls.FINISHED

    @property
    def optuna_state(self) -> str:
        """The name of the `optuna.trial.TrialState` the study is told: an infeasible trial is
        COMPLETE with its violations (the sampler learns to avoid it), a stopped one PRUNED, an
        unscored one FAIL (Optuna takes no partial objective vector; the reason is a user attribute)."""
        return {TrialEnd.FINISHED: "COMPLETE", TrialEnd.INFEASIBLE: "COMPLETE", TrialEnd.STOPPED_EARLY: "PRUNED",
                TrialEnd.DIVERGED: "FAIL", TrialEnd.ERROR: "FAIL", TrialEnd.UNSCORED: "FAIL",
                TrialEnd.RUNNING: "RUNNING"}[self]

    @property
    def mlflow_status(self) -> str:
        """The MLflow run status its child run ends with."""
        return {TrialEnd.DIVERGED: "FAILED", TrialEnd.ERROR: "FAILED", TrialEnd.RUNNING: "RUNNING"}.get(self,
                                                                                                     "FINISHED")

    @property
    def failed(self) -> bool:
        return self.mlflow_status == "FAILED"
