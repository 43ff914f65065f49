"""The next search, written: the space file again with what this search found applied.

Two kinds of change, each commented in the file with the finding or the figure behind it:
- numeric ranges narrowed around the values of the front's trials (all datasets together);
- the advisor's findings turned into knobs (search/results/advisor.py): focal loss and
  class-balanced sampling for class imbalance, more epochs for slow convergence or a study that
  learned nothing, depthwise blocks, a smaller input and the reparameterized model for a missed
  speed floor, prompt templates and prompt tuning with the MLP adapter for cross-domain failure,
  weight decay for overfitting, a shorter warm-up cap for a long warm-up.
A knob is only added where the space lets it be searched (not already searched, not fixed); the
written file is loaded back with the same checks as any space file, so it runs as it is.
"""
from __future__ import annotations

import copy
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from search.errors import SpaceError
from search.redact import credentials_to_environment, redact
from search.results.advisor import Advice
from search.results.study_report import StudyReport
from search.space.loading import load_space
from search.space.schema import ParamSpec
from search.space.writing import space_text
from search.study.plan import SearchPlan

NARROW_PAD = 0.25
"""A narrowed range reaches a quarter of the old range (on its own scale, log or linear) beyond the
front's lowest and highest value: a front of a few trials is a sample, and the best settings may
lie just outside what it tried."""

MORE_EPOCHS = {"slow convergence": 1.5, "learned nothing": 2.0}
"""Epoch factors: half as many again when the last epoch still added a tenth of the accuracy, twice
as many when no trial learned (the advisor's thresholds)."""

SMALLER_INPUT = 0.75
"""A missed speed floor tries an input three quarters as wide (about 0.56 of the pixels)."""


@dataclass
class NextSpace:
    """The raw space data being changed, the comment for each changed entry, and the context."""

    data: dict[str, Any]
    on_cpu: bool
    comments: dict[tuple[str, str], str] = field(default_factory=dict)
    original: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.original = copy.deepcopy(self.data)

    def section(self, name: str) -> dict[str, Any]:
        if not isinstance(self.data.get(name), dict):  # absent, or an empty `fixed:`
            self.data[name] = {}
        return self.data[name]

    def originally(self, section: str) -> dict[str, Any]:
        return self.original.get(section) or {}

    def setting_section(self, name: str) -> str:
        """The section a trial's value of `name` came from ('cpu_fallback' on CPU trials, else 'fixed')."""
        return "cpu_fallback" if self.on_cpu and name in self.originally("cpu_fallback") else "fixed"

    def current(self, name: str, default: Any = None) -> Any:
        return self.originally(self.setting_section(name)).get(name, default)

    def searchable(self, name: str) -> bool:
        """Not searched by the space and not set by `fixed` (nor by `cpu_fallback`, on CPU trials)."""
        return name not in self.originally("parameters") and name not in self.originally("fixed") \
            and self.setting_section(name) == "fixed"

    def set(self, section: str, name: str, value: Any, why: str) -> None:
        self.section(section)[name] = value
        note = self.comments.get((section, name))
        self.comments[(section, name)] = why if note is None or why in note else f"{note}; {why}"

    def add_choice(self, name: str, values: Sequence[Any], why: str) -> None:
        """Search `name` over `values`, joined with the choices an earlier fix added."""
        added = self.data["parameters"][name]["values"] if ("parameters", name) in self.comments else []
        self.set("parameters", name,
                 {"type": "choice", "values": [*added, *(v for v in values if v not in added)]}, why)


def _cited(findings: Sequence[Advice]) -> str:
    first = findings[0]
    who = f"trial {first.trial_id}" if first.trial_id else "every trial"
    more = f" (+{len(findings) - 1} more)" if len(findings) > 1 else ""
    return f"{first.failure} on {first.dataset}, {who}: {first.evidence}{more}"


