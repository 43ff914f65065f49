"""Train's per-epoch reports to Tune, each one reported by the trial's own thread.

Ray's `TuneReportCallback` hands reports to the Tune session's result thread through a queue
of one, which races with the trial function's end: when `fit()` returns before that thread has
taken the last report, the function's closing report fills the session's result queue first and
the result thread blocks forever putting the last epoch into it. The trial then hangs RUNNING
with its final epoch unreported (seen in CI: a 3-epoch trial stuck at epoch 2 for 10 minutes).

Here the Train controller only appends to an unbounded queue, `fit()` runs in a helper thread,
and the trial's thread reports every queued epoch with `ray.tune.report` itself, the last ones
after `fit()` has returned: the ordinary function-trainable path, with nothing to race.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import ray.train
import ray.tune
from ray.train.v2.api.callback import UserCallback
from ray.util.queue import Empty, Queue

from trainables import contract

POLL_S = 0.5
"""How often the trial's thread looks for a new report while training runs."""


class QueuedReports(UserCallback):
    """Train callback (runs in the Train controller): rank 0's metrics, with the reported
    checkpoint's folder as `checkpoint_path`, appended to a Ray queue."""

    def __init__(self) -> None:
        self.queue = Queue(actor_options={"num_cpus": 0})

    def after_report(self, run_context: object, metrics: list[dict[str, Any]],
                     checkpoint: ray.train.Checkpoint | None) -> None:
        report = dict(metrics[0])
        if checkpoint is not None:
            report[contract.CHECKPOINT_PATH] = checkpoint.path
        self.queue.put(report)


def fit_reporting_to_tune(fit: Callable[[], object], reports: QueuedReports) -> None:
    """Run `fit` (a Train run with `reports` among its callbacks) and report each of its epochs
    to Tune from this thread, in order, the last ones after it returned; its error is raised
    here once every report before it has reached Tune."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            fit()
        except BaseException as error:  # noqa: BLE001 - re-raised in the trial's thread below
            failure.append(error)

    fitting = threading.Thread(target=run, name="worldtune-train-fit", daemon=True)
    fitting.start()
    while fitting.is_alive():
        _report_queued(reports.queue, wait_s=POLL_S)
    _report_queued(reports.queue, wait_s=0.0)  # fit() has returned: every report is queued
    if failure:
        raise failure[0]


def _report_queued(queue: Queue, wait_s: float) -> None:
    """Report what the queue holds to Tune, waiting up to `wait_s` for the first one."""
    while True:
        try:
            report = queue.get(timeout=wait_s) if wait_s > 0 else queue.get_nowait()
        except Empty:
            return
        ray.tune.report(report)
        wait_s = 0.0
