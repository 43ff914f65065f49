"""The space-file schema: every section a dataclass, and one loader that checks YAML against them.

A typo or a wrong type in a space file fails here, naming the file, the dotted key and the fix,
instead of minutes later inside a trial. Each dataclass checks its own values in `__post_init__`
(raising ValueError); the loader adds the file and key. Semantic checks that need the trial
parameters (names, combinations) live in `search/space/loading.py`.
"""
from __future__ import annotations

import typing
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from search.errors import SpaceError
from trainables.contract import RETENTION
from trainables.resources import check_resources
from trainables.speed_constraints import SpeedConstraints
from trainables.speed_protocol import SpeedProtocol
from trainables.values import WrongType, conform, did_you_mean

DEMO_TEXT_ENCODER_VALUES = ("auto", "demo")
"""`auto`: openai/clip-vit-base-patch32 when it is in the local Hugging Face cache, else the demo
text encoder; `demo`: the generated demo text encoder (random weights, for offline demos)."""


@dataclass(frozen=True, kw_only=True)
class SplitSpec:
    annotations: str
    images: str


@dataclass(frozen=True, kw_only=True)
class DatasetSpec:
    """A demo set by name (`demo-defects`, `demo-ct`), a folder in the standard layout, or files."""

    name: str
    root: str | None = None
    train: SplitSpec | None = None
    val: SplitSpec | None = None
    class_texts: str | None = None

    def __post_init__(self) -> None:
        explicit = (self.train, self.val, self.class_texts)
        if any(explicit) and not all(explicit):
            raise ValueError("give all of 'train', 'val' and 'class_texts', or a 'root' folder in the "
                             "standard layout")
        if self.root and any(explicit):
            raise ValueError("give either 'root' (standard layout) or 'train'/'val'/'class_texts', not both")


@dataclass(frozen=True, kw_only=True)
class EarlierSearch:
    """`checkpoint: {search: ID, dataset: NAME}`: the model that an earlier search of this storage
    recommended for that dataset; fine-tune on one domain, then transfer to the next."""

    search: str
    dataset: str


@dataclass(frozen=True, kw_only=True)
class ModelSpec:
    size: str = "s"
    checkpoint: str | EarlierSearch | None = None  # a file, 'demo', or an earlier search's model
    text_encoder: str = "auto"      # hub id in the local cache, a folder, an N x D .npy, auto, demo


@dataclass(frozen=True, kw_only=True)
class ParamSpec:
    """One searched parameter. `low` and `high` are both inclusive (as in Optuna; Ray's
    `tune.randint` would exclude `high`). `when` samples it only if other parameters have these
    values (a value or a list of values each); otherwise the trial keeps the fixed/default value."""

    type: Literal["bool", "choice", "int", "float"]
    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    when: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        ranged = self.type in ("int", "float")
        if self.type == "choice" and not self.values:
            raise ValueError("type 'choice' needs a non-empty 'values' list")
        if self.type != "choice" and self.values is not None:
            raise ValueError(f"'values' only goes with type 'choice', not {self.type!r}")
        if ranged and (self.low is None or self.high is None):
            raise ValueError(f"type {self.type!r} needs 'low' and 'high' (both inclusive)")
        if not ranged and (self.low, self.high, self.step, self.log) != (None, None, None, False):
            raise ValueError(f"'low', 'high', 'step' and 'log' only go with int and float, not {self.type!r}")
        if ranged and self.low > self.high:
            raise ValueError(f"'low' ({self.low}) is above 'high' ({self.high})")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValueError("a log scale needs 'low' > 0 and no 'step'")
        if self.type == "int" and any(v is not None and v != int(v) for v in (self.low, self.high, self.step)):
            raise ValueError("type 'int' needs integer 'low', 'high' and 'step'")
        if self.step is not None and self.step <= 0:
            raise ValueError("'step' must be > 0")


