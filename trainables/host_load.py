"""CPU time the rest of the machine used while a block ran: how the speed lane knows that a CPU
measurement was disturbed (a trial's worker starting up, Ray's daemons, the hypervisor's steal)
even when its own timings look steady.

Linux only (`/proc/stat`); elsewhere the load is unknown (None) and measurements are kept as
they are.
"""
from __future__ import annotations

import os
import time

_BUSY_FIELDS = (0, 1, 2, 5, 6, 7)  # user, nice, system, irq, softirq, steal (idle and iowait are not busy)


def _busy_seconds() -> float | None:
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()[1:]
    except OSError:
        return None
    return sum(int(fields[i]) for i in _BUSY_FIELDS if i < len(fields)) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


class BackgroundLoad:
    """Started when made; `cores()` is the CPU the other processes used since, in cores."""

    def __init__(self) -> None:
        self._busy, self._own, self._started = _busy_seconds(), _own_seconds(), time.monotonic()

    def cores(self) -> float | None:
        busy = _busy_seconds()
        elapsed = time.monotonic() - self._started
        if busy is None or self._busy is None or elapsed <= 0:
            return None
        others = (busy - self._busy) - (_own_seconds() - self._own)
        return max(others, 0.0) / elapsed


def wait_for_quiet(max_cores: float, patience_s: float, sample_s: float = 0.25) -> float | None:
    """Wait (at most `patience_s`) until the other processes use no more than `max_cores` over a
    `sample_s` window; the last window's load (None: unknown, nothing waited)."""
    deadline = time.monotonic() + patience_s
    while True:
        load = BackgroundLoad()
        time.sleep(sample_s)
        cores = load.cores()
        if cores is None or cores <= max_cores or time.monotonic() >= deadline:
            return cores
