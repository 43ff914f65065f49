"""A Train worker process killed (SIGKILL) mid-trial, on a real local Ray: the controller sees
the dead worker, starts a new worker group, the new worker resumes from the last reported
checkpoint, and the trial finishes with every epoch reported exactly once."""
from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real trials on Ray Train that crash


ray = pytest.importorskip("ray")
from ray import tune  # noqa: E402

from tests.project import FAST, QUICK_SPEED  # noqa: E402
from trainables.api import TrialResources, make_trainable  # noqa: E402
from trainables.configs.yolo_world import build_trial_config  # noqa: E402
from trainables.dataset_files import DatasetFiles  # noqa: E402
from trainables.params import TrialParams  # noqa: E402


def _train_workers() -> list[int]:
    """Pids of this test's Ray Train workers: descendants of this process (the local cluster's
    processes are) whose command line names RayTrainWorker; read from Linux's /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, stack = [], [os.getpid()]
    while stack:
        for child in children.get(stack.pop(), []):
            stack.append(child)
            try:
                if b"RayTrainWorker" in Path(f"/proc/{child}/cmdline").read_bytes():
                    found.append(child)
            except OSError:
                continue
    return found


class _KillTrainWorkersOnFirstResult(tune.Callback):
    """SIGKILL the Train worker when Tune receives the trial's first epoch: its checkpoint is then
    the run's latest, registered by the Train controller. Tune's own signal, not a file on disk:
    the experiment's result.json reaches storage_path only when Tune syncs it, which under load
    can be after the trial has ended."""

    def __init__(self) -> None:
        self.killed: list[int] = []

    def on_trial_result(self, iteration: int, trials: list, trial, result: dict, **info) -> None:
        if self.killed:
            return
        for pid in _train_workers():
            os.kill(pid, signal.SIGKILL)
            self.killed.append(pid)


def test_a_killed_train_worker_resumes_from_its_checkpoint_and_the_trial_finishes(
        local_ray, small_demo_root: Path, tiny_clip_path: Path, tmp_path: Path) -> None:
    data = DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")

    def build(values: dict, work_dir: str) -> dict:
        return build_trial_config(TrialParams.from_dict(values), data, work_dir, num_data_workers=0,
                                  speed_protocol=QUICK_SPEED)

    storage = tmp_path / "train_runs"
    killer = _KillTrainWorkersOnFirstResult()
    tuner = tune.Tuner(make_trainable(build, TrialResources(workers=1), storage, max_failures=1),
                       param_space=FAST | dict(text_encoder=str(tiny_clip_path), epochs=3, close_mosaic_epochs=0,
                                               lr=1e-3),
                       run_config=tune.RunConfig(name="killed", storage_path=str(tmp_path), verbose=0,
                                                 callbacks=[killer]))
    (result,) = tuner.fit()
    assert len(killer.killed) == 1, f"expected to kill one Train worker, killed {killer.killed}"
    assert result.error is None, "the worker group restarted; the trial did not fail"
    assert result.metrics_dataframe["epoch"].tolist() == [1, 2, 3], "every epoch once, none repeated"
    assert result.metrics["finished_budget"] is True and result.metrics["fps"] > 0
    logs = "".join(p.read_text(errors="replace") for p in storage.rglob("*.log"))
    assert re.search(r"resumed epoch: [12],", logs), "the new worker continued from a reported checkpoint"
