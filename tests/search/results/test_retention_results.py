"""Zero-shot retention as the third objective: the 3-D front and hypervolume against Optuna's own,
the recommendation under the floor, unscored trials marked, and what the summary and plot show."""
from __future__ import annotations

import numpy as np
import optuna
from hypothesis import given, settings
from hypothesis import strategies as st
from optuna._hypervolume import compute_hypervolume

from search.results.front import Outcome, hypervolume, pareto_front, recommend
from search.results.plots import RetentionAxis, front_figure, projected_front
from search.results.study_report import StudyReport, format_study, rows
from search.space.schema import ObjectivesSpec
from trainables.contract import TrialEnd

OBJECTIVES = ObjectivesSpec(retention="demo-general", min_retention=0.2)
POINTS = st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.25, 0.5]), st.sampled_from([5.0, 30.0, 80.0]),
                            st.sampled_from([0.0, 0.15, 0.3, 0.6])), min_size=1, max_size=12)


def _outcomes(points: list[tuple[float, float, float]]) -> list[Outcome]:
    return [Outcome(trial_id=f"t{i}", status="finished", accuracy=a, speed=s, retention=r)
            for i, (a, s, r) in enumerate(points)]


@settings(max_examples=150, deadline=None)
@given(POINTS)
def test_the_3d_front_is_optunas_best_trials_and_its_hypervolume_optunas(
        points: list[tuple[float, float, float]]) -> None:
    study = optuna.create_study(directions=["maximize"] * 3)
    for values in points:
        study.add_trial(optuna.trial.create_trial(values=list(values)))
    front = pareto_front(_outcomes(points))
    assert sorted(o.point for o in front) == sorted(tuple(t.values) for t in study.best_trials)
    expected = compute_hypervolume(-np.array([t.values for t in study.best_trials]), np.zeros(3))
    assert np.isclose(hypervolume(front), expected)


def test_a_trial_that_kept_its_vocabulary_is_on_the_front_and_the_floor_picks_it() -> None:
    """The fine-tuned trial is more accurate and as fast, yet the one that kept the open vocabulary
    stays on the front; the floor makes it the recommendation."""
    fine_tuned, kept = _outcomes([(0.50, 30.0, 0.05), (0.30, 30.0, 0.45)])
    assert {o.trial_id for o in pareto_front([fine_tuned, kept])} == {"t0", "t1"}
    assert recommend([fine_tuned, kept]).outcome is fine_tuned
    assert recommend([fine_tuned, kept], min_retention=0.2).outcome is kept
    refused = recommend([fine_tuned], min_retention=0.2)
    assert refused.outcome is None
    assert "no full-budget trial meets retention >= 0.2" in refused.reason
    assert "the best retention, t0's, is 0.050" in refused.reason and "general_mix" in refused.reason


def test_a_model_without_another_vocabulary_is_marked_unscored_and_kept_off_the_front() -> None:
    result = {"map": 0.6, "fps": 90.0, "finished_budget": True,
              "unscored": "reparameterized: its classes are baked into the weights"}
    unscored = Outcome.from_result("rep", {"strategy": "reparameterized"}, result, errored=False,
                                   objectives=OBJECTIVES.metrics)
    assert unscored.status == TrialEnd.UNSCORED and unscored.retention is None
    assert TrialEnd.UNSCORED.optuna_state == "FAIL" and not TrialEnd.UNSCORED.failed
    outcomes = [*_outcomes([(0.3, 30.0, 0.4)]), unscored]
    report = StudyReport.build("demo-defects", outcomes, OBJECTIVES)
    assert [o.trial_id for o in report.front] == ["t0"]
    text = format_study(report, ["strategy"], OBJECTIVES)
    assert "retention = map zero-shot on demo-general" in text.splitlines()[0]
    assert "unscored (trained, off the front: no retention figure): rep reparameterized" in text
    assert "recommended: trial t0 (highest accuracy with retention >= 0.2): map 0.3000, fps 30.0, " \
           "retention 0.4000" in text
    assert [row["retention"] for row in rows(report, [])] == [None, 0.4]  # sorted by trial id


def test_two_objective_reports_are_unchanged() -> None:
    report = StudyReport.build("demo", _outcomes([(0.3, 30.0, None)]), ObjectivesSpec())
    assert "retention" not in rows(report, [])[0] and "retention" not in format_study(report, [], ObjectivesSpec())


def test_the_plot_adds_accuracy_against_retention_with_the_floor() -> None:
    outcomes = _outcomes([(0.50, 30.0, 0.05), (0.30, 30.0, 0.45), (0.20, 80.0, 0.1), (0.1, 5.0, 0.0)])
    front = pareto_front(outcomes)
    assert {o.trial_id for o in front} == {"t0", "t1", "t2"}
    assert {o.trial_id for o in projected_front(front)} == {"t0", "t2"}, "t1 is beaten on accuracy and speed"
    figure = front_figure(outcomes, front, recommend(outcomes, min_retention=0.2), title="retention",
                          retention=RetentionAxis("demo-general", 0.2))
    speed_panel, retention_panel = figure.axes
    assert "retention: map zero-shot on demo-general" in retention_panel.get_xlabel()
    floor = [line for line in retention_panel.get_lines() if line.get_label() == "min_retention 0.2"]
    assert floor and list(floor[0].get_xdata()) == [0.2, 0.2]
    ringed = [c for c in retention_panel.collections if c.get_label() == "recommended"]
    assert ringed and ringed[0].get_offsets().tolist() == [[0.45, 0.30]]
    assert len(front_figure(outcomes, front, recommend(outcomes), title="2-D").axes) == 1
