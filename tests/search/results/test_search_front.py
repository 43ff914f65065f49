"""The Pareto front, hypervolume and recommendation against Optuna's own computations."""
from __future__ import annotations

import numpy as np
import optuna
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna._hypervolume import compute_hypervolume

from search.results.closing import export_hint
from search.results.front import Outcome, hypervolume, pareto_front, recommend
from search.results.plots import dominated_region, front_figure
from search.results.study_report import StudyReport, format_study, skipped_compute
from search.space.schema import ObjectivesSpec

POINTS = st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.51]),
                            st.sampled_from([5.0, 12.5, 30.0, 31.0, 80.0])), min_size=1, max_size=12)


def _outcomes(points: list[tuple[float, float]]) -> list[Outcome]:
    return [Outcome(trial_id=f"t{i}", status="finished", accuracy=a, speed=s) for i, (a, s) in enumerate(points)]


@settings(max_examples=150, deadline=None)
@given(POINTS)
def test_front_is_optunas_best_trials_and_hypervolume_is_optunas(points: list[tuple[float, float]]) -> None:
    outcomes = _outcomes(points)
    study = optuna.create_study(directions=["maximize", "maximize"])
    for a, s in points:
        study.add_trial(optuna.trial.create_trial(values=[a, s]))
    ours = sorted((o.accuracy, o.speed) for o in pareto_front(outcomes))
    assert ours == sorted(tuple(t.values) for t in study.best_trials)
    minimized = np.array([[-a, -s] for a, s in ours])
    assert np.isclose(hypervolume(pareto_front(outcomes)), compute_hypervolume(minimized, np.zeros(2)))


@settings(max_examples=100, deadline=None)
@given(POINTS)
def test_the_plotted_staircase_encloses_exactly_the_hypervolume(points: list[tuple[float, float]]) -> None:
    front = pareto_front(_outcomes(points))
    speeds, accuracies = dominated_region(front)
    polygon = list(zip(speeds, accuracies)) + [(0.0, 0.0)]   # closed along both axes
    area = 0.5 * abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1])))
    assert np.isclose(area, hypervolume(front))
    assert all(a <= b for a, b in zip(accuracies, accuracies[1:]))   # a staircase: never back down


def test_trials_without_their_full_budget_never_reach_the_front() -> None:
    outcomes = _outcomes([(0.30, 40.0), (0.20, 60.0)]) + [
        Outcome("asha", "stopped_early", accuracy=0.9, speed=None, epochs=1),  # partial mAP, no speed measured
        Outcome("nan", "diverged", accuracy=None, speed=None),
        Outcome("late", "stopped_early", accuracy=0.9, speed=100.0)]           # even with both numbers
    assert [o.trial_id for o in pareto_front(outcomes)] == ["t1", "t0"]
    assert recommend(outcomes).outcome.trial_id == "t0"
    headline = format_study(StudyReport.build("demo", outcomes, ObjectivesSpec()), [], ObjectivesSpec()).splitlines()[0]
    assert "5 trials, 2 ran their full budget, 2 stopped early (after epoch 1, ?), front of 2" in headline


def test_recommendation_follows_the_constraints() -> None:
    outcomes = _outcomes([(0.50, 20.0), (0.40, 35.0), (0.30, 90.0)])
    outcomes = [o if o.trial_id != "t1" else Outcome("t1", "finished", 0.40, 35.0, params_m=9.0) for o in outcomes]
    assert recommend(outcomes).outcome.trial_id == "t0"
    assert recommend(outcomes, min_speed=30).outcome.trial_id == "t1"
    assert recommend(outcomes, min_speed=30, max_params_m=5).outcome is None, "t2 has no parameter count"
    nothing = recommend(outcomes, min_speed=100)
    assert nothing.outcome is None and "fastest, t2, reaches 90.0" in nothing.reason


def test_a_recommendation_says_when_no_trial_learned_anything() -> None:
    untrained = recommend(_outcomes([(0.004, 20.0), (0.0, 90.0)]))
    assert untrained.outcome.trial_id == "t0"
    assert untrained.reason == "highest accuracy, but under 0.01: no trial learned anything, see the advisor"


def test_the_export_hint_names_a_dataset_with_a_recommended_trial() -> None:
    floor = ObjectivesSpec(min_fps=30)
    slow = StudyReport.build("slow-set", _outcomes([(0.5, 20.0)]), floor)
    fast = StudyReport.build("fast-set", _outcomes([(0.4, 35.0)]), floor)
    assert export_hint([slow, fast], "export", "slow-set") == \
        "Export the recommended model:  export --dataset fast-set --out exported/"
    assert export_hint([slow], "export", "slow-set") == \
        "Export a trial (no dataset has a recommended one):  export --dataset slow-set --trial ID --out exported/"


