"""The parameter-impact matrix on real Optuna studies: trials sampled by Optuna from the space's own
distributions, scored by a known response (one parameter drives accuracy, another speed), then
read as outcomes the way a search hands them over."""
from __future__ import annotations

import logging.handlers
import math

import optuna
import pytest

from search.results.front import Outcome
from search.results.impact import NOT_ARCHITECTURAL, format_impact, impact_matrix, trials_needed
from search.space.distributions import SearchSpace, from_choice_value
from search.space.schema import ObjectivesSpec, ParamSpec

SPECS = {
    "use_bn_head": ParamSpec(type="bool"),
    "frozen_stages": ParamSpec(type="int", low=-1, high=3),
    "lr": ParamSpec(type="float", low=1e-4, high=2e-3, log=True),
    "neck_num_heads": ParamSpec(type="choice", values=[[4, 8, 16], [2, 4, 8], [1, 2, 4]]),
    "cls_loss": ParamSpec(type="choice", values=["bce", "focal"]),
    "focal_gamma": ParamSpec(type="float", low=1.0, high=3.0, when={"cls_loss": "focal"}),
}
HEADS_MAP = {"[4, 8, 16]": 0.02, "[2, 4, 8]": 0.0, "[1, 2, 4]": -0.04}
HEADS_FPS = {"[4, 8, 16]": 50.0, "[2, 4, 8]": 60.0, "[1, 2, 4]": 70.0}


def _response(values: dict) -> tuple[float, float]:
    """mAP: +8 pts with the BN head, a little from heads, lr and frozen stages; FPS: the neck's
    heads (an architecture parameter), a little from the BN head."""
    accuracy = 0.30 + 0.08 * values["use_bn_head"] + HEADS_MAP[str(values["neck_num_heads"])] \
        + 0.005 * math.log10(values["lr"] / 1e-4) + 0.002 * values["frozen_stages"]
    return accuracy, HEADS_FPS[str(values["neck_num_heads"])] - 2.0 * values["use_bn_head"]


def _searched(trials: int, seed: int = 0) -> list[Outcome]:
    """A real Optuna study over the space (random sampler), its trials as full-budget outcomes."""
    space = SearchSpace(SPECS, {"size": "tiny"})
    study = optuna.create_study(directions=["maximize", "maximize"], sampler=optuna.samplers.RandomSampler(seed))
    study.optimize(lambda trial: _response(space(trial)), n_trials=trials)
    return [Outcome(f"t{t.number:02d}", "finished", accuracy=t.values[0], speed=t.values[1],
                    values={"size": "tiny"} | {k: from_choice_value(v) for k, v in t.params.items()})
            for t in study.trials]


def test_importance_and_effects_find_the_parameters_that_drive_each_objective() -> None:
    outcomes = _searched(40)
    optuna_log = logging.handlers.BufferingHandler(capacity=1000)
    logging.getLogger("optuna").addHandler(optuna_log)
    try:
        matrix = impact_matrix("demo", outcomes, SPECS)
    finally:
        logging.getLogger("optuna").removeHandler(optuna_log)
    assert [r.getMessage() for r in optuna_log.buffer] == [], "the summary's console stays free of Optuna's log"
    rows = {row.name: row for row in matrix.rows}
    assert matrix.trials == 40 and matrix.trusted and matrix.needed == trials_needed(6) == 30
    assert max(rows, key=lambda n: rows[n].importance_accuracy or 0) == "use_bn_head"
    assert max(rows, key=lambda n: rows[n].importance_speed or 0) == "neck_num_heads"
    assert rows["neck_num_heads"].importance_speed > 0.8 and rows["use_bn_head"].importance_accuracy > 0.5
    assert rows["use_bn_head"].effect_accuracy.startswith("on vs off: +")
    on = [o.accuracy for o in outcomes if o.values["use_bn_head"]]
    off = [o.accuracy for o in outcomes if not o.values["use_bn_head"]]
    difference = (sum(on) / len(on) - sum(off) / len(off)) * 100
    assert rows["use_bn_head"].effect_accuracy == f"on vs off: {difference:+.1f} pts"
    assert rows["neck_num_heads"].effect_speed.startswith("[1, 2, 4] vs [4, 8, 16]: +")
    assert rows["use_bn_head"].effect_speed.startswith("on vs off: -")
    for training_only in ("frozen_stages", "lr", "cls_loss", "focal_gamma"):  # no effect on the network
        assert rows[training_only].importance_speed is None
        assert rows[training_only].effect_speed == NOT_ARCHITECTURAL
    assert rows["neck_num_heads"].effect_accuracy.startswith("[4, 8, 16] vs [1, 2, 4]: +")
    assert rows["lr"].effect_accuracy.startswith("upper half vs lower half") and ": +" in rows["lr"].effect_accuracy
    # a conditional parameter: its effect over the trials that have it, no fANOVA importance
    gamma = rows["focal_gamma"]
    assert gamma.importance_accuracy is None and gamma.trials == sum("focal_gamma" in o.values for o in outcomes) < 40
    text = format_impact(matrix, ObjectivesSpec())
    assert "over 40 full-budget trials (of 40)" in text and "TOO FEW" not in text
    assert "| use_bn_head | bool | 40 |" in text and "| focal_gamma | float |" in text and "n/a" in text


def test_few_trials_are_flagged_and_partial_ones_are_left_out() -> None:
    outcomes = _searched(6)
    stopped = [Outcome("asha", "stopped_early", accuracy=0.9, speed=None, values=outcomes[0].values),
               Outcome("nan", "diverged", accuracy=None, speed=None, values=outcomes[1].values)]
    matrix = impact_matrix("demo", outcomes + stopped, {k: SPECS[k] for k in ("use_bn_head", "frozen_stages")})
    assert (matrix.trials, matrix.total, matrix.needed, matrix.trusted) == (6, 8, 10, False)
    text = format_impact(matrix, ObjectivesSpec())
    assert "over 6 full-budget trials (of 8); TOO FEW TO TRUST (needs >= 10 for 2 parameters)" in text


@pytest.mark.parametrize("trials", [1, 3])
def test_nothing_to_measure_gives_no_numbers_instead_of_an_error(trials: int) -> None:
    """One trial, or every trial with the same scores and the same value: no importance, no effect."""
    outcomes = [Outcome(f"t{i}", "finished", 0.2, 30.0, values={"cls_loss": "bce", "lr": 1e-3})
                for i in range(trials)]
    matrix = impact_matrix("demo", outcomes, {k: SPECS[k] for k in ("cls_loss", "lr", "focal_gamma")})
    assert all(r.importance_accuracy is None and r.importance_speed is None for r in matrix.rows)
    rows = {r.name: r for r in matrix.rows}
    assert {rows[name].effect_accuracy for name in ("cls_loss", "lr")} == {"one value tried"}
    assert (rows["focal_gamma"].trials, rows["focal_gamma"].effect_accuracy) == (0, "not sampled"), \
        "no trial used focal loss, so none sampled its gamma"
