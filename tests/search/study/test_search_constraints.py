"""The space's limits on a real search (local Ray, MLflow, Optuna, the speed lane): a trial that
breaks `max_params_m` is timed by the lane, reported infeasible and never trained, Optuna has it
as COMPLETE with its violation (the sampler's constraint mechanism), and the others train."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow.tracking import MlflowClient

from search.space.schema import default_tracking_uri
from search.tracking.experiment import INFEASIBLE_TAG, PARENT_TAG, STATUS_TAG, experiment_name
from tests.project import ROOT, write_space

pytestmark = pytest.mark.slow  # a real search on a local Ray


MAX_PARAMS_M = 8.0
"""Between the tiny model (about 3 M parameters deployed) and S (about 12 M)."""


def test_an_infeasible_trial_is_never_trained_and_optuna_knows_why(small_demo_root: Path, tiny_clip_path: Path,
                                                                   tmp_path: Path) -> None:
    os.environ["WORLDTUNE_DATA_DIR"] = str(small_demo_root)
    space_file = write_space(tmp_path, "limits", tiny_clip_path, epochs=1, trials=3, max_concurrent=2)
    space = json.loads(space_file.read_text())
    space["parameters"] = {"size": {"type": "choice", "values": ["tiny", "s"]},
                           "lr": {"type": "float", "low": 1e-4, "high": 3e-3, "log": True}}
    space["fixed"].pop("size")
    space["objectives"] = {"max_params_m": MAX_PARAMS_M}
    space_file.write_text(json.dumps(space))
    output = subprocess.run([sys.executable, str(ROOT / "search" / "run.py"), "--space", str(space_file)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert output.returncode == 0, output.stderr[-4000:]

    root = tmp_path / "runs"
    client = MlflowClient(default_tracking_uri(root))
    experiment = client.get_experiment_by_name(experiment_name("limits"))
    children = [r for r in client.search_runs([experiment.experiment_id]) if PARENT_TAG in r.data.tags]
    by_size: dict[str, list] = {}
    for child in children:
        by_size.setdefault(child.data.params["size"], []).append(child)
    assert set(by_size) == {"tiny", "s"}, f"the seeded sampler drew both sizes in 3 trials: {sorted(by_size)}"
    for child in by_size["s"]:
        tags, metrics = child.data.tags, child.data.metrics
        assert tags[STATUS_TAG] == "infeasible" and child.info.status == "FINISHED"
        assert tags[INFEASIBLE_TAG] == f"params_m {metrics['params_m']:.4g} > max_params_m {MAX_PARAMS_M:g}"
        assert metrics["params_m"] > MAX_PARAMS_M and metrics["fps"] > 0 and "map" not in metrics
        trial_dir = next((root / "train").glob(f"*/demo-defects/{tags['worldtune.trial_id']}"))
        assert [p.name for p in trial_dir.iterdir()] == ["work_dir"], "no Train run: no checkpoint, no state"
        assert not list(trial_dir.glob("work_dir/*/*.log")), "mmengine never started"
        assert tags["arch_key"] in (trial_dir / "work_dir" / "speed_lane.log").read_text()
    for child in by_size["tiny"]:
        assert child.data.tags[STATUS_TAG] == "finished" and child.data.metrics["params_m"] < MAX_PARAMS_M
        assert "map" in child.data.metrics
    infeasible = len(by_size["s"])
    assert f"{infeasible} infeasible, not trained ({infeasible} epochs, ~" in output.stdout
    assert "infeasible, not trained: params_m" in output.stdout

    study = optuna.load_study(study_name=None, storage=f"sqlite:///{next((root / 'optuna').glob('*.db'))}")
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    by_params = {t.params["size"]: t for t in study.trials}
    slow, fitting = by_params["s"], by_params["tiny"]
    params_m = by_size["s"][0].data.metrics["params_m"]
    assert slow.constraints == {"max_params_m": pytest.approx((params_m - MAX_PARAMS_M) / MAX_PARAMS_M)}
    assert fitting.constraints["max_params_m"] < 0, "a trial that fits has its margin, negative"
    assert slow.values[0] == 0.0 and slow not in study.best_trials
