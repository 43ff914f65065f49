"""Print and compare accuracy/speed Pareto fronts across datasets and searches, from the MLflow store.

    python search/pareto.py [--storage worldtune_runs] [--space lightweight] [--dataset demo-ct] \
        [--log-comparison]

Each finished study's front is recomputed from the store and one table compares them
(search/results/across_searches.py). With `--log-comparison` the table and a plot of
the fronts overlaid also go to MLflow, as a run of the experiment `worldtune-comparisons`, and
the link to that plot is printed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: import the project, not search/'s own folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.environment import configure  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    configure()  # before MLflow is imported: it reads it once
    from search.results.across_searches import compare_searches
    from search.tracking.comparison_run import COMPARISON_EXPERIMENT
    from search.tracking.store import add_store_arguments

    parser = argparse.ArgumentParser(prog="python search/pareto.py", description=__doc__.split("\n")[0])
    add_store_arguments(parser)
    parser.add_argument("--log-comparison", action="store_true",
                        help="also log the table and the fronts overlaid as an MLflow run (experiment "
                             f"{COMPARISON_EXPERIMENT}) and print its link")
    return compare_searches(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
