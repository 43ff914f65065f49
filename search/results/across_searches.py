"""Fronts of finished searches side by side, read back from the MLflow store (search/pareto.py).

Each finished study's front is recomputed from its `pareto/trials.json` (only full-budget trials),
then one table compares them. Hypervolumes (reference point: 0 on every objective) compare
searches of the same dataset and objectives (an area with two, a volume with retention);
`covers` says how much of another search's front on the same dataset is dominated or matched by
this one's.
"""
from __future__ import annotations

import argparse
import sys

from search.errors import WorldtuneError
from search.results.front import Outcome, dominates
from search.results.study_report import format_study
from search.results.tables import text_table
from search.tracking.comparison_run import COMPARISON_EXPERIMENT, PLOT, log_comparison
from search.tracking.links import run_page, ui_base
from search.tracking.store import StoredStudy, artifact_root, client_for, load_studies, tracking_uri


def coverage(front: list[Outcome], other: list[Outcome]) -> float:
    """Share of `other`'s points that some point of `front` dominates or equals (C-metric)."""
    if not other:
        return 0.0
    same = lambda a, b: (a.accuracy, a.speed) == (b.accuracy, b.speed)  # noqa: E731
    return sum(any(dominates(a, b) or same(a, b) for a in front) for b in other) / len(other)


def comparison(studies: list[StoredStudy]) -> list[dict[str, object]]:
    """One row per study; `covers` lists the other searches of the same dataset."""
    table = []
    for study in studies:
        report, front = study.report, study.report.front
        best = report.recommendation.outcome
        rivals = [s for s in studies if s.dataset == study.dataset and s is not study]
        table.append({
            "space": study.experiment.split("/", 1)[-1], "search": study.search_id, "dataset": study.dataset,
            "trials": len(report.outcomes), "full_budget": sum(o.on_budget for o in report.outcomes),
            "front": len(front), "hypervolume": report.hypervolume,
            "best_accuracy": max((o.accuracy for o in front), default=None),
            "best_speed": max((o.speed for o in front), default=None),
            "recommended": best.trial_id if best else None,
            "covers": ", ".join(f"{r.search_id}: {coverage(front, r.report.front):.0%}" for r in rivals) or None,
        })
    return table


def compare_searches(args: argparse.Namespace) -> int:
    """Print every matching study's front and the comparison table; with `args.log_comparison`,
    log them to MLflow and print the link. The exit status."""
    try:
        client = client_for(args)
        studies = load_studies(client, args)
    except WorldtuneError as error:
        print(f"[worldtune] error: {error}", file=sys.stderr)
        return 2
    for study in studies:
        print(f"\n{study.experiment} / search {study.search_id} (parent run {study.run.info.run_id})")
        print(format_study(study.report, study.searched, study.objectives))
    table = comparison(studies)
    print("\ncomparison (hypervolume: reference point 0 on every objective; compare within a dataset and its "
          "objectives)")
    print(text_table(table))
    if args.log_comparison:
        uri = tracking_uri(args)
        ui = ui_base(uri)
        experiment, run_id = log_comparison(client, studies, table, artifacts=artifact_root(uri), ui=ui)
        print(f"\n[worldtune] comparison logged to MLflow ({uri}): run {run_id} of experiment "
              f"{COMPARISON_EXPERIMENT!r}\n  fronts overlaid:  {run_page(ui, experiment, run_id, PLOT)}")
    return 0
