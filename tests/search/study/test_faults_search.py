"""Trials that fail in every way a trial can fail, inside one real search (local Ray, Optuna,
MLflow in SQLite): an impossible parameter combination the space file allows, a model too wide
for any memory (its first weight is a 4.4 TB allocation that the CPU allocator refuses), and a
loss that turns NaN. Each is recorded as failed in Optuna and in MLflow, and the search goes on to
finish its healthy trial.

The four trials are enqueued in the persistent Optuna study before the search starts (Optuna's
own warm-start mechanism), so the sampler proposes exactly them, in this order.
"""
from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from search.space.distributions import to_choice_value
from search.space.loading import load_space
from search.space.schema import default_tracking_uri
from search.tracking.experiment import PARENT_TAG, STATUS_TAG, TRIAL_TAG
from tests.project import FAST, QUICK_SPEED
from tests.studies import run_enqueued_study

pytestmark = pytest.mark.slow  # real searches with failing trials


HEALTHY = {"lr": 2e-3, "embed_dims": 32, "neck_embed_channels": [128, 256, 512], "neck_num_heads": [4, 8, 16]}
FAILING = {  # what is wrong -> the trial's values; each differs from HEALTHY in one way
    "impossible": HEALTHY | {"neck_num_heads": [3, 6, 12]},      # 3 heads do not divide 128 channels
    "out_of_memory": HEALTHY | {"embed_dims": 2 ** 34},          # a 17-billion-channel head
    "diverged": HEALTHY | {"lr": 1e12},
}
ERROR_TEXT = {"impossible": "neck_num_heads", "out_of_memory": "out of memory",
              "diverged": "training loss became"}


def _space(folder: Path, demo_root: Path, clip: Path) -> Path:
    choices = {name: sorted({json.dumps(v[name]) for v in [HEALTHY, *FAILING.values()]}) for name in HEALTHY}
    space = {"name": "faulty", "datasets": [{"name": "demo-defects", "root": str(demo_root / "demo-defects")}],
             "model": {"text_encoder": str(clip)},
             "parameters": {name: {"type": "choice", "values": [json.loads(v) for v in values]}
                            for name, values in choices.items()},
             "fixed": FAST, "scheduler": {"type": "none"}, "budget": {"trials": 4, "max_concurrent": 2},
             "resources": {"workers": 1, "cpus_per_worker": 1}, "speed": QUICK_SPEED.as_dict(),
             "storage": {"root": str(folder / "runs")}}
    file = folder / "faulty.yaml"
    file.write_text(json.dumps(space))
    return file


@pytest.fixture(scope="module")
def faulty_search(small_demo_root: Path, tiny_clip_path: Path, tmp_path_factory: pytest.TempPathFactory
                  ) -> tuple[object, Path]:
    """(the study's report, storage root) of a 4-trial search: 3 failing trials, then a healthy one."""
    folder = tmp_path_factory.mktemp("faulty")
    space = load_space(_space(folder, small_demo_root, tiny_clip_path))
    first = [{k: to_choice_value(v) for k, v in values.items()} for values in [*FAILING.values(), HEALTHY]]
    report, plan, _ = run_enqueued_study(space, "faulty-1", first)
    return report, plan.root


def _which(values: dict) -> str:
    """The failure a trial was given, from its values."""
    return next((name for name, failing in FAILING.items() if values == failing), "healthy")


def test_failing_trials_are_failed_in_optuna_and_the_healthy_one_completes(faulty_search) -> None:
    report, root = faulty_search
    (db,) = (root / "optuna").glob("*.db")
    study = optuna.load_study(study_name="demo-defects", storage=f"sqlite:///{db}")
    states = {_which({k: json.loads(v) if isinstance(v, str) else v for k, v in t.params.items()}): t.state
              for t in study.trials}
    assert states == {"impossible": optuna.trial.TrialState.FAIL, "out_of_memory": optuna.trial.TrialState.FAIL,
                      "diverged": optuna.trial.TrialState.FAIL, "healthy": optuna.trial.TrialState.COMPLETE}
    statuses = {_which({k: o.values[k] for k in HEALTHY}): o.status for o in report.outcomes}
    assert statuses == {"impossible": "error", "out_of_memory": "error", "diverged": "diverged",
                        "healthy": "finished"}
    assert [_which({k: o.values[k] for k in HEALTHY}) for o in report.front] == ["healthy"]


def test_failing_trials_are_failed_runs_in_mlflow_with_their_reason(faulty_search) -> None:
    _, root = faulty_search
    client = MlflowClient(default_tracking_uri(root))
    experiment = client.get_experiment_by_name("worldtune/faulty")
    runs = [r for r in client.search_runs([experiment.experiment_id]) if TRIAL_TAG in r.data.tags]
    assert len(runs) == 4 and len({r.data.tags[PARENT_TAG] for r in runs}) == 1
    by_failure = {_which({k: json.loads(r.data.params[k]) for k in HEALTHY}): r for r in runs}
    assert set(by_failure) == {*FAILING, "healthy"}
    for failure, text in ERROR_TEXT.items():
        run = by_failure[failure]
        assert run.info.status == "FAILED", failure
        assert run.data.tags[STATUS_TAG] == ("diverged" if failure == "diverged" else "error")
        assert text in run.data.tags["error"], (failure, run.data.tags["error"][-500:])
    healthy = by_failure["healthy"]
    assert healthy.info.status == "FINISHED" and healthy.data.tags[STATUS_TAG] == "finished"
    assert [m.step for m in client.get_metric_history(healthy.info.run_id, "map")] == [1, 2]
