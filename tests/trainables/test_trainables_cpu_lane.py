"""The CPU lane lock, across real processes: no trainer iteration runs while the lane holds the
CPUs, and a trainer stuck holding its share makes the lane wait, never deadlock."""
from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

import pytest

from trainables.cpu_lane import LANE_FOLDER_ENV, TrainingShare, exclusive_cpus

pytestmark = pytest.mark.slow  # real processes contending for the CPUs


@pytest.fixture(autouse=True)
def own_lane(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A lane folder of this test's own (the spawned trainers inherit the environment)."""
    monkeypatch.setenv(LANE_FOLDER_ENV, str(tmp_path / "lane"))
    return tmp_path / "lane"


def _trainer(log: str, seconds: float) -> None:
    """Iterations of ~5 ms of busy work, each logged as (start, end), with a pause point before each."""
    share, spans, stop = TrainingShare(), [], time.time() + seconds
    while time.time() < stop:
        share.pause_point()
        start = time.time()
        while time.time() - start < 0.005:
            pass
        spans.append((start, time.time()))
    share.release()
    Path(log).write_text(json.dumps(spans))


def _holder(ready: str, seconds: float) -> None:
    """A trainer that takes its share and then sits in a 'collective' for `seconds`."""
    share = TrainingShare()
    share.pause_point()
    Path(ready).touch()
    time.sleep(seconds)
    share.release()


def _reporter(ready: str, seconds: float) -> None:
    """A trainer that steps aside while it waits (on Ray to take its report, say)."""
    share = TrainingShare()
    share.pause_point()
    share.step_aside()
    Path(ready).touch()
    time.sleep(seconds)
    share.release()


def _start(target, *args) -> multiprocessing.Process:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    return process


def _start_when_ready(target, folder: Path, seconds: float) -> multiprocessing.Process:
    """Start a trainer that touches a file once it holds (or has stepped aside from) its share."""
    ready = folder / "ready"
    process = _start(target, str(ready), seconds)
    deadline = time.time() + 30
    while not ready.exists() and time.time() < deadline:
        time.sleep(0.05)
    return process


def test_no_trainer_iteration_overlaps_the_lane(tmp_path: Path) -> None:
    logs = [tmp_path / f"trainer{i}.json" for i in range(2)]
    trainers = [_start(_trainer, str(log), 4.0) for log in logs]
    time.sleep(1.5)  # both trainers are iterating, their shares overlapping
    with exclusive_cpus() as waited:
        inside = (time.time(), time.time() + 0.5)
        time.sleep(0.5)
    for trainer in trainers:
        trainer.join(timeout=30)
        assert trainer.exitcode == 0
    spans = [span for log in logs for span in json.loads(log.read_text())]
    assert len(spans) > 100, "the trainers ran"
    overlapping = [s for s in spans if s[0] < inside[1] and s[1] > inside[0]]
    assert overlapping == [], f"iterations ran while the lane held the CPUs: {overlapping[:3]}"
    assert waited < 1.0, "the lane gets in within an iteration or so, even with overlapping trainers"


def test_a_share_held_through_a_collective_delays_the_lane_without_deadlock(tmp_path: Path) -> None:
    holder = _start_when_ready(_holder, tmp_path, 2.0)
    waits: list[float] = []
    with exclusive_cpus(patience_s=0.3, on_wait=waits.append) as waited:
        pass
    holder.join(timeout=30)
    assert waits, "the lane gave the gate back while the share was held"
    assert 1.0 < waited < 10.0


def test_a_trainer_that_steps_aside_lets_the_lane_in_at_once(tmp_path: Path) -> None:
    reporter = _start_when_ready(_reporter, tmp_path, 3.0)
    with exclusive_cpus(patience_s=0.3) as waited:
        pass
    reporter.join(timeout=30)
    assert waited < 0.5
