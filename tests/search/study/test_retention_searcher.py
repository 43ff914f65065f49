"""What Optuna is told about retention: the floor as a constraint, an unscored trial as FAIL with why."""
from __future__ import annotations

import optuna
import pytest
from optuna.distributions import FloatDistribution

from search.study.searcher import TruthfulOptunaSearch


def test_the_retention_floor_is_a_constraint_and_an_unscored_trial_fails_with_its_reason() -> None:
    searcher = TruthfulOptunaSearch(space={"lr": FloatDistribution(1e-4, 1e-2)}, metric=["map", "fps", "retention"],
                                    mode=["max"] * 3, min_retention=0.2,
                                    sampler=optuna.samplers.RandomSampler(seed=0))
    for trial_id in ("forgot", "kept", "baked"):
        searcher.suggest(trial_id)
    searcher.on_trial_complete("forgot", {"map": 0.3, "fps": 30.0, "retention": 0.1, "finished_budget": True})
    searcher.on_trial_complete("kept", {"map": 0.2, "fps": 30.0, "retention": 0.3, "finished_budget": True})
    searcher.on_trial_complete("baked", {"map": 0.5, "fps": 30.0, "finished_budget": True,
                                         "unscored": "reparameterized: its classes are baked into the weights"})
    forgot, kept, baked = searcher._ot_study.trials
    assert forgot.values == [0.3, 30.0, 0.1] and forgot.system_attrs["constraints:min_retention"] == pytest.approx(0.5)
    assert kept.system_attrs["constraints:min_retention"] == pytest.approx(-0.5), "met, with half the floor to spare"
    assert baked.state == optuna.trial.TrialState.FAIL and baked.values is None
    assert baked.user_attrs["worldtune_unscored"].startswith("reparameterized")
    assert [t.number for t in searcher._ot_study.best_trials] == [kept.number], "Optuna leaves out the one below"
