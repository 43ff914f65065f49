"""worldtune's entry point: a multi-objective (accuracy, speed) search per dataset of a space file.

    python search/run.py --space spaces/lightweight.yaml [--trials N] [--dataset NAME] [--dry-run]

Checks the space and every dataset before any trial, joins or starts Ray, runs one Ray Tune +
Optuna study per dataset (MLflow parent run per study, child run per trial), then prints each
study's Pareto front and recommended model. `--resume` continues the latest interrupted search.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if __package__ in (None, ""):  # run as a script: import the project, not search/'s own folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.environment import configure  # noqa: E402
from search.redact import redacted_output  # noqa: E402

if TYPE_CHECKING:
    from search.study.command import SearchRequest

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
    parser.add_argument("--sampler", help="tpe, gp, nsga2 or random")
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


def request_from(args: argparse.Namespace, argv: list[str]) -> SearchRequest:
    from search.study.command import SearchRequest

    overrides = {key: getattr(args, flag) for flag, key in FLAG_KEYS.items() if getattr(args, flag) is not None}
    if args.dataset:
        overrides["datasets"] = args.dataset
    return SearchRequest(space_file=args.space, overrides=overrides, gpus_per_trial=args.gpus_per_trial,
                         resume=args.resume, address=args.address, worker_logs=args.worker_logs,
                         dry_run=args.dry_run, command=" ".join(argv))


def main(argv: list[str] | None = None) -> int:
    """The search; whatever it prints has secrets masked (tokens and keys in the environment, a
    password in a URI)."""
    argv = sys.argv[1:] if argv is None else argv
    configure()  # before MLflow, Hugging Face or Ray are imported: they read it once
    with redacted_output():
        from search.study.command import run_search

        return run_search(request_from(_parse(argv), argv))


if __name__ == "__main__":
    sys.exit(main())
