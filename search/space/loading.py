"""Loading a space file: YAML -> schema (search/space/schema.py) -> checks against the trial parameters.

Everything a trial would reject is rejected here, before Ray starts: unknown parameter names
(with close matches), values out of range, a parameter both searched and fixed, conditions on
unknown parameters, and impossible combinations (each searched value is tried with the fixed
values and its own `when` condition through `TrialParams`, the same checks a trial runs).
Flags override the file: `overrides` maps dotted keys (`budget.trials`) to values.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from search.errors import SpaceError
from search.space.distributions import from_choice_value, to_choice_value
from search.space.schema import EarlierSearch, ParamSpec, SpaceSpec, load_section
from trainables.params import InvalidTrialParams, TrialParams
from trainables.values import did_you_mean

PARAMETER_NAMES = [f.name for f in fields(TrialParams)]
MODEL_KEYS = {"size": "size", "checkpoint": "load_from", "text_encoder": "text_encoder"}
"""`model:` section key -> the trial parameter it sets."""
CHECKPOINT_REFERENCES = ("demo",)
"""`model.checkpoint` values the plan resolves to a file: 'demo', the demo start detector
(search/datasets/demo_start.py), made on first use; an `EarlierSearch` is resolved there too."""
MAX_VALUES = 100_000
"""A space file is a page of settings. Far more values means YAML aliases expanding exponentially
(a "billion laughs" file): checking or even printing it would take minutes and gigabytes."""


@dataclass(frozen=True)
class Space:
    """A checked space file: its schema values, where it came from, and its name."""

    spec: SpaceSpec
    file: Path
    name: str

    def base_values(self) -> dict[str, Any]:
        return base_values(self.spec)


def base_values(spec: SpaceSpec) -> dict[str, Any]:
    """Trial values every trial starts from: the `model:` section, then `fixed:`."""
    return {MODEL_KEYS[k]: getattr(spec.model, k) for k in MODEL_KEYS} | spec.fixed


def _read_yaml(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise SpaceError(file, "", "space file does not exist (see spaces/ for examples)")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise SpaceError(file, "", f"is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise SpaceError(file, "", "must be a YAML mapping with at least a 'datasets' key")
    if _too_many_values(data, MAX_VALUES):
        raise SpaceError(file, "", f"expands to more than {MAX_VALUES} values (nested YAML aliases?); a space "
                                   "file needs a few dozen")
    return data


def _too_many_values(data: Any, limit: int) -> bool:
    """Whether `data` holds more than `limit` values, counting aliased parts each time they appear;
    stops counting at the limit, so it is fast on any input."""
    stack, seen = [data], 0
    while stack:
        value = stack.pop()
        seen += 1
        if seen > limit:
            return True
        if isinstance(value, dict):
            stack += [*value.keys(), *value.values()]
        elif isinstance(value, list):
            stack += value
    return False


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    for dotted, value in overrides.items():
        *sections, key = dotted.split(".")
        target = data
        for section in sections:
            target = target.setdefault(section, {})
            if not isinstance(target, dict):
                break
        else:
            target[key] = value
    return data


def checked_params(values: dict[str, Any]) -> TrialParams:
    """The trial's own checks on `values` (what a trial with them would be built from). A checkpoint
    reference is only resolved by the plan (it may take training): the checks see a file in its place."""
    values = {k: from_choice_value(v) for k, v in values.items()}
    if isinstance(values.get("load_from"), EarlierSearch) or values.get("load_from") in CHECKPOINT_REFERENCES:
        values["load_from"] = __file__  # any existing file: what is checked here is that one is given
    return TrialParams.from_dict(values)


def _check_values(file: Path | str, key: str, values: dict[str, Any]) -> None:
    try:
        checked_params(values)
    except InvalidTrialParams as error:
        raise SpaceError(file, key, str(error)) from None


def _candidates(spec: ParamSpec) -> list[Any]:
    """The values that show whether a parameter's whole range is valid: choices, or both bounds."""
    if spec.type == "bool":
        return [False, True]
    if spec.type == "choice":
        return [to_choice_value(v) for v in spec.values or []]
    cast = int if spec.type == "int" else float
    return [cast(spec.low), cast(spec.high)]


def _check_parameters(spec: SpaceSpec, file: Path | str) -> None:
    base = base_values(spec)
    for section in ("fixed", "cpu_fallback"):
        for name in getattr(spec, section):
            if name not in PARAMETER_NAMES:
                raise SpaceError(file, f"{section}.{name}", "unknown trial parameter"
                                 + did_you_mean(name, PARAMETER_NAMES))
    _check_values(file, "model", {MODEL_KEYS[k]: getattr(spec.model, k) for k in MODEL_KEYS})
    _check_values(file, "fixed", base)
    _check_values(file, "cpu_fallback", base | spec.cpu_fallback)
    seen: list[str] = []
    for name, param in spec.parameters.items():
        key = f"parameters.{name}"
        if name not in PARAMETER_NAMES:
            raise SpaceError(file, key, "unknown trial parameter" + did_you_mean(name, PARAMETER_NAMES))
        if name in spec.fixed:
            raise SpaceError(file, key, "is both searched and in 'fixed'; remove one of them")
        for other in param.when or {}:
            if other not in seen and other not in base:
                raise SpaceError(file, f"{key}.when.{other}", "a condition must name a parameter "
                                 "searched above this one or a fixed value" + did_you_mean(other, seen))
        condition = {k: (v[0] if isinstance(v, list) else v) for k, v in (param.when or {}).items()}
        for value in _candidates(param):
            try:
                checked_params(base | condition | {name: value})
            except InvalidTrialParams as error:
                raise SpaceError(file, key, f"value {from_choice_value(value)!r} is invalid with the fixed "
                                 f"values and its 'when' condition: {error}") from None
        seen.append(name)


def load_space(file: str | Path, overrides: dict[str, Any] | None = None) -> Space:
    """Read, check and return a space file; flags in `overrides` replace the file's values."""
    file = Path(file)
    data = _apply_overrides(_read_yaml(file), overrides or {})
    where = f"{file} (with command-line overrides)" if overrides else file
    spec = load_section(SpaceSpec, data, "", where)
    _check_parameters(spec, where)
    return Space(spec=spec, file=file.absolute(), name=spec.name or file.stem)
