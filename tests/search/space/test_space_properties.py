"""Property tests of the space-file loader: whatever a file holds, loading it either gives a
checked space or a SpaceError naming the file (and the key, when one is at fault) — never another
exception, never a hang. Deterministic: derandomized, no example database."""
from __future__ import annotations

import time
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from search.errors import SpaceError
from search.space.loading import MAX_VALUES, load_space
from search.space.schema import SpaceSpec
from tests.fuzz import PROPERTIES, mutate, values
from tests.project import SPACES

SECTIONS = {f.name for f in fields(SpaceSpec)}
words = st.sampled_from(sorted(SECTIONS) + ["type", "low", "high", "values", "when", "trials", "lr", "size",
                                             "epochs", "root", "train", "name", "seed", "bogus"])


def _load(tmp_path: Path, text: str) -> tuple[object, float]:
    file = tmp_path / "space.yaml"
    file.write_text(text)
    started = time.monotonic()
    try:
        return load_space(file), time.monotonic() - started
    except SpaceError as error:
        assert str(file.absolute()) in str(error) or str(file) in str(error), str(error)
        return error, time.monotonic() - started


SHIPPED = sorted(file.stem for file in SPACES.glob("*.yaml"))


@pytest.fixture(scope="module")
def shipped() -> dict[str, Any]:
    return {name: yaml.safe_load((SPACES / f"{name}.yaml").read_text())
            for name in SHIPPED}


@PROPERTIES
@given(text=st.text(max_size=300))
def test_any_text_loads_or_names_the_file(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    _load(tmp_path_factory.mktemp("text"), text)


@PROPERTIES
@given(data=st.dictionaries(words, values, max_size=6))
def test_any_yaml_mapping_loads_or_names_the_file_and_a_key_of_the_schema(
        tmp_path_factory: pytest.TempPathFactory, data: dict) -> None:
    result, _ = _load(tmp_path_factory.mktemp("yaml"), yaml.safe_dump(data))
    if isinstance(result, SpaceError) and result.key:
        assert result.key.split(".")[0].split("[")[0] in SECTIONS | set(map(str, data)), result


@PROPERTIES
@given(name=st.sampled_from(SHIPPED),
       path=st.lists(st.integers(0, 50), min_size=1, max_size=4), new=values, delete=st.booleans())
def test_a_shipped_space_with_one_value_broken_loads_or_names_the_broken_section(
        shipped: dict, tmp_path_factory: pytest.TempPathFactory, name: str, path: list[int], new: Any,
        delete: bool) -> None:
    data = mutate(shipped[name], path, new, delete)
    result, seconds = _load(tmp_path_factory.mktemp("mutated"), yaml.safe_dump(data))
    assert seconds < 2
    if isinstance(result, SpaceError) and result.key:
        assert result.key.split(".")[0].split("[")[0] in SECTIONS, result


def test_a_yaml_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    text = "fixed:\n" + "\n".join("  " + line for line in lines) + "\nname: *a8\ndatasets: [demo-defects]\n"
    result, seconds = _load(tmp_path, text)
    assert isinstance(result, SpaceError) and f"more than {MAX_VALUES} values" in str(result)
    assert seconds < 2, "the file expands to 9 ** 9 * 9 (~3.5 billion) values"
