"""Reading finished studies back from the MLflow store (for `search/pareto.py` and `search/export.py`).

A study is a parent run of a `worldtune/<space>` experiment; its `pareto/trials.json` artifact
holds every trial's outcome, so fronts can be recomputed and compared without Ray.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow.entities import Run
from mlflow.tracking import MlflowClient

from search.errors import WorldtuneError
from search.results.front import Outcome
from search.results.study_report import StudyReport
from search.space.schema import MLFLOW_ARTIFACTS, ObjectivesSpec, StorageSpec, default_tracking_uri, sqlite_file
from search.tracking.experiment import DATASET_TAG, EXPERIMENT_PREFIX, SEARCH_TAG
from search.tracking.publish import ARTIFACT_DIR, TRIALS_FILE


@dataclass(frozen=True)
class StoredStudy:
    experiment: str
    search_id: str
    run: Run
    objectives: ObjectivesSpec
    searched: list[str]
    report: StudyReport

    @property
    def dataset(self) -> str:
        return self.report.dataset


def add_store_arguments(parser: argparse.ArgumentParser) -> None:
    """--storage / --mlflow-uri / --space / --dataset / --search, shared by the store's CLIs."""
    parser.add_argument("--storage", default=StorageSpec().root,
                        help="results folder of the search (its mlflow.db is read); default %(default)s")
    parser.add_argument("--mlflow-uri", help="MLflow tracking URI (overrides --storage)")
    parser.add_argument("--space", action="append", help="only this space (name or spaces/*.yaml); repeatable")
    parser.add_argument("--dataset", action="append", help="only this dataset; repeatable")
    parser.add_argument("--search", action="append", help="only this search id; repeatable")


def tracking_uri(args: argparse.Namespace) -> str:
    return args.mlflow_uri or default_tracking_uri(Path(args.storage))


def client_for(args: argparse.Namespace) -> MlflowClient:
    uri = tracking_uri(args)
    database = sqlite_file(uri)
    if database is not None and not database.is_file():
        raise WorldtuneError(f"no MLflow store at {uri}: run a search first, or pass --storage / --mlflow-uri")
    return MlflowClient(uri)


def artifact_root(tracking_uri: str) -> Path | None:
    """Where a search puts MLflow artifacts beside a SQLite store (its default); a tracking server
    keeps its own (None)."""
    database = sqlite_file(tracking_uri)
    return None if database is None else database.parent / MLFLOW_ARTIFACTS


def _read_trials(client: MlflowClient, run_id: str) -> dict[str, Any] | None:
    """The study's trials.json, or None while the study has not finished."""
    path = f"{ARTIFACT_DIR}/{TRIALS_FILE}"
    if path not in {a.path for a in client.list_artifacts(run_id, ARTIFACT_DIR)}:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        return json.loads(Path(client.download_artifacts(run_id, path, tmp)).read_text())


def load_studies(client: MlflowClient, args: argparse.Namespace) -> list[StoredStudy]:
    """Finished studies matching the filters, oldest first."""
    spaces = {Path(s).stem for s in args.space or []}
    studies = []
    for experiment in client.search_experiments():
        name = experiment.name
        if not name.startswith(EXPERIMENT_PREFIX) or spaces and name.removeprefix(EXPERIMENT_PREFIX) not in spaces:
            continue
        for run in client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"],
                                      max_results=10000):
            tags = run.data.tags
            if SEARCH_TAG not in tags or (args.dataset and tags.get(DATASET_TAG) not in args.dataset) \
                    or (args.search and tags[SEARCH_TAG] not in args.search):
                continue
            data = _read_trials(client, run.info.run_id)
            if data is None:
                continue
            objectives = ObjectivesSpec(accuracy=data["accuracy"], speed=data["speed"], min_fps=data["min_fps"],
                                        max_params_m=data["max_params_m"], retention=data.get("retention"),
                                        min_retention=data.get("min_retention"))
            outcomes = [Outcome(**o) for o in data["outcomes"]]
            report = StudyReport.build(data["dataset"], outcomes, objectives, data.get("run_ids"),
                                       data.get("end_to_end"), experiment_id=experiment.experiment_id,
                                       parent_run_id=run.info.run_id)
            studies.append(StoredStudy(name, tags[SEARCH_TAG], run, objectives, data["searched"], report))
    if not studies:
        raise WorldtuneError("no finished worldtune study matches (check --storage/--mlflow-uri, --space, "
                             "--dataset, --search)")
    return studies
