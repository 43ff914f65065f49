"""The advisor on trial histories read back from a real MLflow store (SQLite), laid out as
search/tracking/trial_runs.py logs a search: a parent run per dataset, a child run per trial, every epoch's
metrics at step = epoch."""
from __future__ import annotations

from pathlib import Path

import pytest
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

from search.results.advisor import (
    CROSS_DOMAIN_RATIO,
    GOOD_RECALL,
    MIN_ACCURACY,
    OVERFIT_DROP,
    SLOW_GAIN,
    WEAK_RECALL,
    advise,
    format_advice,
)
from search.results.front import Outcome
from search.results.histories import TrialHistory, load_histories
from search.space.schema import ObjectivesSpec, default_tracking_uri
from search.tracking.experiment import PARENT_TAG, TRIAL_TAG, child_runs

pytestmark = pytest.mark.slow  # reads real MLflow runs


OBJECTIVES = ObjectivesSpec(min_fps=30)
SETTINGS = {"size": "tiny", "image_size": 160, "lr": 2e-3}
GOOD = {"recall50_crack": 0.8, "recall50_dent": 0.7, "recall50_rust": 0.75}


def _log_trial(client: MlflowClient, experiment: str, parent: str, trial_id: str, maps: list[float],
               losses: list[float], last: dict[str, float]) -> None:
    run = client.create_run(experiment, tags={TRIAL_TAG: trial_id, PARENT_TAG: parent}).info.run_id
    metrics = [Metric("map", v, epoch, epoch) for epoch, v in enumerate(maps, 1)]
    metrics += [Metric("train_loss", v, epoch, epoch) for epoch, v in enumerate(losses, 1)]
    metrics += [Metric(k, v, len(maps) + 1, len(maps)) for k, v in last.items()]
    client.log_batch(run, metrics=metrics)


@pytest.fixture
def store(tmp_path: Path) -> tuple[MlflowClient, str]:
    client = MlflowClient(default_tracking_uri(tmp_path))
    return client, client.create_experiment("advisor", artifact_location=(tmp_path / "art").as_uri())


def _study(client: MlflowClient, experiment: str, trials: dict[str, tuple]) -> list[TrialHistory]:
    """Log `trials` (id -> maps, losses, last metrics, values, status) under a new parent; read back."""
    parent = client.create_run(experiment).info.run_id
    outcomes = []
    for trial_id, (maps, losses, last, values, status) in trials.items():
        _log_trial(client, experiment, parent, trial_id, maps, losses, last)
        outcomes.append(Outcome(trial_id, status, accuracy=maps[-1], speed=last.get("fps"), values=values))
    return load_histories(client, outcomes, child_runs(client, experiment, parent), "map")


def test_histories_come_back_per_epoch_with_the_last_metrics(store: tuple[MlflowClient, str]) -> None:
    client, experiment = store
    parent = client.create_run(experiment).info.run_id
    _log_trial(client, experiment, parent, "t1", [0.1, 0.2], [2.0, 1.5], GOOD | {"fps": 41.0, "wall_s": 12.5})
    run_id = child_runs(client, experiment, parent)["t1"]
    client.log_batch(run_id, metrics=[Metric("map", 0.25, 99, 2)])  # epoch 2 logged again (a resumed trial)
    outcomes = [Outcome("t1", "finished", 0.25, 41.0), Outcome("never-started", "error", None, None)]
    history, empty = load_histories(client, outcomes, {"t1": run_id}, "map")
    assert history.accuracy == [(1, 0.1), (2, 0.25)] and history.train_loss == [(1, 2.0), (2, 1.5)]
    assert history.class_recall == {"crack": 0.8, "dent": 0.7, "rust": 0.75}
    assert history.training_time_s == 12.5 and history.last["fps"] == 41.0
    assert (empty.accuracy, empty.last) == ([], {})


