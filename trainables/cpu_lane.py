"""A node-wide lock that lets the speed lane time a model while no trial trains on the CPUs.

Training processes hold a shared lock on `work` the whole time they run and let go of it only at
pause points (between iterations); the lane takes `gate` exclusively (no trainer gets past a
pause point any more), then `work` exclusively (every trainer is parked). Taking the gate first is
what stops a busy node from starving the lane: without it, overlapping trainers would always hold
a share. Locks are `flock`s on files in the node's temp folder, so a process that dies releases
them, and every search on the node (and every test) sees the same lane.

A data-parallel trial can hold its share while it waits in a collective for a peer that is
parked at the gate; the lane then gives the gate back after `patience_s` and tries again, so the
lane waits at worst, and never deadlocks.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LANE_FOLDER_ENV = "WORLDTUNE_LANE_DIR"


def lane_folder() -> Path:
    """Node-local (never shared storage: flock over NFS is unreliable, and CPUs are per node)."""
    folder = Path(os.environ.get(LANE_FOLDER_ENV) or Path(tempfile.gettempdir()) / "worldtune-speed-lane")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _open(name: str) -> IO[bytes]:
    return open(lane_folder() / name, "a+b")


@contextmanager
def exclusive_cpus(*, patience_s: float = 20.0, poll_s: float = 0.01, on_wait=None) -> Iterator[float]:
    """Hold the node's CPUs: no trainer runs inside the block. Yields the seconds waited.

    `on_wait(seconds)` is called each time the lane gives the gate back to let a stuck
    collective finish (for a log line).
    """
    started = time.monotonic()
    with _open("gate") as gate, _open("work") as work:
        while True:
            fcntl.flock(gate, fcntl.LOCK_EX)
            deadline = time.monotonic() + patience_s
            while time.monotonic() < deadline:
                try:
                    fcntl.flock(work, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    time.sleep(poll_s)
            else:
                fcntl.flock(gate, fcntl.LOCK_UN)
                if on_wait:
                    on_wait(time.monotonic() - started)
                time.sleep(0.2)
                continue
            break
        try:
            yield time.monotonic() - started
        finally:
            fcntl.flock(work, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


class TrainingShare:
    """A trainer's side of the lane: a share of `work`, given up for a moment at each pause point."""

    def __init__(self) -> None:
        self._gate: IO[bytes] | None = None
        self._work: IO[bytes] | None = None

    def pause_point(self) -> None:
        """Let a waiting lane in (blocks while it times), then go on holding a share."""
        if self._work is None:
            self._gate, self._work = _open("gate"), _open("work")
        fcntl.flock(self._work, fcntl.LOCK_UN)
        fcntl.flock(self._gate, fcntl.LOCK_SH)   # waits while the lane holds the gate
        fcntl.flock(self._gate, fcntl.LOCK_UN)
        fcntl.flock(self._work, fcntl.LOCK_SH)   # waits while the lane times

    def step_aside(self) -> None:
        """Give up the share until the next pause point (e.g. while waiting on Ray to take a report)."""
        if self._work is not None:
            fcntl.flock(self._work, fcntl.LOCK_UN)

    def release(self) -> None:
        for handle in (self._work, self._gate):
            if handle is not None:
                handle.close()  # closing drops the flock
        self._gate = self._work = None
