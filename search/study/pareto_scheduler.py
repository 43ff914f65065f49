"""Pareto-aware asynchronous successive halving: early stopping on (accuracy, speed) together.

ASHA ranks a rung by accuracy alone, so it stops a fast model for being less accurate than a slow
one: exactly the trade-off the front is meant to show. Here the trials that reached a rung are
ranked by non-dominated sorting on (accuracy at that rung, lane speed), the speed being known from
a trial's first report (the speed lane). A trial goes on when it is on the rung's first front, or
when fewer than 1/eta of the rung's trials sit on better fronts than its own; otherwise it stops.
Decisions are asynchronous, as ASHA's: a trial is judged against the trials that reached the rung
before it.

At a rung speed is final but accuracy is not, so a trial counts as beaten there only by one that is
strictly more accurate so far and at least as fast (`outranks`). A slower trial that is as accurate
so far, e.g. every trial of a from-scratch demo still at mAP 0 at epoch 2, is not beaten: speed
alone stops nothing (that is what the limits, min_fps and the like, are for).

Rungs sit at grace_period * eta^k epochs, only where a stop still saves at least (1 - 1/eta) of
the budget (rung * eta <= max_t): a 5-epoch trial is never stopped at epoch 4.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from search.results.front import dominates_point


def rung_milestones(grace_period: int, reduction_factor: float, max_t: int) -> list[int]:
    """The epochs at which trials are judged."""
    rungs, rung = [], grace_period
    while rung * reduction_factor <= max_t:
        rungs.append(rung)
        rung = max(int(round(rung * reduction_factor)), rung + 1)
    return rungs


Point = tuple[float, float]


def outranks(a: Point, b: Point) -> bool:
    """At a rung: a is strictly more accurate so far than b, and at least as fast."""
    return a[0] > b[0] and a[1] >= b[1]


def front_ranks(points: list[Point], beats: Callable[[Point, Point], bool] = dominates_point) -> list[int]:
    """Non-dominated sorting (both objectives maximized): 0 for the first front, 1 for the front of
    what remains, and so on."""
    ranks, remaining, rank = [0] * len(points), set(range(len(points))), 0
    while remaining:
        layer = {i for i in remaining if not any(beats(points[j], points[i]) for j in remaining)}
        for i in layer:
            ranks[i] = rank
        remaining -= layer
        rank += 1
    return ranks


def continues(point: Point, others: list[Point], reduction_factor: float) -> bool:
    """Whether a trial at `point` goes on past a rung the `others` reached before it."""
    points = [*others, point]
    ranks = front_ranks(points, outranks)
    mine = ranks[-1]
    return mine == 0 or sum(rank < mine for rank in ranks) < len(points) / reduction_factor


class ParetoRungScheduler(FIFOScheduler):
    """A Ray Tune scheduler: successive halving by non-dominated rank on two maximized metrics."""

    def __init__(self, *, accuracy: str, speed: str, max_t: int, grace_period: int = 1,
                 reduction_factor: float = 2.0, time_attr: str = "training_iteration") -> None:
        super().__init__()
        self.accuracy, self.speed, self.time_attr = accuracy, speed, time_attr
        self.reduction_factor = reduction_factor
        self.rungs = rung_milestones(grace_period, reduction_factor, max_t)
        self.recorded: dict[int, dict[str, Point]] = {rung: {} for rung in self.rungs}
        self.stopped_at: dict[str, int] = {}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec: Any) -> bool:
        return True  # its metrics are its own; the searcher's multi-objective lists do not apply

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        point = (result.get(self.accuracy), result.get(self.speed))
        epoch = result.get(self.time_attr)
        if None in point or epoch is None:
            return TrialScheduler.CONTINUE   # no figures (e.g. a diverged loss): the trial ends itself
        for rung in self.rungs:
            if rung > epoch or trial.trial_id in self.recorded[rung]:
                continue
            others = list(self.recorded[rung].values())
            self.recorded[rung][trial.trial_id] = point
            if not continues(point, others, self.reduction_factor):
                self.stopped_at[trial.trial_id] = rung
                return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def debug_string(self) -> str:
        return (f"Pareto successive halving: rungs at epochs {self.rungs}, "
                f"{len(self.stopped_at)} trial(s) stopped")
