"""A trial of a finished study, exported from the MLflow store (search/export.py): the latest
matching study's recommended trial, or the one asked for, written by `trainables.api.export_trial`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mlflow.tracking import MlflowClient

from search.errors import WorldtuneError
from search.results.front import Outcome
from search.tracking.store import StoredStudy, client_for, load_studies
from trainables.api import export_trial
from trainables.contract import CHECKPOINT_FILE
from trainables.dataset_files import DatasetFiles, Split


def _choose(studies: list[StoredStudy], trial: str | None) -> tuple[StoredStudy, Outcome]:
    study = studies[-1]  # the latest finished study of the requested space/dataset/search
    best = study.report.recommendation.outcome
    if trial is None and best is None:
        raise WorldtuneError(f"search {study.search_id}, dataset {study.dataset}: no recommended trial "
                             f"({study.report.recommendation.reason}); pass --trial ID")
    for outcome in study.report.outcomes:
        if outcome.trial_id == (trial or best.trial_id):
            if outcome.checkpoint is None:
                raise WorldtuneError(f"trial {outcome.trial_id} ({outcome.status}) left no checkpoint "
                                     f"(zero-shot trials train nothing); choose another with --trial")
            return study, outcome
    raise WorldtuneError(f"no trial {trial!r} in search {study.search_id}, dataset {study.dataset}; trials: "
                         f"{[o.trial_id for o in study.report.outcomes]}")


def recommended_checkpoint(client: MlflowClient, search: str, dataset: str) -> Path:
    """The weights file of the trial that finished search `search` recommended for `dataset`."""
    studies = load_studies(client, argparse.Namespace(space=None, dataset=[dataset], search=[search]))
    _, outcome = _choose(studies, None)
    return Path(outcome.checkpoint) / CHECKPOINT_FILE


def _dataset(study: StoredStudy) -> DatasetFiles:
    """The study's dataset files, as its parent run recorded them."""
    p = study.run.data.params
    return DatasetFiles(name=study.dataset, root=Path(p["dataset_root"]),
                        train=Split(Path(p["train_annotations"]), Path(p["train_images"])),
                        val=Split(Path(p["val_annotations"]), Path(p["val_images"])),
                        class_text_file=Path(p["class_texts"]))


def export(study: StoredStudy, outcome: Outcome, out: Path) -> Path:
    """Write the trial's folder under `out` and return it."""
    readme = dict(trial=outcome.trial_id, search=study.search_id, dataset=study.dataset,
                  accuracy=study.objectives.accuracy, acc=outcome.accuracy or 0, speed=study.objectives.speed,
                  spd=outcome.speed or 0, params=outcome.params_m or 0)
    return export_trial(outcome.values, _dataset(study), outcome.checkpoint,
                        out / f"{study.dataset}-{outcome.trial_id}",
                        metrics=outcome.as_dict() | {"search": study.search_id}, readme=readme)


def export_stored(args: argparse.Namespace) -> int:
    """Export the trial `args` name (store, space, dataset, search, trial, out); the exit status."""
    try:
        studies = load_studies(client_for(args), args)
        if len({(s.experiment, s.dataset) for s in studies}) > 1:
            raise WorldtuneError("several studies match: name one with --space and --dataset (and --search)")
        folder = export(*_choose(studies, args.trial), args.out)
    except WorldtuneError as error:
        print(f"[worldtune] error: {error}", file=sys.stderr)
        return 2
    print(f"[worldtune] exported to {folder} (see README.md there)")
    return 0

