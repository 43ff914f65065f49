"""Hypothesis settings and strategies for fuzzing YAML-like data: what the space-file and dataset
property tests feed their loaders."""
from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

PROPERTIES = settings(derandomize=True, database=None, max_examples=150, deadline=2000,
                      suppress_health_check=[HealthCheck.too_slow])

scalars = st.none() | st.booleans() | st.integers(-10 ** 12, 10 ** 12) | st.floats() | st.text(max_size=12)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=12)


def mutate(data: Any, path: list[Any], new: Any, delete: bool) -> Any:
    """`data` with the value at `path` (as far as it leads) replaced by `new` or deleted."""
    if not path or not isinstance(data, dict | list) or not data:
        return new
    key = path[0] % len(data) if isinstance(data, list) else sorted(data, key=str)[path[0] % len(data)]
    copy = list(data) if isinstance(data, list) else dict(data)
    if delete and len(path) == 1:
        del copy[key]
    else:
        copy[key] = mutate(data[key], path[1:], new, delete)
    return copy
