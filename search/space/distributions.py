"""The space-file parameter language -> Optuna distributions, and the define-by-run space.

`to_distribution` is the one pure conversion (table-tested). Bounds are inclusive at both ends,
as in Optuna: `{type: int, low: 1, high: 4}` can give 4 (Ray's `tune.randint(1, 4)` could not).
Choices of lists (e.g. per-level `neck_num_heads`) are stored as strings, because Optuna's
categorical values must be scalars, and turned back by `from_choice_value`.
`SearchSpace` is the define-by-run function OptunaSearch calls: it samples a parameter only when
its `when` condition holds, so impossible combinations (an MLP adapter without prompt tuning)
are never proposed. It is a plain class so Tune can pickle it with the searcher for `--resume`.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import BaseTrial

from search.space.schema import ParamSpec


def to_choice_value(value: Any) -> Any:
    """A choice as Optuna stores it: scalars as they are, lists as JSON text."""
    return json.dumps(value) if isinstance(value, list | dict) else value


def from_choice_value(value: Any) -> Any:
    """Inverse of `to_choice_value`: the value the trial parameters expect (text that is not a
    JSON list or mapping stays text, for the trial's own checks to judge)."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def to_distribution(spec: ParamSpec) -> BaseDistribution:
    """One parameter spec -> its Optuna distribution (bounds inclusive)."""
    if spec.type == "bool":
        return CategoricalDistribution([False, True])
    if spec.type == "choice":
        return CategoricalDistribution([to_choice_value(v) for v in spec.values or []])
    if spec.type == "int":
        return IntDistribution(int(spec.low), int(spec.high), log=spec.log, step=int(spec.step or 1))
    return FloatDistribution(float(spec.low), float(spec.high), log=spec.log, step=spec.step)


def _holds(condition: Mapping[str, Any] | None, values: Mapping[str, Any]) -> bool:
    for name, wanted in (condition or {}).items():
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if name not in values or values[name] not in allowed:
            return False
    return True


def _suggest(trial: BaseTrial, name: str, distribution: BaseDistribution) -> Any:
    if isinstance(distribution, CategoricalDistribution):
        return trial.suggest_categorical(name, distribution.choices)
    if isinstance(distribution, IntDistribution):
        return trial.suggest_int(name, distribution.low, distribution.high, step=distribution.step,
                                 log=distribution.log)
    return trial.suggest_float(name, distribution.low, distribution.high, step=distribution.step,
                               log=distribution.log)


class SearchSpace:
    """Define-by-run space for OptunaSearch: `fixed` values plus the parameters whose `when` holds.

    Parameters are sampled in file order, so a condition may refer to a parameter listed above it
    or to a fixed value. Returns every value the trial runs with (fixed, then sampled with list
    choices decoded): OptunaSearch puts them in the Tune trial's config.
    """

    def __init__(self, parameters: Mapping[str, ParamSpec], fixed: Mapping[str, Any]) -> None:
        self.parameters = dict(parameters)
        self.fixed = dict(fixed)

    def __call__(self, trial: BaseTrial) -> dict[str, Any]:
        values = dict(self.fixed)
        for name, spec in self.parameters.items():
            if _holds(spec.when, values):
                values[name] = from_choice_value(_suggest(trial, name, to_distribution(spec)))
        return values