def test_each_failure_mode_is_found_with_the_numbers_that_triggered_it(store: tuple[MlflowClient, str]) -> None:
    client, experiment = store
    fine = GOOD | {"fps": 50.0}
    defects = _study(client, experiment, {
        "healthy": ([0.30, 0.33, 0.34], [2.0, 1.6, 1.5], fine, SETTINGS, "finished"),
        "overfit": ([0.30, 0.35, 0.28], [2.0, 1.5, 1.2], fine, SETTINGS | {"lr": 1e-4}, "finished"),
        "slow": ([0.05, 0.15, 0.30], [3.0, 2.5, 2.0], fine, SETTINGS | {"lr": 2e-4}, "finished"),
        "imbalanced": ([0.30, 0.32, 0.33], [2.0, 1.7, 1.6], fine | {"recall50_dent": 0.05},
                       SETTINGS | {"lr": 3e-4}, "finished"),
        "slowmodel": ([0.30, 0.32, 0.33], [2.0, 1.7, 1.6], GOOD | {"fps": 12.0}, SETTINGS | {"lr": 4e-4}, "finished"),
    })
    ct = _study(client, experiment, {
        "far": ([0.02, 0.055, 0.06], [2.0, 1.9, 1.8], fine, SETTINGS, "finished"),  # same settings as 'healthy'
        "near": ([0.25, 0.27, 0.28], [2.0, 1.9, 1.8], fine, SETTINGS | {"lr": 2e-4}, "finished"),  # as 'slow'
    })
    found = {(a.dataset, a.trial_id, a.failure): a.line() for a in advise({"defects": defects, "ct": ct}, OBJECTIVES)}
    assert set(found) == {("defects", "overfit", "overfitting"), ("defects", "slow", "slow convergence"),
                          ("defects", "imbalanced", "class imbalance"),
                          ("defects", "slowmodel", "speed target missed"),
                          ("ct", "far", "cross-domain failure")}
    assert "map 0.350 at epoch 2 -> 0.280 at epoch 3 (-20%) while train loss fell 1.500 -> 1.200" \
        in found["defects", "overfit", "overfitting"]
    assert "0.150 -> 0.300 from epoch 2 to 3, the last epoch added 50%" in found["defects", "slow", "slow convergence"]
    assert "recall50 dent 0.05 (under 0.2) while the other 2 class(es) reach a median of 0.78" \
        in found["defects", "imbalanced", "class imbalance"]
    assert "fps 12.0 under the space's floor min_fps 30" in found["defects", "slowmodel", "speed target missed"]
    assert "image_size 96 instead of 160" in found["defects", "slowmodel", "speed target missed"]
    assert "map 0.060 here vs 0.340 on defects with the same settings (trial healthy): 18% of it" \
        in found["ct", "far", "cross-domain failure"]
    assert all("; try " in line for line in found.values())
    text = format_advice("defects", advise({"defects": defects, "ct": ct}, OBJECTIVES), len(defects))
    assert text.startswith("advisor (defects, 5 trials checked): 4 finding(s)") and len(text.splitlines()) == 5


@pytest.mark.parametrize("maps, losses, last, status", [
    # mAP fell, but by less than OVERFIT_DROP
    ([0.30, 0.35, 0.35 * (1 - OVERFIT_DROP) + 0.005], [2.0, 1.5, 1.2], {}, "finished"),
    # mAP fell a lot while the training loss rose too: not overfitting (unstable training)
    ([0.30, 0.35, 0.20], [2.0, 1.5, 1.7], {}, "finished"),
    # still climbing, but stopped by ASHA on purpose
    ([0.05, 0.15, 0.30], [3.0, 2.5, 2.0], {}, "stopped_early"),
    # last-epoch gain just under SLOW_GAIN of the final value
    ([0.20, 0.30 * (1 - SLOW_GAIN) + 0.001, 0.30], [3.0, 2.5, 2.0], {}, "finished"),
    # a weak class, but the others are not doing well either
    ([0.2, 0.21, 0.21], [2.0, 1.9, 1.8], {"recall50_crack": WEAK_RECALL - 0.01, "recall50_dent": GOOD_RECALL - 0.01,
                                          "recall50_rust": GOOD_RECALL - 0.02}, "finished"),
    # an untrained model stopped early by ASHA: neither its curve nor its mAP is judged
    ([0.004, 0.008, 0.002], [3.0, 2.5, 2.0], {}, "stopped_early"),
    # a warm-up of just under half the iterations trained
    ([0.2, 0.21, 0.21], [2.0, 1.9, 1.8], GOOD | {"warmup_iters": 49, "train_iters": 100}, "finished"),
])
def test_no_advice_below_the_thresholds(store: tuple[MlflowClient, str], maps: list[float], losses: list[float],
                                        last: dict[str, float], status: str) -> None:
    client, experiment = store
    history = _study(client, experiment, {"t": (maps, losses, (last or GOOD) | {"fps": 31.0}, SETTINGS, status)})
    assert advise({"d": history}, OBJECTIVES) == []
    assert "no trial shows overfitting, slow convergence" in format_advice("d", [], 1)


