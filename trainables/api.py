"""What the search service asks of trainables, in one place that imports neither Ray nor torch.

The service (search/) plans, resolves text encoders, starts trials, times the front end to end
and exports models through these names; each imports the training stack (torch, mmyolo, Ray
Train) only when called, in the process that does the work. Besides this module the service
reads only plain data from trainables: the result contract (`contract`), the trial parameters
(`params`), dataset files, speed protocol and limits, architecture keys, the lr schedule's
arithmetic (`configs.recipe`, for the plan's warm-up line). tests/test_layout.py
holds the service to that.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainables.dataset_files import DatasetFiles, RetentionSet
from trainables.params import TrialParams
from trainables.resources import TrialResources
from trainables.speed_constraints import SpeedConstraints
from trainables.speed_protocol import SpeedProtocol
from trainables.text_encoder import CLIP_BASE, TextEncoderNotFound, text_width

__all__ = ["CLIP_BASE", "ConfigBuilder", "RetentionSet", "StartWeightsRefused", "TextEncoderNotFound", "TrainedTrial",
           "TrialResources", "check_start_weights", "export_trial", "make_trainable", "text_width",
           "time_end_to_end", "train_locally"]


class StartWeightsRefused(ValueError):
    """The starting checkpoint cannot be read, or is not a checkpoint of the trial's detector."""


def check_start_weights(params: TrialParams, data: DatasetFiles) -> str:
    """What `params.load_from` gives the detector these parameters build (the load report), checked
    on this process before any trial trains; StartWeightsRefused says why a file cannot start one."""
    import pickle

    from trainables.configs.yolo_world import check_start_checkpoint

    try:
        return check_start_checkpoint(params, data)
    except (KeyError, OSError, pickle.UnpicklingError, RuntimeError) as error:  # a mismatch is a RuntimeError
        raise StartWeightsRefused(str(error).strip("'\"")) from None


@dataclass(frozen=True)
class ConfigBuilder:
    """(trial values, work dir) -> the trial's mmengine config; a plain object Tune can pickle,
    that builds the config where the trial runs."""

    dataset: DatasetFiles
    num_data_workers: int
    speed_cache: Path
    speed_protocol: SpeedProtocol
    retention: RetentionSet | None = None

    def __call__(self, values: dict[str, Any], work_dir: str) -> dict[str, Any]:
        from trainables.configs.yolo_world import build_trial_config

        return build_trial_config(TrialParams.from_dict(values), self.dataset, work_dir,
                                  num_data_workers=self.num_data_workers, speed_cache=self.speed_cache,
                                  speed_protocol=self.speed_protocol, retention=self.retention)


def make_trainable(build_config: ConfigBuilder, resources: TrialResources, train_storage: str | Path,
                   constraints: SpeedConstraints = SpeedConstraints(), max_failures: int = 1) -> Any:
    """The Tune trainable of a study: the speed lane, then a Ray Train fine-tune (trainables/driver.py)."""
    from trainables import driver

    return driver.make_trainable(build_config, resources, train_storage, constraints=constraints,
                                 max_failures=max_failures)


@dataclass(frozen=True)
class TrainedTrial:
    """A trial to load with its trained weights: its values and its reported checkpoint folder."""

    trial_id: str
    values: Mapping[str, Any]
    checkpoint: str


def time_end_to_end(trials: Sequence[TrainedTrial], data: DatasetFiles, image: Path,
                    protocol: SpeedProtocol) -> tuple[dict[str, float], str]:
    """Each trial's end-to-end images/s (network, decoding, NMS) with its trained weights on
    `image`, timed side by side with a reference detector while no trial trains on this node, and
    the figures' protocol label (trainables/end_to_end.py)."""
    import tempfile

    from trainables.cpu_lane import exclusive_cpus
    from trainables.end_to_end import deployed_for_end_to_end, image_batch, reference_model
    from trainables.end_to_end import time_end_to_end as timed_side_by_side
    from trainables.trained import load_trained

    with tempfile.TemporaryDirectory() as folder:
        models, first = {}, None
        for trial in trials:
            trained = load_trained(dict(trial.values), data, trial.checkpoint, Path(folder) / trial.trial_id)
            first = first or trained
            models[trial.trial_id] = (deployed_for_end_to_end(trained.model, trained.deployed_texts),
                                      image_batch(image, trained.params.image_size))
        reference = (reference_model(first.params.size, len(first.class_texts)),
                     image_batch(image, first.params.image_size))
        with exclusive_cpus():
            timed = timed_side_by_side(models, reference=reference, protocol=protocol)
    return {trial.trial_id: timed.of(trial.trial_id) for trial in trials}, timed.protocol


def export_trial(values: Mapping[str, Any], data: DatasetFiles, checkpoint: str, folder: Path, *,
                 metrics: Mapping[str, Any], readme: Mapping[str, Any]) -> Path:
    """Write a trained trial as a self-contained folder (trainables/exported.py says what is in
    it and loads it back); `readme` names where it comes from (trial, search, dataset, figures)."""
    from trainables.exported import write_exported

    return write_exported(values, data, checkpoint, folder, metrics=metrics, readme=readme)


def train_locally(params: TrialParams, data: DatasetFiles, work_dir: Path, out: Path, *,
                  label: str) -> dict[str, float]:
    """Train a detector on this process, outside Ray (the demo start detector), a console line per
    epoch starting with `label`; its final weights go to `out` ({'state_dict'}); returns its
    validation metrics (trainables/local_training.py)."""
    from trainables.local_training import train_locally as train

    return train(params, data, work_dir, out, label=label)
