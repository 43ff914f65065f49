"""One console line per trial epoch, written by the search driver.

The trials' own logs (mmengine's config dump, environment, per-iteration lines: some 650 lines a
trial) stay in each trial's work dir and on the Ray dashboard instead of the console
(`search/study/cluster.py` starts Ray with `log_to_driver` off unless `--worker-logs` is given), so
this is the progress a user sees between Tune's status tables.
"""
from __future__ import annotations

from typing import Any

from ray import tune

from search.tracking.trial_runs import error_text
from trainables import contract
from trainables.contract import TrialEnd


def _number(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def describe_result(result: dict[str, Any], *, accuracy: str, speed: str, epochs: Any) -> str:
    """`epoch 2/5: map 0.031, train_loss 1.23, fps 73.8` (the speed lane's fps from epoch 1 on), or why it
    stopped."""
    if result.get(contract.STATUS) == TrialEnd.INFEASIBLE:
        return f"infeasible, not trained: {result.get(contract.INFEASIBLE_WHY)} (speed lane, before training)"
    shown = [(key, result[key]) for key in (accuracy, contract.TRAIN_LOSS, speed, contract.RETENTION)
             if result.get(key) is not None]
    text = f"epoch {result.get(contract.EPOCH, '?')}/{epochs}: " + ", ".join(f"{k} {_number(v)}" for k, v in shown)
    if result.get(contract.STATUS) == TrialEnd.DIVERGED:
        text += f"; diverged: {result.get(contract.ERROR, '')}"
    if result.get(contract.UNSCORED_WHY):
        text += f"; no retention figure: {result[contract.UNSCORED_WHY]}"
    return text


class EpochProgress(tune.Callback):
    """Tune callback: `[worldtune] <study> <trial>: epoch e/E: ...` per report, a line when a trial
    is stopped short of its budget, and a failed trial's reason (the error's last line; the whole
    error is in MLflow and Tune's error file)."""

    def __init__(self, study: str, *, accuracy: str, speed: str) -> None:
        self.study, self.accuracy, self.speed = study, accuracy, speed

    def _say(self, trial: tune.experiment.Trial, text: str) -> None:
        print(f"[worldtune] {self.study} {trial.trial_id}: {text}", flush=True)

    def on_trial_result(self, iteration: int, trials: list, trial: tune.experiment.Trial, result: dict,
                        **info) -> None:
        self._say(trial, describe_result(result, accuracy=self.accuracy, speed=self.speed,
                                         epochs=trial.config.get("epochs", "?")))

    def on_trial_complete(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        """Say so when a trial ends short of its budget (ASHA, or the study's time limit): its last
        line was an ordinary epoch, or it never reported."""
        result = trial.last_result
        if TrialEnd.of(result, errored=False) is not TrialEnd.STOPPED_EARLY:
            return
        done = f"after epoch {result[contract.EPOCH]}/{trial.config.get('epochs', '?')}" if contract.EPOCH in result \
            else "before its first epoch"
        self._say(trial, f"stopped early {done} by the scheduler or the time limit (partial accuracy, "
                  "so not on the Pareto front)")

    def on_trial_error(self, iteration: int, trials: list, trial: tune.experiment.Trial, **info) -> None:
        lines = [line for line in error_text(trial).splitlines() if line.strip()]
        self._say(trial, f"failed: {lines[-1] if lines else 'see its error file'} ({trial.error_file})")
