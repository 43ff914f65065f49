"""Pareto-aware successive halving (search/study/pareto_scheduler.py): its rungs, its ranking against
Optuna's non-dominated sort, and its decisions on a real local Ray Tune run."""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import ray
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna.study._multi_objective import _fast_non_domination_rank
from ray import tune

from search.study.pareto_scheduler import ParetoRungScheduler, continues, front_ranks, rung_milestones

pytestmark = pytest.mark.slow  # a real Ray Tune run


EPOCHS = 4


@pytest.mark.parametrize("grace, eta, max_t, rungs", [
    (2, 2, 5, [2]),          # the demo: never a stop at epoch 4 of 5
    (1, 2, 5, [1, 2]),
    (1, 3, 27, [1, 3, 9]),
    (5, 2, 5, []),           # nothing left to save: no rung
    (1, 1.5, 4, [1, 2]),
])
def test_rungs_only_where_a_stop_saves_most_of_the_budget(grace: int, eta: float, max_t: int, rungs: list[int]) -> None:
    assert rung_milestones(grace, eta, max_t) == rungs


POINTS = st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.3, 0.5]), st.sampled_from([5.0, 30.0, 80.0])),
                  min_size=1, max_size=10)


@settings(max_examples=100, deadline=None)
@given(POINTS)
def test_front_ranks_are_optunas_non_dominated_sort(points: list[tuple[float, float]]) -> None:
    minimized = -np.array(points)
    assert front_ranks(points) == list(_fast_non_domination_rank(minimized))


def test_the_first_front_always_goes_on_and_a_dominated_trial_stops() -> None:
    slow_accurate, fast_rough = (0.5, 10.0), (0.2, 100.0)
    assert continues(fast_rough, [slow_accurate], 2)          # less accurate but faster: on the front
    assert not continues((0.1, 9.0), [slow_accurate, fast_rough], 2)
    assert not continues((0.4, 9.0), [slow_accurate], 2)      # 1 of 2 on a better front: not < 2/2
    worse = [(0.1, 5.0), (0.05, 4.0), (0.0, 3.0)]
    assert continues((0.4, 9.0), [slow_accurate, *worse], 2)  # dominated, but 1 of 5 ahead: in the top half


def test_speed_alone_stops_nothing_at_a_rung() -> None:
    """Every trial still at mAP 0 (a from-scratch demo at epoch 2): the slowest is not beaten yet."""
    assert continues((0.0, 10.0), [(0.0, 90.0), (0.0, 80.0), (0.0, 70.0)], 2)
    assert not continues((0.0, 10.0), [(0.01, 90.0), (0.0, 80.0), (0.01, 70.0)], 2)
    assert continues((0.2, 10.0), [(0.2, 90.0)], 2)                # as accurate so far, only slower


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    ray.init(num_cpus=1, include_dashboard=False, configure_logging=False)
    yield
    ray.shutdown()


def test_a_real_tune_run_stops_the_dominated_trial_and_keeps_the_fast_rough_one(local_ray) -> None:
    def trial(config: dict) -> None:  # nested: Ray pickles it by value (tests/ is not importable on workers)
        design = config["design"]
        for epoch in range(1, EPOCHS + 1):
            tune.report({"map": design["quality"] * epoch, "fps": design["fps"], "finished_budget": epoch == EPOCHS})

    scheduler = ParetoRungScheduler(accuracy="map", speed="fps", max_t=EPOCHS, grace_period=1, reduction_factor=2)
    designs = [{"quality": 0.5, "fps": 10.0}, {"quality": 0.2, "fps": 100.0}, {"quality": 0.1, "fps": 9.0}]
    tuner = tune.Tuner(trial, param_space={"design": tune.grid_search(designs)},
                       tune_config=tune.TuneConfig(scheduler=scheduler, max_concurrent_trials=1),
                       run_config=tune.RunConfig(verbose=0))
    results = {r.config["design"]["fps"]: r.metrics for r in tuner.fit()}
    assert results[10.0]["finished_budget"] and results[10.0]["training_iteration"] == EPOCHS
    assert results[100.0]["finished_budget"], "fast but less accurate: on the front, never stopped"
    assert results[9.0]["training_iteration"] == 1 and not results[9.0]["finished_budget"]
