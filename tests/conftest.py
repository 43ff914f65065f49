"""Shared fixtures: small demo datasets generated once per test session."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from search.environment import configure
from tests.processes import ray_tmpdir

configure()  # what the entry points set before anything imports MLflow, Ray or Hugging Face
# the speed lane's per-machine reference calibrations: the tests' own (Ray's workers inherit it)
os.environ["WORLDTUNE_CACHE"] = tempfile.mkdtemp(prefix="worldtune-test-cache-")

SMALL_SPLITS = {"train": 24, "val": 8}


@pytest.fixture(scope="session")
def small_demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both demo sets, 24 train / 8 val images each (the full sets take longer than tests need)."""
    from search.datasets import DEMO_DATASETS, generate_demo_dataset

    root = tmp_path_factory.mktemp("demo")
    for name in DEMO_DATASETS:
        generate_demo_dataset(name, root, sizes=SMALL_SPLITS)
    return root


@pytest.fixture(scope="session")
def tiny_clip_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small local CLIP text tower + tokenizer folder (32 wide, seeded); nothing is downloaded."""
    from search.datasets.demo_text_encoder import ensure_demo_text_encoder

    return ensure_demo_text_encoder(tmp_path_factory.mktemp("tiny_clip"))


@pytest.fixture
def ray_tmp() -> Iterator[Path]:
    """A `RAY_TMPDIR` for a search the test starts as a subprocess (see `tests.processes`)."""
    folder = ray_tmpdir()
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
