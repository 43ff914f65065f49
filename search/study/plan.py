"""A checked space + the cluster it runs on -> the plan: one study per dataset, resources, paths.

Decisions that depend on the cluster are made here, once, and printed (`--dry-run` stops after
printing): GPUs per worker (`auto`: 1 when the cluster has GPUs), the `cpu_fallback` values when
trials get no GPU (e.g. the tiny model at 160 px: the demo stays minutes long on a laptop), how
many trials fit at once, and which text encoder `auto`/`demo` stand for. Every path is absolute:
Tune changes each trial's working directory.
"""
from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from search.datasets import DEMO_DATASETS, DatasetFiles, default_data_root
from search.errors import SpaceError, WorldtuneError
from search.space.distributions import SearchSpace
from search.space.loading import CHECKPOINT_REFERENCES, Space
from search.space.schema import (
    MLFLOW_ARTIFACTS,
    SQLITE,
    DatasetSpec,
    EarlierSearch,
    ParamSpec,
    default_tracking_uri,
)
from search.tracking.experiment import experiment_name
from trainables.api import CLIP_BASE, RetentionSet, TextEncoderNotFound, TrialResources, text_width
from trainables.configs.recipe import Schedule, iterations_per_epoch
from trainables.dataset_files import Split
from trainables.params import TrialParams

SPECIAL_TEXT_ENCODERS = ("auto", "demo")
DEMO_CHECKPOINT = CHECKPOINT_REFERENCES[0]
DRIVER_RESOURCE = "worldtune_driver"
"""Custom resource of the nodes that host trial drivers (the on-demand head of cluster/ configs):
a lost spot worker then never takes a trial's driver, nor its Train controller, with it."""


@dataclass(frozen=True)
class Cluster:
    """What the Ray cluster can hold (or, for a dry run without a cluster, this machine).

    On an autoscaling cluster that is what its autoscaler may grow it to, not only the nodes up
    now: a cluster that starts without GPU workers still plans GPU trials.
    """

    cpus: float
    gpus: float
    address: str | None = None
    driver_slots: float = 0.0     # DRIVER_RESOURCE units; 0: trial drivers go anywhere
    growing: bool = False         # the autoscaler may add nodes beyond those up now

    @classmethod
    def this_machine(cls) -> Cluster:
        import torch

        return cls(cpus=float(os.cpu_count() or 1), gpus=float(torch.cuda.device_count()))

    @classmethod
    def from_resources(cls, now: Mapping[str, float], most: Mapping[str, float] | None = None,
                       address: str | None = None) -> Cluster:
        """`now`: the nodes up; `most`: the autoscaler's limits (None without an autoscaler)."""
        most = most or {}

        def amount(key: str) -> float:
            return max(float(now.get(key, 0.0)), float(most.get(key, 0.0)))

        return cls(cpus=amount("CPU"), gpus=amount("GPU"), address=address, driver_slots=amount(DRIVER_RESOURCE),
                   growing=any(float(most.get(key, 0.0)) > float(now.get(key, 0.0)) for key in ("CPU", "GPU")))

    @classmethod
    def from_ray(cls) -> Cluster:
        import ray
        from ray._private.state import state  # what Ray Train reads for the same question

        return cls.from_resources(ray.cluster_resources(), state.get_max_resources_from_cluster_config(),
                                  ray.get_runtime_context().gcs_address)


@dataclass(frozen=True)
class StudyPlan:
    """One dataset's study: its data, its Optuna space, and where its results go."""

    dataset: DatasetFiles
    space: SearchSpace
    tune_storage: Path        # Tune's storage_path; the experiment folder is tune_storage/name
    train_storage: Path       # the trials' Train runs (checkpoints)
    optuna_db: Path           # the persistent Optuna study (SQLite)

    @property
    def name(self) -> str:
        return self.dataset.name

    @property
    def experiment_dir(self) -> Path:
        return self.tune_storage / self.name

    @property
    def optuna_url(self) -> str:
        """The Optuna study's storage URL (what optuna-dashboard opens)."""
        return f"{SQLITE}{self.optuna_db}"


@dataclass(frozen=True)
class SearchPlan:
    space: Space
    search_id: str
    root: Path
    studies: list[StudyPlan]
    resources: TrialResources
    max_concurrent: int
    mlflow_uri: str
    mlflow_artifacts: Path
    notes: list[str]
    retention: RetentionSet | None = None   # objectives.retention: evaluated zero-shot after each trial

    @property
    def experiment_name(self) -> str:
        return experiment_name(self.space.name)

    @property
    def speed_cache(self) -> Path:
        """The speed lane's cache: one figure per architecture key, shared by the searches of
        this storage (on a cluster, by every node)."""
        return self.root / "speed"


