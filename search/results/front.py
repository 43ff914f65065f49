"""The accuracy/speed Pareto front of one study, its hypervolume, and the recommended model.

Plain data in, plain data out (no Ray, no MLflow): the run summary, the MLflow artifacts and
`search/pareto.py` all use it. Only trials that ran their full budget are on the front
(`TrialEnd.FINISHED`, trainables/contract.py); stopped, infeasible, diverged and failed trials
stay in the table, marked with how they ended.

Hypervolume reference point: (accuracy 0, speed 0). Both objectives are maximized and neither
can be negative, so every measured trial dominates the reference, and the hypervolume is the
area (mAP x FPS) that the front dominates: comparable across searches of the same dataset.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from trainables import contract
from trainables.contract import TrialEnd

REFERENCE_POINT = (0.0, 0.0)


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

    @classmethod
    def from_result(cls, trial_id: str, values: dict[str, Any], result: dict[str, Any], *, errored: bool,
                    accuracy: str, speed: str) -> Outcome:
        """A terminated trial's outcome from its last result."""
        return cls(trial_id=trial_id, status=TrialEnd.of(result, errored=errored, objectives=(accuracy, speed)),
                   accuracy=result.get(accuracy), speed=result.get(speed), params_m=result.get(contract.PARAMS_M),
                   gflops=result.get(contract.GFLOPS), epochs=result.get(contract.EPOCH),
                   checkpoint=result.get(contract.CHECKPOINT_PATH), values=dict(values),
                   arch_key=result.get(contract.ARCH_KEY), speed_protocol=result.get(contract.SPEED_PROTOCOL),
                   infeasible=result.get(contract.INFEASIBLE_WHY), wall_s=result.get(contract.WALL_S))

    @property
    def on_budget(self) -> bool:
        """Ran its whole budget with both objectives measured: may be on the front."""
        return self.status == TrialEnd.FINISHED

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendation:
    outcome: Outcome | None
    reason: str


def dominates_point(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """(accuracy, speed) a is at least as good as b on both and better on one (both maximized)."""
    return a[0] >= b[0] and a[1] >= b[1] and a != b


def dominates(a: Outcome, b: Outcome) -> bool:
    return dominates_point((a.accuracy, a.speed), (b.accuracy, b.speed))


def pareto_front(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """Non-dominated trials among those that ran their full budget, fastest first."""
    eligible = [o for o in outcomes if o.on_budget]
    front = [o for o in eligible if not any(dominates(other, o) for other in eligible)]
    return sorted(front, key=lambda o: (-o.speed, o.accuracy, o.trial_id))


def hypervolume(front: Sequence[Outcome], reference: tuple[float, float] = REFERENCE_POINT) -> float:
    """Area dominated by the front and bounded by the reference point (2-D sweep)."""
    area, covered_accuracy = 0.0, reference[0]
    for point in sorted(front, key=lambda o: -o.speed):  # fastest first, accuracy rising
        if point.accuracy > covered_accuracy and point.speed > reference[1]:
            area += (point.accuracy - covered_accuracy) * (point.speed - reference[1])
            covered_accuracy = point.accuracy
    return area


MIN_ACCURACY = 0.01
"""Below 1 mAP point a detector has learned next to nothing: a recommendation says so, and the
advisor does not judge its curve, whose ups and downs are noise (search/results/advisor.py)."""


def recommend(outcomes: Sequence[Outcome], *, min_speed: float | None = None,
              max_params_m: float | None = None) -> Recommendation:
    """The most accurate full-budget trial that meets the constraints (ties: the faster one)."""
    eligible = [o for o in outcomes if o.on_budget]
    if not eligible:
        return Recommendation(None, "no trial ran its full budget")
    feasible = [o for o in eligible
                if (min_speed is None or o.speed >= min_speed)
                and (max_params_m is None or (o.params_m is not None and o.params_m <= max_params_m))]
    wanted = " and ".join(filter(None, [min_speed is not None and f"speed >= {min_speed:g}",
                                        max_params_m is not None and f"params <= {max_params_m:g} M"]))
    if not feasible:
        fastest = max(eligible, key=lambda o: o.speed)
        return Recommendation(None, f"no full-budget trial meets {wanted} (the fastest, {fastest.trial_id}, "
                                    f"reaches {fastest.speed:.1f}); relax the constraint or search smaller models")
    best = max(feasible, key=lambda o: (o.accuracy, o.speed))
    reason = f"highest accuracy with {wanted}" if wanted else "highest accuracy"
    if best.accuracy < MIN_ACCURACY:
        reason += f", but under {MIN_ACCURACY:g}: no trial learned anything, see the advisor"
    return Recommendation(best, reason)
