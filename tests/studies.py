"""A real one-dataset study on a local Ray whose first trials are chosen, for tests that need to
know which trial does what (a failing one, one that ASHA must stop)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from search.results.study_report import StudyReport
from search.space.loading import Space
from search.study.plan import SearchPlan, StudyPlan, make_plan


def run_enqueued_study(space: Space, search_id: str, first: Sequence[Mapping[str, Any]]
                       ) -> tuple[StudyReport, SearchPlan, StudyPlan]:
    """Run the space's one study; its Optuna study starts with the trials `first`, in that order
    (Optuna's `enqueue_trial`; list values as the space encodes choices). Ray is shut down after."""
    import optuna
    import ray

    from search.study.cluster import connect
    from search.study.runner import run_study

    connection = connect(None)
    try:
        plan = make_plan(space, connection.cluster, search_id)
        (study,) = plan.studies
        study.optuna_db.parent.mkdir(parents=True)
        optuna_study = optuna.create_study(study_name=study.name, storage=study.optuna_url,
                                           directions=["maximize"] * len(plan.space.spec.objectives.metrics))
        for values in first:
            optuna_study.enqueue_trial(dict(values))
        return run_study(plan, study, resume=False, verbose=0), plan, study
    finally:
        ray.shutdown()
