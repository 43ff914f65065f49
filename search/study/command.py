"""The search command behind `search/run.py`: checks, Ray, one study per dataset, the summary.

Everything that can be wrong with the space file or the data is found before Ray starts; a dry
run stops after printing the plan. Errors the user can fix (`WorldtuneError`) end the command
with their message and exit status 2, never a traceback.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from search.datasets import DEMO_DATASETS, ensure_demo_dataset, ensure_valid
from search.errors import SpaceError, WorldtuneError
from search.space.loading import Space, load_space
from search.study.plan import Cluster, SearchPlan, dataset_files, describe, make_plan
from trainables.params import TrialParams
from trainables.values import did_you_mean


@dataclass(frozen=True)
class SearchRequest:
    """What the command line asked for."""

    space_file: Path
    overrides: dict[str, Any] = field(default_factory=dict)   # dotted space keys -> values (flags)
    gpus_per_trial: float | None = None   # split over the trial's workers
    resume: str | None = None             # a search id, "latest", or None: a new search
    address: str | None = None            # a Ray cluster to join
    worker_logs: bool = False
    dry_run: bool = False
    command: str = ""                     # the flags as typed, for the resume hint


def load(request: SearchRequest) -> Space:
    """The space with the flags applied; --gpus-per-trial is split over the trial's workers."""
    space = load_space(request.space_file, request.overrides)
    if request.gpus_per_trial is None:
        return space
    workers = space.spec.resources.workers
    return load_space(request.space_file,
                      request.overrides | {"resources.gpus_per_worker": request.gpus_per_trial / workers})


def _search_id(space: Space, resume: str | None) -> str:
    """A new id (space name + time), or the one to resume: given, or this space's latest."""
    if resume is None:
        return f"{space.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    if resume != "latest":
        return resume
    tune_root = Path(space.spec.storage.root).absolute() / "tune"
    found = sorted(p.name for p in tune_root.glob(f"{space.name}-*") if p.is_dir())
    if not found:
        raise SpaceError(space.file, "", f"--resume: no earlier search of space {space.name!r} in {tune_root}")
    return found[-1]


def _check_datasets(space: Space) -> None:
    """Generate missing demo sets and check every dataset (the retention set too) before Ray
    starts: nothing trains on broken data."""
    entries = {f"datasets[{index}]": entry for index, entry in enumerate(space.spec.datasets)}
    if space.spec.objectives.retention:
        entries["objectives.retention"] = space.spec.objectives.retention
    for key, entry in entries.items():
        files = dataset_files(entry)
        if isinstance(entry, str) and entry in DEMO_DATASETS:
            ensure_demo_dataset(entry, files.root.parent)
        elif isinstance(entry, str) and not files.root.is_dir():
            raise SpaceError(space.file, key, f"{entry!r} is neither a demo set nor a folder"
                             + did_you_mean(entry, sorted(DEMO_DATASETS)))
        ensure_valid(files)
        print(f"[worldtune] dataset {files.name!r}: {files.root} checked, no problems", flush=True)


def _check_start_weights(plan: SearchPlan) -> None:
    """Load each starting checkpoint into the detector the fixed values build (the first
    dataset's classes) before any trial trains: a file that is not a checkpoint of this model
    stops the search here, naming the file and the keys that did not fit."""
    study = plan.studies[0]
    checkpoint = study.space.fixed.get("load_from")
    if not checkpoint:
        return
    from trainables.api import StartWeightsRefused, check_start_weights

    try:
        report = check_start_weights(TrialParams.from_dict(study.space.fixed), study.dataset)
    except StartWeightsRefused as error:
        raise SpaceError(plan.space.file, "model.checkpoint", str(error)) from None
    print("[worldtune] starting weights: " + report.replace("\n", "\n  "), flush=True)


def run_search(request: SearchRequest) -> int:
    """The search, or the plan alone for a dry run; the exit status."""
    connection = None
    try:
        space = load(request)
        search_id = _search_id(space, request.resume)
        _check_datasets(space)
        if request.dry_run and not (request.address or os.environ.get("RAY_ADDRESS")):
            cluster = Cluster.this_machine()
        else:
            from search.study.cluster import connect

            connection = connect(request.address, worker_logs=request.worker_logs)
            cluster = connection.cluster
            print(f"[worldtune] Ray: {cluster.cpus:g} CPUs, {cluster.gpus:g} GPUs; dashboard "
                  f"{connection.dashboard_url or '(not available)'}", flush=True)
            if connection.metrics:
                print(f"[worldtune] metrics: {connection.metrics}", flush=True)
        plan = make_plan(space, cluster, search_id)
        print("[worldtune] plan:\n" + describe(plan), flush=True)
        _check_start_weights(plan)
        if request.dry_run:
            return 0
        from search.results.analysis import analyse
        from search.results.closing import format_closing
        from search.study.runner import run_study

        if request.resume is None:
            print(f"[worldtune] if this search is interrupted, continue it with: python search/run.py "
                  f"{request.command} --resume {search_id}", flush=True)
        reports = [run_study(plan, study, resume=request.resume is not None) for study in plan.studies]
        print(format_closing(plan, reports, connection.dashboard_url if connection else None,
                             analyse(plan, reports)), flush=True)
    except WorldtuneError as error:
        print(f"[worldtune] error: {error}", file=sys.stderr)
        return 2
    finally:
        if connection is not None and connection.started_here:
            import ray

            ray.shutdown()
    return 0
