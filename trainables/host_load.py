"""CPU time the rest of the machine used while a block ran: how the speed lane knows that a CPU
measurement was disturbed (a trial's worker starting up, Ray's daemons, another thread of the
same process, the hypervisor's steal) even when its own timings look steady.

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


def _own_seconds(thread_only: bool) -> float:
    if thread_only:
        return time.thread_time()
    times = os.times()
    return times.user + times.system


class BackgroundLoad:
    """Started when made; `cores()` is the CPU that everything else used since, in cores.

    "Everything else" is all but the calling thread (`thread_only`, right for a single-threaded
    measurement, which runs in it: Ray's threads in the same worker process then count as load),
    or all but this process (for measurements that use a thread pool).
    """

    def __init__(self, thread_only: bool = True) -> None:
        self._thread_only = thread_only
        self._busy, self._own, self._started = _busy_seconds(), _own_seconds(thread_only), time.monotonic()

    def cores(self) -> float | None:
        busy = _busy_seconds()
        elapsed = time.monotonic() - self._started
        if busy is None or self._busy is None or elapsed <= 0:
            return None
        others = (busy - self._busy) - (_own_seconds(self._thread_only) - self._own)
        return max(others, 0.0) / elapsed


def wait_for_quiet(max_cores: float, patience_s: float, sample_s: float = 0.25) -> float | None:
    """Wait (at most `patience_s`) until everything else uses no more than `max_cores` over a
    `sample_s` window; the last window's load (None: unknown, nothing waited)."""
    deadline = time.monotonic() + patience_s
    while True:
        load = BackgroundLoad()
        time.sleep(sample_s)
        cores = load.cores()
        if cores is None or cores <= max_cores or time.monotonic() >= deadline:
            return cores
