"""The parameter-impact matrix of one study, measured: how much each searched parameter mattered
for accuracy and for speed, and which way it pushed them.

Importance: Optuna's fANOVA (`FanovaImportanceEvaluator`, a seeded random forest on parameters ->
objective, the variance each parameter explains, normalised to sum to 1 per objective), computed
once per objective over the trials that ran their full budget (ASHA-stopped trials report a partial
accuracy). fANOVA takes the parameters every such trial has: a conditional parameter
(`when`) gets an effect but no importance. PED-ANOVA, Optuna's default, was set aside: it asks for
5 trials in the top quantile, i.e. 50 trials at its default quantile, more than most searches run.

Effect, as a difference of means (same rule for every type, so the cells compare):
- bool: trials with it on minus trials with it off;
- choice: the level with the highest mean minus the level with the lowest (both named);
- int / float: the upper half of the trials sorted by the value minus the lower half (the middle
  trial dropped when the count is odd), i.e. the sign and size of "more of it".
Accuracy differences are in points (x100: 0.012 mAP = +1.2 pts), speed differences in percent of
the lower group's mean. Training-only parameters (lr, loss, freezing...) get no speed importance
and no speed effect: the speed lane times the architecture, which they do not change.
"""
from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import optuna
from optuna.importance import FanovaImportanceEvaluator, get_param_importances

from search.results.front import Outcome
from search.results.tables import markdown_table
from search.space.distributions import to_choice_value, to_distribution
from search.space.schema import ObjectivesSpec, ParamSpec
from trainables.architecture import is_inference_relevant

NOT_ARCHITECTURAL = "no effect on speed: not part of the architecture"

MIN_TRIALS = 10
"""Never trusted below 10 full-budget trials: a forest fitted on fewer mostly explains noise."""

TRIALS_PER_PARAMETER = 5
"""...and 5 per searched parameter (Optuna's own rule of thumb for PED-ANOVA is 5 trials in the
group compared): with fewer, a parameter's levels are each seen by a trial or two."""


def trials_needed(parameters: int) -> int:
    """How many full-budget trials a matrix over `parameters` needs to be trusted."""
    return max(MIN_TRIALS, TRIALS_PER_PARAMETER * parameters)


@dataclass(frozen=True)
class ParamImpact:
    """One row: a parameter's importance and effect on each objective (None: not measurable)."""

    name: str
    type: str
    trials: int                      # full-budget trials that sampled it
    importance_accuracy: float | None
    importance_speed: float | None
    effect_accuracy: str
    effect_speed: str


@dataclass(frozen=True)
class ImpactMatrix:
    dataset: str
    trials: int                      # the full-budget trials it rests on
    total: int                       # all trials of the study
    needed: int                      # trials_needed(len(rows))
    rows: list[ParamImpact]

    @property
    def trusted(self) -> bool:
        return self.trials >= self.needed


Group = tuple[str, list[float]]
"""(label, objective values of the trials in it)."""


def _groups(spec: ParamSpec, pairs: Sequence[tuple[object, float]]) -> tuple[Group, Group] | None:
    """The two groups whose means are compared (the 'higher' one first), or None if one is empty."""
    if spec.type in ("int", "float"):
        ordered = sorted(pairs, key=lambda pair: pair[0])
        half = len(ordered) // 2
        lower, upper = ordered[:half], ordered[len(ordered) - half:]
        if not half or ordered[0][0] == ordered[-1][0]:
            return None
        split = statistics.median(value for value, _ in ordered)
        return ("upper half", [y for _, y in upper]), (f"lower half (median {split:.3g})", [y for _, y in lower])
    levels: dict[object, list[float]] = {}
    for value, y in pairs:
        levels.setdefault(to_choice_value(value), []).append(y)
    if spec.type == "bool":
        on, off = levels.get(True), levels.get(False)
        return (("on", on), ("off", off)) if on and off else None
    if len(levels) < 2:
        return None
    ranked = sorted(levels.items(), key=lambda item: statistics.fmean(item[1]))
    return (str(ranked[-1][0]), ranked[-1][1]), (str(ranked[0][0]), ranked[0][1])


