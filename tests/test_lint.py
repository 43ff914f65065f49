"""The code base passes the lint rules `pyproject.toml` states (ruff: pycodestyle, pyflakes, line
length), so the settings describe the code and an unused import or undefined name fails CI."""
from __future__ import annotations

import subprocess
import sys

from tests.project import ROOT


def test_ruff_finds_nothing() -> None:
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", str(ROOT)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