@dataclass(frozen=True, kw_only=True)
class ObjectivesSpec:
    """Every objective is maximized. The speed limits are deployment requirements: checked from the
    speed lane before a trial trains (a trial that breaks one is "infeasible" and never trained)
    and met by the recommended model.

    `retention` (optional) is a second, general dataset with its own class texts (a demo set's
    name, a folder in the standard layout, or files), evaluated zero-shot with each trial's final
    model: its accuracy is the third objective, and `min_retention` a floor the recommended model
    meets. Its train split is what `general_mix` mixes into training."""

    accuracy: Literal["map", "map_50", "map_75"] = "map"
    speed: Literal["fps"] = "fps"         # the speed lane's figure (see the `speed` section)
    min_fps: float | None = None
    max_params_m: float | None = None
    max_latency_ms: float | None = None
    retention: str | DatasetSpec | None = None
    min_retention: float | None = None

    def __post_init__(self) -> None:
        for name in ("min_fps", "max_params_m", "max_latency_ms"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ValueError(f"'{name}' must be > 0 (or left out for no limit)")
        if self.min_retention is not None and not self.retention:
            raise ValueError("'min_retention' is a floor on the retention dataset's accuracy: set 'retention' "
                             "too (a general dataset, e.g. demo-general)")
        if self.min_retention is not None and not 0 < self.min_retention <= 1:
            raise ValueError(f"'min_retention' is an accuracy: between 0 and 1, got {self.min_retention}")

    @property
    def retention_set(self) -> str | None:
        """The retention dataset's name (as the trials' tables and MLflow show it), or None."""
        return self.retention.name if isinstance(self.retention, DatasetSpec) else (
            Path(self.retention).name if self.retention else None)

    @property
    def metrics(self) -> list[str]:
        """The result keys the search maximizes: accuracy, speed, and retention when measured."""
        return [self.accuracy, self.speed] + ([RETENTION] if self.retention else [])

    @property
    def constraints(self) -> SpeedConstraints:
        return SpeedConstraints(min_fps=self.min_fps, max_params_m=self.max_params_m,
                                max_latency_ms=self.max_latency_ms)


@dataclass(frozen=True, kw_only=True)
class SamplerSpec:
    type: Literal["tpe", "gp", "nsga2", "random"] = "tpe"   # tpe is multivariate TPE, gp Optuna's GPSampler
    seed: int | None = 0


@dataclass(frozen=True, kw_only=True)
class SchedulerSpec:
    """Early stopping from `grace_period` epochs on: `pareto` stops trials dominated on (accuracy,
    speed) at a rung (search/study/pareto_scheduler.py), `asha` those with a poor accuracy alone, `none`
    runs them all."""

    type: Literal["pareto", "asha", "none"] = "none"
    grace_period: int = 1
    reduction_factor: float = 2.0

    def __post_init__(self) -> None:
        if self.grace_period < 1 or self.reduction_factor <= 1:
            raise ValueError("'grace_period' must be >= 1 epoch and 'reduction_factor' > 1")


@dataclass(frozen=True, kw_only=True)
class BudgetSpec:
    trials: int = 8                       # per dataset study
    max_concurrent: int | None = None     # None: as many as the cluster holds
    time_limit_s: float | None = None     # per dataset study

    def __post_init__(self) -> None:
        if self.trials < 1 or (self.max_concurrent is not None and self.max_concurrent < 1):
            raise ValueError("'trials' and 'max_concurrent' must be >= 1")
        if self.time_limit_s is not None and self.time_limit_s <= 0:
            raise ValueError("'time_limit_s' must be > 0")


@dataclass(frozen=True, kw_only=True)
class ResourcesSpec:
    """Per trial. `gpus_per_worker: auto` is 1 when the cluster has GPUs, else 0 (CPU trials)."""

    workers: int = 1
    gpus_per_worker: float | Literal["auto"] = "auto"
    cpus_per_worker: float = 1.0

    def __post_init__(self) -> None:
        check_resources(self.workers, 0.0 if self.gpus_per_worker == "auto" else self.gpus_per_worker,
                        self.cpus_per_worker)


@dataclass(frozen=True, kw_only=True)
class StorageSpec:
    """Relative paths are taken from the working directory and made absolute."""

    root: str = "worldtune_runs"          # Tune experiments, Train runs, Optuna studies, exports
    mlflow_uri: str | None = None         # default: sqlite:///<root>/mlflow.db
    mlflow_artifacts: str | None = None   # default: <root>/mlflow_artifacts


MLFLOW_DB, MLFLOW_ARTIFACTS = "mlflow.db", "mlflow_artifacts"
"""The defaults of StorageSpec.mlflow_uri and mlflow_artifacts, inside the results folder."""


SQLITE = "sqlite:///"


def default_tracking_uri(root: Path) -> str:
    return f"{SQLITE}{root.absolute() / MLFLOW_DB}"


def sqlite_file(tracking_uri: str) -> Path | None:
    """The SQLite file a tracking URI names; None for a tracking server."""
    return Path(tracking_uri.removeprefix(SQLITE)) if tracking_uri.startswith(SQLITE) else None


@dataclass(frozen=True, kw_only=True)
class SpaceSpec:
    datasets: list[str | DatasetSpec]
    name: str | None = None               # MLflow experiment 'worldtune/<name>'; default: file stem
    description: str = ""
    model: ModelSpec = field(default_factory=ModelSpec)
    parameters: dict[str, ParamSpec] = field(default_factory=dict)
    fixed: dict[str, Any] = field(default_factory=dict)
    cpu_fallback: dict[str, Any] = field(default_factory=dict)  # replaces values when trials get no GPU
    objectives: ObjectivesSpec = field(default_factory=ObjectivesSpec)
    speed: SpeedProtocol = field(default_factory=SpeedProtocol)  # how the speed lane times each architecture
    sampler: SamplerSpec = field(default_factory=SamplerSpec)
    scheduler: SchedulerSpec = field(default_factory=SchedulerSpec)
    budget: BudgetSpec = field(default_factory=BudgetSpec)
    resources: ResourcesSpec = field(default_factory=ResourcesSpec)
    storage: StorageSpec = field(default_factory=StorageSpec)

    def __post_init__(self) -> None:
        if not self.datasets:
            raise ValueError("'datasets' must list at least one dataset")


# ------------------------------------------------------------------ generic loader
def _convert(hint: Any, value: Any, key: str, file: Path | str) -> Any:
    """`value` as `hint` (trainables/values.py), or SpaceError naming the key and the expected type."""
    def section(cls: type, data: Any, where: str) -> Any:
        return load_section(cls, data, key + where, file)

    try:
        return conform(hint, value, section)
    except WrongType as error:
        raise SpaceError(file, key + error.where, str(error)) from None


def load_section(cls: type, data: Any, key: str, file: Path | str) -> Any:
    """Build dataclass `cls` from a YAML mapping: unknown keys get close-match suggestions."""
    names = [f.name for f in fields(cls)]
    if not isinstance(data, dict):
        raise SpaceError(file, key, f"must be a mapping with keys {names}, got {data!r}")
    prefix = f"{key}." if key else ""
    for name in data:
        if name not in names:
            raise SpaceError(file, f"{prefix}{name}", "unknown key" + did_you_mean(str(name), names))
    hints = typing.get_type_hints(cls)
    missing = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING
               and f.name not in data]
    if missing:
        raise SpaceError(file, f"{prefix}{missing[0]}", "is required")
    values = {name: _convert(hints[name], value, f"{prefix}{name}", file) for name, value in data.items()}
    try:
        return cls(**values)
    except ValueError as error:
        raise SpaceError(file, key, str(error)) from None