@pytest.mark.parametrize("result, errored, status", [
    ({"map": 0.3, "fps": 40.0, "finished_budget": True}, False, "finished"),
    ({"map": 0.3, "finished_budget": False, "epoch": 2}, False, "stopped_early"),   # ASHA stopped it
    ({"status": "diverged", "error": "training loss became nan", "finished_budget": False}, False, "diverged"),
    ({"map": 0.3, "finished_budget": False}, True, "error"),
    ({"fps": 40.0, "finished_budget": True}, False, "error"),   # ran its budget, no accuracy to rank it by
    ({}, True, "error"),
    ({"fps": 12.0, "status": "infeasible", "infeasible": "fps 12 < min_fps 30", "finished_budget": False}, False,
     "infeasible"),
])
def test_a_trials_last_result_gives_its_status(result: dict, errored: bool, status: str) -> None:
    found = Outcome.from_result("t", {"lr": 1e-3}, result, errored=errored, objectives=["map", "fps"])
    assert found.status == status
    assert found.on_budget == (status == "finished")


def test_infeasible_trials_are_counted_with_the_compute_they_saved_and_kept_off_the_front() -> None:
    trained = [Outcome(f"t{i}", "finished", 0.3 + i / 10, 40.0 - i, epochs=5, wall_s=100.0, values={"epochs": 5})
               for i in range(2)]
    skipped = [Outcome("slow", "infeasible", accuracy=None, speed=12.0, epochs=0, infeasible="fps 12 < min_fps 30",
                       values={"epochs": 5}),
               Outcome("big", "infeasible", accuracy=None, speed=50.0, epochs=0,
                       infeasible="params_m 9 > max_params_m 5")]
    report = StudyReport.build("demo", trained + skipped, ObjectivesSpec(min_fps=30))
    assert {o.trial_id for o in report.front} == {"t0", "t1"}
    assert skipped_compute(report.outcomes) == (10, 200.0), "5 epochs each at 20 s an epoch"
    text = format_study(report, [], ObjectivesSpec(min_fps=30))
    assert "4 trials, 2 ran their full budget, 2 infeasible, not trained (10 epochs, ~3.3 min saved), front of 2" \
        in text.splitlines()[0]
    assert "infeasible (speed lane, before training): big params_m 9 > max_params_m 5; slow fps 12 < min_fps 30" in text


def test_with_limits_the_headline_says_when_none_was_infeasible() -> None:
    limits = ObjectivesSpec(min_fps=30)
    headline = format_study(StudyReport.build("demo", _outcomes([(0.3, 40.0)]), limits), [], limits).splitlines()[0]
    assert "1 trials, 1 ran their full budget, 0 infeasible, front of 1" in headline


def test_with_a_scheduler_the_headline_says_when_none_was_stopped() -> None:
    report = StudyReport.build("demo", _outcomes([(0.3, 40.0)]), ObjectivesSpec())
    assert "1 ran their full budget, 0 stopped early, front of 1" in \
        format_study(report, [], ObjectivesSpec(), early_stopping=True).splitlines()[0]
    assert "stopped" not in format_study(report, [], ObjectivesSpec()).splitlines()[0]


def test_the_plot_draws_the_front_as_a_staircase_and_marks_stopped_and_infeasible_trials() -> None:
    outcomes = _outcomes([(0.30, 40.0), (0.20, 60.0)]) + [
        Outcome("early", "stopped_early", accuracy=0.1, speed=50.0, epochs=2),
        Outcome("slow", "infeasible", accuracy=None, speed=12.0, epochs=0, infeasible="fps 12 < min_fps 30")]
    front = pareto_front(outcomes)
    figure = front_figure(outcomes, front, recommend(outcomes), title="demo")
    axes = figure.axes[0]
    notes = {text.get_text() for text in axes.texts}
    assert {"early (stopped at epoch 2)", "slow (infeasible)", "t0", "t1"} <= notes
    labels = axes.get_legend_handles_labels()[1]
    assert {"stopped early (partial accuracy)", "infeasible: not trained (lane speed)"} <= set(labels)
    staircase = next(line for line in axes.lines if line.get_label() == "Pareto front (dominated region)")
    assert (list(staircase.get_xdata()), list(staircase.get_ydata())) == tuple(map(list, dominated_region(front)))
