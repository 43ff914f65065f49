"""Ray Tune's OptunaSearch, telling Optuna how each trial really ended.

Multi-objective, Ray's OptunaSearch tells every trial that was not an error before its first
report as COMPLETE with its last values: a trial that diverged would be told its partial
accuracy (or, lacking an objective, refused by Optuna and left RUNNING for ever), and a trial
that a scheduler stopped would be told its partial accuracy as if it were final (the speed lane
puts its speed in every report). Here each trial is told the state of how it ended
(`TrialEnd.optuna_state`, trainables/contract.py): FAIL for an error or a diverged loss, PRUNED
when it stopped before its budget, so the study, optuna-dashboard and the sampler all see what
happened.

The space's limits go through Optuna 5's constraint mechanism (`Trial.set_constraint`, read by
TPE, NSGA-II and the GP sampler alike): every trial carries its relative violation of each limit
(`trainables.speed_constraints`; > 0 broken). A trial the lane found infeasible was never trained:
it is told as COMPLETE with its real speed, accuracy 0 and its violation, so the sampler ranks it
below every feasible trial and steers away, and Optuna's own best trials leave it out. The
retention floor (`min_retention`) is a constraint of the same kind, known once the trial's final
model was evaluated; a trial whose model cannot be evaluated on another vocabulary is FAIL, with
the reason as its `worldtune_unscored` user attribute.
"""
from __future__ import annotations

from typing import Any

from optuna.trial import TrialState
from ray.tune.search.optuna import OptunaSearch

from trainables import contract
from trainables.contract import TrialEnd
from trainables.speed_constraints import SpeedConstraints


class TruthfulOptunaSearch(OptunaSearch):
    """OptunaSearch whose failed, diverged and early-stopped trials leave the study RUNNING-free,
    and whose trials carry their constraint violations."""

    def __init__(self, *args: Any, constraints: SpeedConstraints = SpeedConstraints(),
                 min_retention: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.constraints, self.min_retention = constraints, min_retention

    def _set_constraints(self, trial: Any, result: dict) -> None:
        """Each limit's relative violation (> 0 broken); as for the lane's figures, an unmeasured
        retention reads 0 (every trial carries the same constraints)."""
        violations = self.constraints.violations(result) if self.constraints else {}
        if self.min_retention is not None:
            retention = result.get(contract.RETENTION)
            violations["min_retention"] = 0.0 if retention is None else (
                (self.min_retention - retention) / self.min_retention)
        for limit, violation in violations.items():
            trial.set_constraint(limit, violation)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials:
            super().on_trial_complete(trial_id, result, error)  # Ray's own warning
            return
        metrics = self.metric if isinstance(self.metric, list) else [self.metric]
        ended = TrialEnd.of(result, errored=error, objectives=metrics)
        trial = self._ot_trials[trial_id]
        if result:
            self._set_constraints(trial, result)
        if ended is TrialEnd.UNSCORED:
            trial.set_user_attr("worldtune_unscored", result[contract.UNSCORED_WHY])
        if ended is TrialEnd.INFEASIBLE:
            self._ot_study.tell(trial, [result.get(m, 0.0) for m in metrics], state=TrialState[ended.optuna_state])
        elif ended is TrialEnd.FINISHED:
            super().on_trial_complete(trial_id, result, error)
            return
        else:
            self._ot_study.tell(trial, state=TrialState[ended.optuna_state])
        self._completed_trials.add(trial_id)