def _effect(spec: ParamSpec, pairs: Sequence[tuple[object, float]], unit: Callable[[float, float], str]) -> str:
    if not pairs:  # a conditional parameter whose condition no full-budget trial met
        return "not sampled"
    groups = _groups(spec, pairs)
    if groups is None:
        return "one value tried"
    (label, values), (other, others) = groups
    return f"{label} vs {other}: {unit(statistics.fmean(values), statistics.fmean(others))}"


def _points(a: float, b: float) -> str:
    return f"{(a - b) * 100:+.1f} pts"


def _percent(a: float, b: float) -> str:
    return f"{(a - b) / b:+.0%}" if b > 0 else f"{a - b:+.3g}"


def _quiet_study() -> optuna.Study:
    """A throwaway in-memory study, created without Optuna's "A new study created" line, which
    would land in the middle of the search's summary."""
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return optuna.create_study(directions=["maximize", "maximize"])
    finally:
        optuna.logging.set_verbosity(verbosity)


def _importances(outcomes: Sequence[Outcome], specs: Mapping[str, ParamSpec], objective: int
                 ) -> dict[str, float]:
    """fANOVA importance per parameter for one objective (0 accuracy, 1 speed); empty when it
    cannot be measured (fewer than 2 trials, or every trial scored the same)."""
    targets = [(o.accuracy, o.speed)[objective] for o in outcomes]
    if len(outcomes) < 2 or len(set(targets)) < 2:
        return {}
    study = _quiet_study()
    for o in outcomes:
        present = {name: spec for name, spec in specs.items() if name in o.values}
        study.add_trial(optuna.trial.create_trial(
            params={name: to_choice_value(o.values[name]) for name in present},
            distributions={name: to_distribution(spec) for name, spec in present.items()},
            values=[o.accuracy, o.speed]))
    everywhere = [name for name in specs if all(name in o.values for o in outcomes)]
    if not everywhere:
        return {}
    importances = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=0), params=everywhere,
                                        target=lambda trial: trial.values[objective])
    return {name: float(value) for name, value in importances.items()}


def impact_matrix(dataset: str, outcomes: Sequence[Outcome], specs: Mapping[str, ParamSpec]) -> ImpactMatrix:
    """The matrix of one study's searched parameters (`specs`) over its full-budget trials.

    Speed is the speed lane's, a property of the architecture: only inference-relevant
    parameters (trainables.architecture) are credited with an effect on it."""
    done = [o for o in outcomes if o.on_budget]
    architectural = {name: spec for name, spec in specs.items() if is_inference_relevant(name)}
    accuracy, speed = _importances(done, specs, 0), _importances(done, architectural, 1)
    rows = []
    for name, spec in specs.items():
        sampled = [o for o in done if name in o.values]
        effect_speed = (_effect(spec, [(o.values[name], o.speed) for o in sampled], _percent)
                        if name in architectural else NOT_ARCHITECTURAL)
        rows.append(ParamImpact(
            name=name, type=spec.type, trials=len(sampled),
            importance_accuracy=accuracy.get(name), importance_speed=speed.get(name),
            effect_accuracy=_effect(spec, [(o.values[name], o.accuracy) for o in sampled], _points),
            effect_speed=effect_speed))
    rows.sort(key=lambda row: -(row.importance_accuracy or 0.0))
    return ImpactMatrix(dataset, len(done), len(outcomes), trials_needed(len(specs)), rows)


def format_impact(matrix: ImpactMatrix, objectives: ObjectivesSpec) -> str:
    """The matrix as a markdown table, with what it rests on and whether to trust it."""
    trust = ("" if matrix.trusted else f"; TOO FEW TO TRUST (needs >= {matrix.needed} for {len(matrix.rows)} "
             f"parameters): read it as a hint")
    head = (f"parameter impact ({matrix.dataset}): fANOVA importance and effect over {matrix.trials} "
            f"full-budget trials (of {matrix.total}){trust}")
    if not matrix.rows:
        return head + "\n  (no searched parameters)"
    share = lambda value: "n/a" if value is None else f"{value:.2f}"  # noqa: E731
    table = [(r.name, r.type, r.trials, share(r.importance_accuracy), share(r.importance_speed),
              r.effect_accuracy, r.effect_speed) for r in matrix.rows]
    header = ("parameter", "type", "trials", f"importance {objectives.accuracy}",
              f"importance {objectives.speed}", f"effect on {objectives.accuracy}", f"effect on {objectives.speed}")
    return head + "\n" + markdown_table(header, table)