def dataset_files(entry: str | DatasetSpec) -> DatasetFiles:
    """Where a dataset entry's files are; demo sets under the data root (generated later)."""
    if isinstance(entry, str):
        if entry in DEMO_DATASETS:
            return DatasetFiles.standard(entry, default_data_root() / entry)
        return DatasetFiles.standard(Path(entry).name, Path(entry))
    if entry.train is None or entry.val is None or entry.class_texts is None:  # DatasetSpec: root given
        return DatasetFiles.standard(entry.name, Path(entry.root or entry.name))
    return DatasetFiles(name=entry.name, root=Path(entry.class_texts).absolute().parent,
                        train=Split(Path(entry.train.annotations).absolute(), Path(entry.train.images).absolute()),
                        val=Split(Path(entry.val.annotations).absolute(), Path(entry.val.images).absolute()),
                        class_text_file=Path(entry.class_texts).absolute())


def resolve_text_encoder(value: str, file: Path, key: str) -> str:
    """`demo` -> the generated demo encoder; `auto` -> CLIP base if cached, else the demo one.

    Any other value must be loadable offline now (a folder, an .npy, or a cached hub id).
    """
    candidates = [CLIP_BASE] if value == "auto" else [] if value == "demo" else [value]
    for candidate in candidates:
        try:
            text_width(candidate)
            return candidate
        except TextEncoderNotFound as error:
            if value != "auto":
                raise SpaceError(file, key, str(error)) from None
    from search.datasets.demo_text_encoder import ensure_demo_text_encoder  # transformers, only when needed

    return str(ensure_demo_text_encoder(default_data_root()))


def _resolved_values(space: Space, on_cpu: bool, mlflow_uri: str, notes: list[str]) -> tuple[dict[str, Any], dict]:
    """(fixed values, searched parameters) after the CPU fallback, with the text encoder and the
    starting checkpoint resolved."""
    spec = space.spec
    fixed = space.base_values()
    parameters = dict(spec.parameters)
    if on_cpu and spec.cpu_fallback:
        fixed |= spec.cpu_fallback
        dropped = [name for name in spec.cpu_fallback if parameters.pop(name, None)]
        notes.append(f"trials get no GPU: cpu_fallback sets {spec.cpu_fallback}"
                     + (f" (no longer searched: {dropped})" if dropped else ""))
    fixed["text_encoder"] = resolve_text_encoder(fixed["text_encoder"], space.file, "model.text_encoder")
    if spec.model.text_encoder in SPECIAL_TEXT_ENCODERS and fixed["text_encoder"] != CLIP_BASE:
        notes.append(f"text encoder: the demo encoder (random weights, for offline demos: {CLIP_BASE} is not in "
                     f"the local Hugging Face cache); set model.text_encoder for real runs")
    encoder = parameters.get("text_encoder")
    if encoder and encoder.values:
        values = [resolve_text_encoder(v, space.file, "parameters.text_encoder") for v in encoder.values]
        parameters["text_encoder"] = replace(encoder, values=values)
    if fixed.get("load_from") == DEMO_CHECKPOINT:
        fixed["load_from"] = _demo_checkpoint(space, fixed, parameters, notes)
    elif isinstance(fixed.get("load_from"), EarlierSearch):
        fixed["load_from"] = _earlier_search_checkpoint(space, fixed["load_from"], mlflow_uri, notes)
    return fixed, parameters


def _earlier_search_checkpoint(space: Space, earlier: EarlierSearch, mlflow_uri: str, notes: list[str]) -> str:
    """`checkpoint: {search, dataset}`: the recommended model of that finished study (this storage's MLflow)."""
    from mlflow.tracking import MlflowClient

    from search.tracking.exporting import recommended_checkpoint

    try:
        path = recommended_checkpoint(MlflowClient(mlflow_uri), earlier.search, earlier.dataset)
    except WorldtuneError as error:
        raise SpaceError(space.file, "model.checkpoint", f"{error} (looked in {mlflow_uri})") from None
    notes.append(f"starting weights: the model search {earlier.search} recommended for {earlier.dataset} ({path})")
    return str(path)


def _demo_checkpoint(space: Space, fixed: dict[str, Any], parameters: Mapping[str, ParamSpec],
                     notes: list[str]) -> str:
    """`checkpoint: demo`: the demo start detector of the trials' size and text encoder (trained once)."""
    if "size" in parameters or "text_encoder" in parameters:
        raise SpaceError(space.file, "model.checkpoint", "'demo' is one detector per size and text encoder, and "
                         "this space searches them: fix size and text_encoder, or give a checkpoint per search")
    from search.datasets.demo_start import PRETRAIN_SET, ensure_demo_checkpoint

    path = ensure_demo_checkpoint(default_data_root(), fixed["size"], fixed["text_encoder"])
    notes.append(f"starting weights: the demo start detector, pretrained on {PRETRAIN_SET} ({path})")
    return str(path)