def _imbalance(space: NextSpace, why: str) -> None:
    if space.searchable("cls_loss") and space.current("cls_loss", "bce") != "focal":
        space.add_choice("cls_loss", ["bce", "focal"], why)
    if space.searchable("repeat_factor_thr"):
        space.set("parameters", "repeat_factor_thr",
                  {"type": "float", "low": 0.0, "high": 0.3, "step": 0.05}, why)


def _epochs(factor: float) -> Callable[[NextSpace, str], None]:
    def apply(space: NextSpace, why: str) -> None:
        searched = space.originally("parameters").get("epochs")
        if searched and space.setting_section("epochs") == "fixed":
            space.set("parameters", "epochs", dict(searched, high=math.ceil(searched["high"] * factor)), why)
        else:
            section = space.setting_section("epochs")
            space.set(section, "epochs", math.ceil(space.current("epochs", 80) * factor), why)
    return apply


def _speed(space: NextSpace, why: str) -> None:
    if space.searchable("use_depthwise"):
        space.set("parameters", "use_depthwise", {"type": "bool"}, why)
    size = space.current("image_size", 640)
    smaller = max(32, int(size * SMALLER_INPUT) // 32 * 32)
    if space.setting_section("image_size") == "cpu_fallback":
        space.set("cpu_fallback", "image_size", smaller, why)
    elif "image_size" not in space.originally("parameters"):
        space.section("fixed").pop("image_size", None)  # searched from now on
        space.add_choice("image_size", [smaller, size], why)
    bn_head = space.current("use_bn_head") is not False and space.current("version", "v2") == "v2"
    if space.searchable("strategy") and bn_head and space.searchable("use_bn_head") and space.searchable("version"):
        space.add_choice("strategy", ["normal", "reparameterized"], why)


def _cross_domain(space: NextSpace, why: str) -> None:
    if space.searchable("strategy") and (space.data.get("model") or {}).get("checkpoint"):
        space.add_choice("strategy", ["normal", "prompt"], why)
        if space.searchable("use_mlp_adapter"):
            space.set("parameters", "use_mlp_adapter", {"type": "bool", "when": {"strategy": "prompt"}}, why)
    reads_texts = space.current("strategy", "normal") in ("normal", "zero_shot")
    encoder = str((space.data.get("model") or {}).get("text_encoder", ""))
    if space.searchable("prompt_templates") and reads_texts and not encoder.endswith(".npy"):
        only_with_texts = {"when": {"strategy": "normal"}} if "strategy" in space.data["parameters"] else {}
        space.set("parameters", "prompt_templates",
                  {"type": "choice", "values": ["none", "photo", "ensemble"], **only_with_texts}, why)


def _overfitting(space: NextSpace, why: str) -> None:
    if space.searchable("weight_decay"):
        space.set("parameters", "weight_decay", {"type": "float", "low": 0.025, "high": 0.2, "log": True}, why)


def _long_warmup(space: NextSpace, why: str) -> None:
    if "warmup_max_fraction" not in space.originally("parameters"):
        half = round(space.current("warmup_max_fraction", 0.2) / 2, 3)
        space.set(space.setting_section("warmup_max_fraction"), "warmup_max_fraction", half, why)


FIXES: dict[str, Callable[[NextSpace, str], None]] = {
    "class imbalance": _imbalance,
    "slow convergence": _epochs(MORE_EPOCHS["slow convergence"]),
    "learned nothing": _epochs(MORE_EPOCHS["learned nothing"]),
    "speed target missed": _speed,
    "cross-domain failure": _cross_domain,
    "overfitting": _overfitting,
    "long warm-up": _long_warmup,
}


def _scale(spec: ParamSpec) -> tuple[Callable[[float], float], Callable[[float], float]]:
    return (math.log, math.exp) if spec.log else (float, float)


def narrowed(spec: ParamSpec, values: Sequence[float]) -> tuple[float, float] | None:
    """(low, high) around `values` with NARROW_PAD, inside the old range and on its step grid;
    None when that is the old range or there are fewer than two values to go by."""
    if spec.type not in ("int", "float") or len(values) < 2:
        return None
    to, back = _scale(spec)
    old_low, old_high = to(spec.low), to(spec.high)
    pad = NARROW_PAD * (old_high - old_low)
    low = back(max(old_low, to(min(values)) - pad))
    high = back(min(old_high, to(max(values)) + pad))
    if spec.step:
        low = spec.low + math.floor(round((low - spec.low) / spec.step, 9)) * spec.step
        high = spec.low + math.ceil(round((high - spec.low) / spec.step, 9)) * spec.step
    if spec.type == "int":
        low, high = math.floor(low), math.ceil(high)
    else:
        low, high = float(f"{low:.3g}"), float(f"{high:.3g}")
        low, high = max(low, spec.low), min(high, spec.high)
    if (low, high) == (spec.low, spec.high) or low > high:
        return None
    return low, high


def narrow_to_front(space: NextSpace, parameters: dict[str, ParamSpec], reports: Sequence[StudyReport]) -> None:
    """Each numeric parameter's range around the front trials' values (the findings' knobs stay as added)."""
    front = [o for report in reports for o in report.front]
    datasets = ", ".join(f"{len(r.front)} on {r.dataset}" for r in reports)
    for name, spec in parameters.items():
        if ("parameters", name) in space.comments or space.setting_section(name) == "cpu_fallback":
            continue  # a knob just added, or a value the CPU fallback fixed for these trials
        values = [float(o.values[name]) for o in front if isinstance(o.values.get(name), (int, float))]
        bounds = narrowed(spec, values)
        if bounds is not None:
            space.set("parameters", name, dict(space.data["parameters"][name], low=bounds[0], high=bounds[1]),
                      f"was {spec.low:g}..{spec.high:g}; the front's trials ({datasets}) used "
                      f"{min(values):.3g}..{max(values):.3g}")


def next_space(data: dict[str, Any], parameters: dict[str, ParamSpec], reports: Sequence[StudyReport],
               findings: Sequence[Advice], *, on_cpu: bool) -> NextSpace:
    """The space file's data with the findings' knobs added and the ranges narrowed to the front."""
    space = NextSpace(data=data, on_cpu=on_cpu)
    for failure, fix in FIXES.items():
        mine = [a for a in findings if a.failure == failure]
        if mine:
            fix(space, _cited(mine))
    narrow_to_front(space, parameters, reports)
    return space


def write_next_space(plan: SearchPlan, reports: Sequence[StudyReport], findings: Sequence[Advice]) -> Path | None:
    """`next-<search id>.yaml` in the results folder, checked like any space file; None (and why, on
    stderr) when the space file cannot be read again or the result does not load."""
    source = plan.space.file
    try:
        data = yaml.safe_load(source.read_text())
    except (OSError, yaml.YAMLError) as error:
        print(f"[worldtune] no next space: cannot read {source} again ({error})", file=sys.stderr)
        return None
    space = next_space(data, plan.studies[0].space.parameters, reports, findings,
                       on_cpu=plan.resources.gpus_per_worker == 0)
    # The same results folder and MLflow store, wherever the file is run from; a password in the
    # tracking URI stays out of the file (MLFLOW_TRACKING_PASSWORD carries it, as in this search).
    space.set("storage", "root", str(plan.root), "")
    if plan.space.spec.storage.mlflow_uri:
        space.set("storage", "mlflow_uri", credentials_to_environment(plan.space.spec.storage.mlflow_uri), "")
    path = plan.root / f"next-{plan.search_id}.yaml"
    changed = len([key for key, why in space.comments.items() if why])
    header = [f"Written by worldtune after search {plan.search_id} of {source}: the same space with {changed} "
              "change(s) from its results,", "each commented with the finding or the figures behind it. Run it with:",
              f"  {run_command(path)}", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(redact(space_text(space.data, space.comments, header)))  # a results file: no secrets
    try:
        load_space(path)
    except SpaceError as error:
        path.unlink()
        print(f"[worldtune] no next space: the written file did not load ({error}); please report this",
              file=sys.stderr)
        return None
    return path


def run_command(space_file: Path) -> str:
    return f".venv/bin/python search/run.py --space {space_file}"
