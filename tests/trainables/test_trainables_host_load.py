"""The CPU that other processes use, as the speed lane reads it: a busy neighbour shows, this
process's own work does not (each compared with the machine's load just before, so whatever
else runs on the machine cancels out)."""
from __future__ import annotations

import multiprocessing
import time

import pytest

from trainables.host_load import BackgroundLoad, wait_for_quiet

pytestmark = pytest.mark.slow  # real processes loading the CPUs


def _spin(seconds: float) -> None:
    stop = time.time() + seconds
    while time.time() < stop:
        pass


def _load_while(block) -> float:
    load = BackgroundLoad()
    block()
    return load.cores()


def test_a_busy_neighbour_shows_and_our_own_work_does_not() -> None:
    idle = _load_while(lambda: time.sleep(1.0))
    own = _load_while(lambda: _spin(1.0))
    assert own < idle + 0.4, f"this process's own CPU time is not background ({own:.2f} vs {idle:.2f} idle)"
    neighbour = multiprocessing.get_context("spawn").Process(target=_spin, args=(3.0,))
    neighbour.start()
    time.sleep(1.0)  # past its start-up
    busy = _load_while(lambda: time.sleep(1.0))
    neighbour.join()
    assert busy > idle + 0.4, f"one process spinning is most of a core ({busy:.2f} vs {idle:.2f} idle)"


def test_waiting_for_quiet_gives_up_after_its_patience() -> None:
    neighbour = multiprocessing.get_context("spawn").Process(target=_spin, args=(4.0,))
    neighbour.start()
    time.sleep(1.0)
    started = time.monotonic()
    cores = wait_for_quiet(max_cores=0.01, patience_s=0.6)
    waited = time.monotonic() - started
    neighbour.join()
    assert cores > 0.01 and 0.6 <= waited < 2.0, (cores, waited)
    started = time.monotonic()
    assert wait_for_quiet(max_cores=100.0, patience_s=30.0) <= 100.0
    assert time.monotonic() - started < 1.0, "a quiet machine is not waited for"
