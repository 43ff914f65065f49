"""worldtune's entry point: a multi-objective (accuracy, speed) search per dataset of a space file.

    python search/run.py --space spaces/lightweight.yaml [--trials N] [--dataset NAME] [--dry-run]

Checks the space and every dataset before any trial, joins or starts Ray, runs one Ray Tune +
Optuna study per dataset (MLflow parent run per study, child run per trial), then prints each
study's Pareto front and recommended model. `--resume` continues the latest interrupted search.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the project, not search/'s own folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.datasets import DEMO_DATASETS, ensure_demo_dataset, ensure_valid  # noqa: E402
from search.errors import SpaceError, WorldtuneError, did_you_mean  # noqa: E402
from search.plan import Cluster, dataset_files, describe, make_plan  # noqa: E402
from search.redact import redacted_output  # noqa: E402
from search.space import Space, load_space  # noqa: E402

FLAG_KEYS = {"trials": "budget.trials", "max_concurrent": "budget.max_concurrent",
             "time_limit": "budget.time_limit_s", "workers": "resources.workers",
             "cpus_per_worker": "resources.cpus_per_worker", "sampler": "sampler.type", "seed": "sampler.seed",
             "scheduler": "scheduler.type", "storage": "storage.root", "mlflow_uri": "storage.mlflow_uri"}


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python search/run.py", description=__doc__.split("\n")[0])
    parser.add_argument("--space", type=Path, required=True, help="search-space YAML file (spaces/*.yaml)")
    parser.add_argument("--dataset", action="append", help="run only this dataset (a name from the file, a demo "
                        "set, or a folder in the standard layout); repeatable")
    parser.add_argument("--trials", type=int, help="trials per dataset")
    parser.add_argument("--max-concurrent", type=int, help="trials at once (capped to what the cluster holds)")
    parser.add_argument("--time-limit", type=float, help="seconds per dataset study")
    parser.add_argument("--workers", type=int, help="Train workers per trial")
    parser.add_argument("--gpus-per-trial", type=float, help="GPUs per trial, split over its workers (0: CPU)")
    parser.add_argument("--cpus-per-worker", type=float)
    parser.add_argument("--sampler", help="tpe, nsga2 or random")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--scheduler", help="pareto, asha or none")
    parser.add_argument("--storage", help="results folder (Tune, Optuna, MLflow by default)")
    parser.add_argument("--mlflow-uri", help="MLflow tracking URI (default: sqlite in the results folder)")
    parser.add_argument("--address", help="Ray cluster to join (default: $RAY_ADDRESS, else a local cluster)")
    parser.add_argument("--resume", nargs="?", const="latest", metavar="SEARCH_ID",
                        help="continue an interrupted search (default: the latest of this space)")
    parser.add_argument("--worker-logs", action="store_true",
                        help="stream every trial worker's log (mmengine's) to this console; they are always kept "
                             "in each trial's work dir and on the Ray dashboard")
    parser.add_argument("--dry-run", action="store_true", help="print the plan and check the data; train nothing")
    return parser.parse_args(argv)


def _load(args: argparse.Namespace) -> Space:
    """The space with the flags applied; --gpus-per-trial is split over the trial's workers."""
    overrides = {key: getattr(args, flag) for flag, key in FLAG_KEYS.items() if getattr(args, flag) is not None}
    if args.dataset:
        overrides["datasets"] = args.dataset
    space = load_space(args.space, overrides)
    if args.gpus_per_trial is None:
        return space
    workers = space.spec.resources.workers
    return load_space(args.space, overrides | {"resources.gpus_per_worker": args.gpus_per_trial / workers})


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
    """Generate missing demo sets and check every dataset before Ray starts: nothing trains on
    broken data."""
    for index, entry in enumerate(space.spec.datasets):
        files = dataset_files(entry)
        if isinstance(entry, str) and entry in DEMO_DATASETS:
            ensure_demo_dataset(entry, files.root.parent)
        elif isinstance(entry, str) and not files.root.is_dir():
            raise SpaceError(space.file, f"datasets[{index}]", f"{entry!r} is neither a demo set nor a folder"
                             + did_you_mean(entry, sorted(DEMO_DATASETS)))
        ensure_valid(files)
        print(f"[worldtune] dataset {files.name!r}: {files.root} checked, no problems", flush=True)


def main(argv: list[str] | None = None) -> int:
    """The search; whatever it prints has secrets masked (tokens and keys in the environment, a
    password in a URI)."""
    with redacted_output():
        return _search(argv)


def _search(argv: list[str] | None) -> int:
    args = _parse(argv)
    connection = None
    try:
        space = _load(args)
        search_id = _search_id(space, args.resume)
        _check_datasets(space)
        if args.dry_run and not (args.address or os.environ.get("RAY_ADDRESS")):
            cluster = Cluster.this_machine()
        else:
            from search.cluster import connect

            connection = connect(args.address, worker_logs=args.worker_logs)
            cluster = connection.cluster
            print(f"[worldtune] Ray: {cluster.cpus:g} CPUs, {cluster.gpus:g} GPUs; dashboard "
                  f"{connection.dashboard_url or '(not available)'}", flush=True)
            if connection.metrics:
                print(f"[worldtune] metrics: {connection.metrics}", flush=True)
        plan = make_plan(space, cluster, search_id)
        print("[worldtune] plan:\n" + describe(plan), flush=True)
        if args.dry_run:
            return 0
        from search.analysis import analyse
        from search.study import run_study
        from search.summary import format_closing

        if args.resume is None:
            print(f"[worldtune] if this search is interrupted, continue it with: python search/run.py "
                  f"{' '.join(sys.argv[1:] if argv is None else argv)} --resume {search_id}", flush=True)
        reports = [run_study(plan, study, resume=args.resume is not None) for study in plan.studies]
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


if __name__ == "__main__":
    sys.exit(main())
