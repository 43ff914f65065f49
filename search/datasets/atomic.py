"""Write a folder so that it appears whole or not at all, even with several writers at once.

Generated demo data is reused whenever its folder exists, so a half-written folder (a crash, two
processes on one machine) must never take the final name.
"""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def write_folder_atomically(target: Path, write: Callable[[Path], None]) -> Path:
    """Let `write` fill a staging folder next to `target`, then rename it to `target`.

    If another process created `target` first, its folder is kept and ours is discarded.
    """
    target = Path(target).absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        write(staging)
        os.replace(staging, target)
    except OSError:
        if not target.is_dir():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # another process won the race, or we failed
    return target
