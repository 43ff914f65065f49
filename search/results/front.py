"""The Pareto front of one study (accuracy, speed, and retention when measured), its hypervolume,
and the recommended model.

Plain data in, plain data out (no Ray, no MLflow): the run summary, the MLflow artifacts and
`search/pareto.py` all use it. Only trials that ran their full budget are on the front
(`TrialEnd.FINISHED`, trainables/contract.py); stopped, infeasible, diverged and failed trials
stay in the table, marked with how they ended.

Hypervolume reference point: every objective 0. They are all maximized and none can be negative,
so every measured trial dominates the reference, and the hypervolume is the area (mAP x FPS), or
with retention the volume (mAP x FPS x retention mAP), that the front dominates, computed by
Optuna: comparable across searches of the same dataset and objectives.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from optuna._hypervolume import compute_hypervolume

from trainables import contract
from trainables.contract import TrialEnd


@dataclass(frozen=True)
class Outcome:
    """One trial's final state, as the front needs it."""

    trial_id: str
    status: str                  # a TrialEnd value
    accuracy: float | None
    speed: float | None
    params_m: float | None = None
    gflops: float | None = None
    epochs: int | None = None
    checkpoint: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    arch_key: str | None = None        # the speed lane's architecture key: equal keys, equal speed
    speed_protocol: str | None = None  # how the speed was measured (backend, precision, device...)
    fps_e2e: float | None = None       # front trials: end to end with the trained weights (search/study/end_to_end.py)
    infeasible: str | None = None      # the limit an untrained trial broke (`fps 42.1 < min_fps 60`)
    wall_s: float | None = None        # seconds of training (resumes included)
    retention: float | None = None     # the final model's accuracy on the retention set, zero-shot
    unscored: str | None = None        # why its model has no retention figure (no other vocabulary)

    @classmethod
    def from_result(cls, trial_id: str, values: dict[str, Any], result: dict[str, Any], *, errored: bool,
                    objectives: Sequence[str]) -> Outcome:
        """A terminated trial's outcome from its last result; `objectives`: accuracy, speed[, retention]."""
        accuracy, speed = objectives[:2]
        return cls(trial_id=trial_id, status=TrialEnd.of(result, errored=errored, objectives=objectives),
                   accuracy=result.get(accuracy), speed=result.get(speed), params_m=result.get(contract.PARAMS_M),
                   gflops=result.get(contract.GFLOPS), epochs=result.get(contract.EPOCH),
                   checkpoint=result.get(contract.CHECKPOINT_PATH), values=dict(values),
                   arch_key=result.get(contract.ARCH_KEY), speed_protocol=result.get(contract.SPEED_PROTOCOL),
                   infeasible=result.get(contract.INFEASIBLE_WHY), wall_s=result.get(contract.WALL_S),
                   retention=result.get(contract.RETENTION), unscored=result.get(contract.UNSCORED_WHY))

    @property
    def on_budget(self) -> bool:
        """Ran its whole budget with every objective measured: may be on the front."""
        return self.status == TrialEnd.FINISHED

    @property
    def point(self) -> tuple[float, ...]:
        """Its objective values: (accuracy, speed), and retention when the study measures it."""
        return (self.accuracy, self.speed) if self.retention is None else (self.accuracy, self.speed, self.retention)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendation:
    outcome: Outcome | None
    reason: str


def dominates_point(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """Objective vector a is at least as good as b on each and better on one (all maximized)."""
    return all(x >= y for x, y in zip(a, b)) and a != b


def dominates(a: Outcome, b: Outcome) -> bool:
    return dominates_point(a.point, b.point)


def pareto_front(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Non-dominated trials among those that ran their full budget, fastest first."""
    eligible = [o for o in outcomes if o.on_budget]
    front = [o for o in eligible if not any(dominates(other, o) for other in eligible)]
    return sorted(front, key=lambda o: (-o.speed, o.accuracy, o.trial_id))


def hypervolume(front: Sequence[Outcome]) -> float:
    """The area (or volume, with retention) the front dominates down to 0 on every objective:
    Optuna's own hypervolume, which minimizes, of the negated points."""
    if not front:
        return 0.0
    points = -np.array([o.point for o in front], dtype=float)
    return float(compute_hypervolume(points, np.zeros(points.shape[1])))


MIN_ACCURACY = 0.01
"""Below 1 mAP point a detector has learned next to nothing: a recommendation says so, and the
advisor does not judge its curve, whose ups and downs are noise (search/results/advisor.py)."""


def recommend(outcomes: Sequence[Outcome], *, min_speed: float | None = None,
              max_params_m: float | None = None, min_retention: float | None = None) -> Recommendation:
    """The most accurate full-budget trial that meets the constraints (ties: the faster one)."""
    eligible = [o for o in outcomes if o.on_budget]
    if not eligible:
        return Recommendation(None, "no trial ran its full budget")
    feasible = [o for o in eligible
                if (min_speed is None or o.speed >= min_speed)
                and (max_params_m is None or (o.params_m is not None and o.params_m <= max_params_m))
                and (min_retention is None or (o.retention is not None and o.retention >= min_retention))]
    wanted = " and ".join(filter(None, [min_speed is not None and f"speed >= {min_speed:g}",
                                        max_params_m is not None and f"params <= {max_params_m:g} M",
                                        min_retention is not None and f"retention >= {min_retention:g}"]))
    if not feasible:
        fastest = max(eligible, key=lambda o: o.speed)
        closest = f"the fastest, {fastest.trial_id}, reaches {fastest.speed:.1f}"
        if min_retention is not None:
            keeper = max(eligible, key=lambda o: o.retention or 0.0)
            closest += f"; the best retention, {keeper.trial_id}'s, is {keeper.retention or 0.0:.3f}"
        return Recommendation(None, f"no full-budget trial meets {wanted} ({closest}); relax the constraint, "
                                    f"search smaller models, or keep more of the start model (freeze_all, "
                                    f"prompt tuning, a lower lr, general_mix)")
    best = max(feasible, key=lambda o: (o.accuracy, o.speed))
    reason = f"highest accuracy with {wanted}" if wanted else "highest accuracy"
    if best.accuracy < MIN_ACCURACY:
        reason += f", but under {MIN_ACCURACY:g}: no trial learned anything, see the advisor"
    return Recommendation(best, reason)