def test_cross_domain_needs_the_same_settings_and_a_large_gap(store: tuple[MlflowClient, str]) -> None:
    client, experiment = store
    a = _study(client, experiment, {"a": ([0.39, 0.4], [2, 1], GOOD | {"fps": 40.0}, SETTINGS, "finished")})
    b = _study(client, experiment, {
        "same-close": ([0.2, 0.4 * CROSS_DOMAIN_RATIO + 0.01], [2, 1], GOOD | {"fps": 40.0}, SETTINGS, "finished"),
        "other-far": ([0.02, 0.02], [2, 1], GOOD | {"fps": 40.0}, SETTINGS | {"lr": 1e-4}, "finished")})
    assert advise({"a": a, "b": b}, ObjectivesSpec()) == []


def test_an_unreachable_mlflow_leaves_the_advisor_the_outcomes_only(capsys: pytest.CaptureFixture) -> None:
    from search.results.analysis import _histories
    from search.results.study_report import StudyReport

    report = StudyReport.build("ct", [Outcome("t1", "finished", 0.3, 12.0, values=SETTINGS)], OBJECTIVES,
                               {"t1": "0123456789abcdef"})
    (history,) = _histories(MlflowClient("http://127.0.0.1:9"), report, "map")  # nothing listens on port 9
    assert history.outcome.trial_id == "t1" and history.accuracy == [] and history.last == {}
    assert "without per-epoch curves, MLflow cannot be read" in capsys.readouterr().err
    assert [a.failure for a in advise({"ct": [history]}, OBJECTIVES)] == ["speed target missed"]


def test_a_trial_that_learned_nothing_or_mostly_warmed_up_is_named(store: tuple[MlflowClient, str]) -> None:
    client, experiment = store
    fine = GOOD | {"fps": 50.0}
    study = _study(client, experiment, {
        "healthy": ([0.30, 0.33, 0.34], [2.0, 1.6, 1.5], fine, SETTINGS, "finished"),
        "untrained": ([0.004, 0.008, 0.002], [3.0, 2.5, 2.0], fine, SETTINGS | {"lr": 1e-5}, "finished"),
        "warming": ([0.30, 0.33, 0.34], [2.0, 1.6, 1.5], fine | {"warmup_iters": 90, "train_iters": 100},
                    SETTINGS | {"lr": 3e-3}, "finished"),
    })
    found = {(a.trial_id, a.failure): a.line() for a in advise({"d": study}, OBJECTIVES)}
    assert set(found) == {("untrained", "learned nothing"), ("warming", "long warm-up")}
    assert found["untrained", "learned nothing"].startswith(
        f"trial untrained: learned nothing: map 0.0020 after 3 epochs (under {MIN_ACCURACY:g}); try the starting "
        "weights")
    assert "the lr warm-up took 90 of the 100 iterations trained" in found["warming", "long warm-up"]


def test_a_study_where_no_trial_learned_gets_one_line(store: tuple[MlflowClient, str]) -> None:
    client, experiment = store
    study = _study(client, experiment, {
        f"t{k}": ([0.0, 0.001 * k], [3.0, 2.9], GOOD | {"fps": 50.0}, SETTINGS | {"lr": 1e-4 * k}, "finished")
        for k in (1, 2, 3)})
    (advice,) = advise({"d": study}, OBJECTIVES)
    assert advice.line().startswith("every trial: learned nothing: no trial reached map 0.01 (best 0.0030 of 3 "
                                    "full-budget trials); try the starting weights (model.checkpoint")
    assert format_advice("d", [advice], 3).startswith("advisor (d, 3 trials checked): 1 finding(s)")