def _retention(space: Space, fixed: Mapping[str, Any], parameters: Mapping[str, ParamSpec]) -> RetentionSet | None:
    """The retention set, if the space measures one; general_mix draws from it, and it needs a text
    encoder that can encode its class texts."""
    objectives = space.spec.objectives
    mixes = "general_mix" in parameters or fixed.get("general_mix")
    if not objectives.retention:
        if mixes:
            key = "parameters.general_mix" if "general_mix" in parameters else "fixed.general_mix"
            raise SpaceError(space.file, key, "mixes in the training images of the retention set: set "
                             "objectives.retention to a general dataset (e.g. demo-general)")
        return None
    searched = parameters.get("text_encoder")
    encoders = [fixed["text_encoder"], *((searched.values or []) if searched else [])]
    if any(str(encoder).endswith(".npy") for encoder in encoders):
        raise SpaceError(space.file, "objectives.retention", "the retention set's class texts need a text encoder "
                         "that encodes any text; precomputed embeddings (a .npy) hold the dataset's classes only")
    general = dataset_files(objectives.retention)
    if mixes and general.train.annotation_file == general.val.annotation_file:
        raise SpaceError(space.file, "objectives.retention", "general_mix would train on the very images retention "
                         "is measured on: give the retention set a train split of other images")
    return RetentionSet(general, metric=objectives.accuracy)


def _resources(space: Space, cluster: Cluster, notes: list[str]) -> tuple[TrialResources, int]:
    spec = space.spec.resources
    gpus = spec.gpus_per_worker
    if gpus == "auto":
        gpus = 1.0 if cluster.gpus else 0.0
    resources = TrialResources(workers=spec.workers, gpus_per_worker=float(gpus),
                               cpus_per_worker=spec.cpus_per_worker,
                               driver_resource=DRIVER_RESOURCE if cluster.driver_slots else None)
    need_cpu, need_gpu = resources.workers * resources.cpus_per_worker, resources.workers * resources.gpus_per_worker
    fit = math.floor(cluster.cpus / need_cpu + 1e-9)
    if need_gpu:
        fit = min(fit, math.floor(cluster.gpus / need_gpu + 1e-9))
    if cluster.driver_slots:
        fit = min(fit, math.floor(cluster.driver_slots + 1e-9))
        notes.append(f"trial drivers run on the nodes with the {DRIVER_RESOURCE!r} resource "
                     f"({cluster.driver_slots:g} slots), their Train workers anywhere")
    if cluster.growing:
        notes.append(f"the autoscaler may grow the cluster to {cluster.cpus:g} CPUs, {cluster.gpus:g} GPUs: "
                     f"trials wait for nodes to start")
    if fit < 1:
        raise SpaceError(space.file, "resources", f"one trial needs {need_cpu:g} CPUs and {need_gpu:g} GPUs, the "
                         f"cluster has {cluster.cpus:g} CPUs and {cluster.gpus:g} GPUs: lower workers, "
                         f"cpus_per_worker or gpus_per_worker")
    wanted = space.spec.budget.max_concurrent or fit
    if wanted > fit:
        notes.append(f"max_concurrent {wanted} lowered to {fit}: the cluster holds {fit} trial(s) at once")
    return resources, min(wanted, fit, space.spec.budget.trials)


def make_plan(space: Space, cluster: Cluster, search_id: str) -> SearchPlan:
    """The whole search, decided before Ray runs anything."""
    notes: list[str] = []
    resources, concurrent = _resources(space, cluster, notes)
    if resources.gpus_per_worker and space.spec.speed.backend == "onnxruntime":
        raise SpaceError(space.file, "speed.backend", "'onnxruntime' times the network on the CPU, but the trials "
                         "train on GPUs: use 'pytorch' (fp16 on the trial's card), or gpus_per_worker: 0")
    storage = space.spec.storage
    root = Path(storage.root).absolute()
    mlflow_uri = storage.mlflow_uri or default_tracking_uri(root)
    fixed, parameters = _resolved_values(space, resources.gpus_per_worker == 0, mlflow_uri, notes)
    datasets = [dataset_files(entry) for entry in space.spec.datasets]
    studies = [StudyPlan(dataset=data, space=SearchSpace(parameters, fixed), tune_storage=root / "tune" / search_id,
                         train_storage=root / "train" / search_id / data.name,
                         optuna_db=root / "optuna" / f"{search_id}-{data.name}.db")
               for data in datasets]
    names = [s.name for s in studies]
    if len(set(names)) != len(names):
        raise SpaceError(space.file, "datasets", f"dataset names must be unique, got {names}")
    artifacts = Path(storage.mlflow_artifacts or root / MLFLOW_ARTIFACTS).absolute()
    return SearchPlan(space=space, search_id=search_id, root=root, studies=studies, resources=resources,
                      max_concurrent=concurrent, mlflow_uri=mlflow_uri, mlflow_artifacts=artifacts, notes=notes,
                      retention=_retention(space, fixed, parameters))


