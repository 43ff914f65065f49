"""A search driver killed the way its machine going down kills it: the driver and its whole local
Ray cluster at once.

Killing the driver's process group alone is not that: Ray's workers notice their raylet is gone
only seconds later, long enough to train and checkpoint another epoch while the test already
resumes the search (seen in CI). The cluster's processes are found by the `RAY_TMPDIR` the test
gave the driver: every one of them inherits it.
"""
from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path


def ray_tmpdir() -> Path:
    """A fresh `RAY_TMPDIR` for one search: short, since Ray's socket paths have a length limit."""
    return Path(tempfile.mkdtemp(prefix="wt-", dir="/tmp"))


def processes_with_env(name: str, value: str) -> list[int]:
    """The live processes whose environment sets `name=value`."""
    marker = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return found


def kill_search(driver: subprocess.Popen, ray_tmp: Path, timeout_s: float = 30.0) -> None:
    """SIGKILL the driver (started with `start_new_session`) and every process of the Ray
    cluster it started under `ray_tmp`, and wait until none is left."""
    os.killpg(driver.pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout_s
    while left := processes_with_env("RAY_TMPDIR", str(ray_tmp)):
        assert time.monotonic() < deadline, f"processes of the killed search survive: {left}"
        for pid in left:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.2)
    driver.wait(timeout=60)
