"""The replay harness (benchmarks/replay.py) on a small synthetic table whose answers are known
by hand: the table's hypervolume, a search that sees every trial reaching it, and the service's
schedulers stopping what they should at the lightweight space's rung (epoch 2 of 5)."""
from __future__ import annotations

import optuna
import pytest

from benchmarks.replay import Step, Table, TableTrial, epochs_to_reach, make_sampler, make_scheduler, replay, stopped_at

ACCURATE = TableTrial({"a": 0, "b": 0}, (0.1, 0.2, 0.3, 0.4, 0.5), 10.0)
FAST = TableTrial({"a": 0, "b": 1}, (0.05, 0.1, 0.15, 0.2, 0.25), 40.0)
POOR = TableTrial({"a": 1, "b": 0}, (0.01, 0.02, 0.03, 0.04, 0.05), 5.0)     # dominated by ACCURATE throughout
MIDDLING = TableTrial({"a": 1, "b": 1}, (0.02, 0.04, 0.06, 0.08, 0.1), 20.0)  # dominated by FAST throughout
TABLE = Table("synthetic", {"a": [0, 1], "b": [0, 1]}, (ACCURATE, FAST, POOR, MIDDLING))


def test_the_tables_hypervolume_is_the_area_its_front_dominates() -> None:
    # front (0.5 at 10 FPS), (0.25 at 40 FPS): 0.25 x 40 + (0.5 - 0.25) x 10
    assert TABLE.full_hypervolume == pytest.approx(12.5)
    assert TABLE.lookup({"a": 1, "b": 0}) is POOR


@pytest.mark.parametrize("sampler", ["random", "gp"])   # gp: the service's, as `sampler: {type: gp}` builds it
def test_a_search_that_sees_every_trial_reaches_the_tables_hypervolume(sampler: str) -> None:
    steps = replay(TABLE, make_sampler(sampler, 0), None, budget=30)
    assert [s.trials for s in steps] == list(range(1, 31))
    assert [s.epochs for s in steps] == [5 * n for n in range(1, 31)], "no scheduler: every trial runs 5 epochs"
    assert steps[-1].hypervolume == pytest.approx(12.5)
    assert all(a.hypervolume <= b.hypervolume for a, b in zip(steps, steps[1:]))


def test_pareto_stopping_keeps_the_fast_trial_that_asha_stops() -> None:
    pareto, asha = make_scheduler("pareto", 5), make_scheduler("asha", 5)
    assert [stopped_at(pareto, name, t) for name, t in (("acc", ACCURATE), ("fast", FAST), ("poor", POOR))] == \
        [None, None, 2], "at epoch 2 POOR is dominated by both others; FAST is on the first front"
    assert [stopped_at(asha, name, t) for name, t in (("acc", ACCURATE), ("fast", FAST))] == [None, 2], \
        "ASHA ranks by mAP alone: FAST is under the rung's median"


def test_stopped_trials_spend_only_their_epochs_and_never_reach_the_front() -> None:
    sampler = optuna.samplers.RandomSampler(seed=3)
    steps = replay(TABLE, sampler, make_scheduler("pareto", 5), budget=12)
    assert steps[-1].hypervolume <= TABLE.full_hypervolume + 1e-12
    spent = [b.epochs - a.epochs for a, b in zip([Step(0, 0, 0.0), *steps], steps)]
    assert set(spent) <= {2, 5} and 2 in spent, f"a stopped trial costs 2 epochs, a finished one 5: {spent}"


def test_epochs_to_reach_is_the_first_step_at_the_target() -> None:
    steps = [Step(1, 5, 1.0), Step(2, 7, 3.0), Step(3, 12, 3.0)]
    assert epochs_to_reach(steps, 3.0) == 7 and epochs_to_reach(steps, 4.0) is None