def _format(param: ParamSpec) -> str:
    """`choice [...]`, `int [1, 4]` (inclusive), `float [0.0001, 0.002] log`, `... when {...}`."""
    if param.type == "choice":
        text = f"choice {param.values}"
    elif param.type == "bool":
        text = "bool"
    else:
        cast = int if param.type == "int" else float
        text = f"{param.type} [{cast(param.low)}, {cast(param.high)}]" + (" log" if param.log else "") \
            + (f" step {param.step:g}" if param.step else "")
    return text + (f" when {param.when}" if param.when else "")


WARMUP_FIELDS = {"epochs", "batch_size", "warmup_epochs", "warmup_min_iters", "warmup_max_fraction"}
"""The values that decide how many iterations a trial's warm-up takes."""


def _train_images(data: DatasetFiles) -> int | None:
    """Images in the training annotations (None if they cannot be read: the data check says why)."""
    try:
        return len(json.loads(data.train.annotation_file.read_text())["images"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def warmup_note(study: StudyPlan, workers: int) -> str | None:
    """How much of a trial the lr warm-up takes on this dataset, as the plan prints it."""
    images = _train_images(study.dataset)
    if images is None:
        return None
    searched = sorted(WARMUP_FIELDS & set(study.space.parameters))
    values = {f.name: f.default for f in fields(TrialParams)} | study.space.fixed
    schedule = Schedule.of(SimpleNamespace(**values))
    lr = "the trial's lr" if "lr" in study.space.parameters else f"lr {schedule.lr:g}"
    decay = f"then {lr} decays {schedule.lr_schedule}ly to {schedule.lr_final_factor:g}x"
    if searched:
        return (f"{study.name}: lr warm-up for at most {schedule.warmup_max_fraction:.0%} of a trial's iterations "
                f"(it depends on the searched {', '.join(searched)}), {decay}")
    per_epoch = iterations_per_epoch(images, schedule.batch_size, workers)
    warmup, total = schedule.warmup_iters(per_epoch), schedule.epochs * per_epoch
    return (f"{study.name}: lr warm-up {warmup} of {total} iterations ({warmup / total:.0%}; {images} images, "
            f"batch {schedule.batch_size} x {workers} worker(s)), {decay}")


def _retention_text(plan: SearchPlan) -> str:
    """`, retention up (map zero-shot on demo-general val with each trial's final model, floor 0.3)`,
    or ''."""
    if plan.retention is None:
        return ""
    floor = plan.space.spec.objectives.min_retention
    return (f", retention up ({plan.retention.metric} zero-shot on {plan.retention.data.name} val with each "
            f"trial's final model{f', floor {floor:g}' if floor is not None else ''})")


def describe(plan: SearchPlan) -> str:
    """The plan as `--dry-run` prints it and the run log starts with it."""
    spec, res = plan.space.spec, plan.resources
    study = plan.studies[0]
    lines = [
        f"space {plan.space.name} ({plan.space.file}), search {plan.search_id}",
        f"  datasets: {', '.join(f'{s.name} ({s.dataset.root})' for s in plan.studies)}",
        f"  per dataset: {spec.budget.trials} trials, at most {plan.max_concurrent} at once"
        + (f", time limit {spec.budget.time_limit_s:g} s" if spec.budget.time_limit_s else ""),
        f"  per trial: {res.workers} worker(s) x ({res.cpus_per_worker:g} CPU, {res.gpus_per_worker:g} GPU)",
        f"  objectives: {spec.objectives.accuracy} up, {spec.objectives.speed} up{_retention_text(plan)}; sampler "
        f"{spec.sampler.type} (seed {spec.sampler.seed}); scheduler {spec.scheduler.type}",
        "  searched:" + "".join(f"\n    {name}: {_format(p)}" for name, p in study.space.parameters.items()),
        f"  fixed: {study.space.fixed}",
        *(f"  {note}" for note in (warmup_note(s, res.workers) for s in plan.studies) if note),
        f"  results: {plan.root} (MLflow {plan.mlflow_uri})",
        f"  trial logs: {study.train_storage.parent}/<dataset>/<trial>/work_dir (--worker-logs prints them too)",
    ]
    return "\n".join(lines + [f"  note: {note}" for note in plan.notes])
