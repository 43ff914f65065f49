"""The accuracy/speed Pareto front of one study, its hypervolume, and the recommended model.

Plain data in, plain data out (no Ray, no MLflow): the run summary, the MLflow artifacts and
`search/pareto.py` all use it. Only trials that ran their full budget are on the front: a trial
stopped by ASHA has only a partial accuracy (it is told to Optuna as PRUNED), a diverged trial
has no fair metrics at all (FAIL); both stay in the table, marked.

Hypervolume reference point: (accuracy 0, speed 0). Both objectives are maximized and neither
can be negative, so every measured trial dominates the reference, and the hypervolume is the
area (mAP x FPS) that the front dominates: comparable across searches of the same dataset.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from trainables.speed_constraints import INFEASIBLE

REFERENCE_POINT = (0.0, 0.0)


@dataclass(frozen=True)
class Outcome:
    """One trial's final state, as the front needs it."""

    trial_id: str
    status: str                  # finished, stopped_early, infeasible, diverged, error, running
    accuracy: float | None
    speed: float | None
    params_m: float | None = None
    gflops: float | None = None
    epochs: int | None = None
    checkpoint: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    arch_key: str | None = None        # the speed lane's architecture key: equal keys, equal speed
    speed_protocol: str | None = None  # how the speed was measured (backend, precision, device...)
    fps_e2e: float | None = None       # front trials: end to end with the trained weights (search/end_to_end.py)
    infeasible: str | None = None      # the limit an untrained trial broke (`fps 42.1 < min_fps 60`)
    wall_s: float | None = None        # seconds of training (resumes included)

    @property
    def on_budget(self) -> bool:
        return self.status == "finished" and self.accuracy is not None and self.speed is not None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendation:
    outcome: Outcome | None
    reason: str


def ended_as(result: dict[str, Any], *, errored: bool) -> str:
    """How a terminated trial ended, from its last result: error, diverged, infeasible (broke a
    limit, never trained), finished (only when it ran its budget) or stopped_early (a scheduler,
    or the study's time limit)."""
    if errored:
        return "error"
    if result.get("status") in ("diverged", INFEASIBLE):
        return result["status"]
    return "finished" if result.get("finished_budget") is True else "stopped_early"


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
    return Recommendation(best, f"highest accuracy with {wanted}" if wanted else "highest accuracy")
