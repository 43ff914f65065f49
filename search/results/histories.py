"""Each trial's per-epoch curves, read back from its MLflow child run: what the advisor judges.

One source for every analysis after a search: the child run that `search/tracking/trial_runs.py` fills
while the trial runs (every epoch's metrics at step = epoch, the speed lane's among them). It holds the
trials finished before a `--resume` too, and it is still there long after Ray has gone, so the
same histories serve the closing summary and any later look at the store.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mlflow.tracking import MlflowClient

from search.results.front import Outcome
from trainables.contract import RECALL50_PREFIX, TRAIN_LOSS, WALL_S

Curve = list[tuple[int, float]]
"""(epoch, value) pairs, oldest first."""



@dataclass(frozen=True)
class TrialHistory:
    """One trial: its outcome, its accuracy and training-loss curves, and its last metrics."""

    outcome: Outcome
    accuracy: Curve = field(default_factory=list)
    train_loss: Curve = field(default_factory=list)
    last: dict[str, float] = field(default_factory=dict)

    @property
    def trial_id(self) -> str:
        return self.outcome.trial_id

    @property
    def class_recall(self) -> dict[str, float]:
        """Recall at IoU 0.5 per class at the last epoch (`recall50_<class>` metrics)."""
        return {key.removeprefix(RECALL50_PREFIX): value for key, value in self.last.items()
                if key.startswith(RECALL50_PREFIX)}

    @property
    def training_time_s(self) -> float | None:
        return self.last.get(WALL_S)


def _curve(client: MlflowClient, run_id: str, key: str) -> Curve:
    """The metric's value per step; a step logged twice (a resumed epoch) keeps its latest value."""
    latest: dict[int, tuple[int, float]] = {}
    for metric in client.get_metric_history(run_id, key):
        if metric.step not in latest or metric.timestamp >= latest[metric.step][0]:
            latest[metric.step] = (metric.timestamp, metric.value)
    return [(step, value) for step, (_, value) in sorted(latest.items())]


def load_histories(client: MlflowClient, outcomes: Sequence[Outcome], run_ids: dict[str, str],
                   accuracy: str) -> list[TrialHistory]:
    """The histories of `outcomes` from their child runs (`run_ids`: trial id -> run id).

    A trial without a child run (it never started) keeps its outcome and empty curves.
    """
    histories = []
    for outcome in outcomes:
        run_id = run_ids.get(outcome.trial_id)
        if run_id is None:
            histories.append(TrialHistory(outcome))
            continue
        histories.append(TrialHistory(outcome, accuracy=_curve(client, run_id, accuracy),
                                      train_loss=_curve(client, run_id, TRAIN_LOSS),
                                      last=dict(client.get_run(run_id).data.metrics)))
    return histories
