"""Values checked against type hints, and near misses named: one rule for the space file
(search/space/schema.py) and the trial parameters (trainables/params.py). Plain Python."""
from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Callable
from dataclasses import fields, is_dataclass
from typing import Any, Literal


class WrongType(TypeError):
    """`value` does not fit the hint: the message says what was expected; `where` is the item
    (`[2]`, `.key`) inside a list or mapping that did not fit, "" for the value itself."""

    def __init__(self, why: str, where: str = "") -> None:
        super().__init__(why)
        self.where = where


def did_you_mean(name: str, known: list[str]) -> str:
    """'; did you mean ...?' for a close match, else the known names: the usual fix for a typo."""
    close = difflib.get_close_matches(name, known, n=3)
    return f"; did you mean {' or '.join(map(repr, close))}?" if close else f"; known: {', '.join(known)}"


def is_union(hint: Any) -> bool:
    return isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union


def type_name(hint: Any) -> str:
    if typing.get_origin(hint) is Literal:
        return " or ".join(repr(a) for a in typing.get_args(hint))
    if is_union(hint):
        return " or ".join(type_name(a) for a in typing.get_args(hint))
    if is_dataclass(hint):
        return "a mapping"
    return "null" if hint is type(None) else getattr(typing.get_origin(hint) or hint, "__name__", str(hint))


Section = Callable[[type, Any, str], Any]
"""Builds a dataclass-typed value from a mapping; `where` is its place inside the value."""


def conform(hint: Any, value: Any, section: Section | None = None, where: str = "") -> Any:
    """`value` as `hint` (an int where a float is expected becomes a float, a list where a tuple
    is expected a tuple; a bool is never a number), or `WrongType`. `section` builds the
    dataclasses a hint names (the space file's sections)."""
    origin = typing.get_origin(hint)
    if hint is Any:
        return value
    if is_union(hint):
        for option in typing.get_args(hint):
            try:
                return conform(option, value, section, where)
            except WrongType:
                continue
        raise WrongType(f"must be {type_name(hint)}, got {value!r}", where)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise WrongType(f"must be {type_name(hint)}, got {value!r}" + (
                did_you_mean(value, list(typing.get_args(hint))) if isinstance(value, str) else ""), where)
        return value
    if is_dataclass(hint) and section is not None:
        if not isinstance(value, dict):
            raise WrongType(f"must be a mapping with keys {[f.name for f in fields(hint)]}, got {value!r}", where)
        return section(hint, value, where)
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise WrongType(f"must be a list, got {value!r}", where)
        item = typing.get_args(hint)[0]
        return origin(conform(item, v, section, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise WrongType(f"must be a mapping, got {value!r}", where)
        item = typing.get_args(hint)[1]
        return {str(k): conform(item, v, section, f"{where}.{k}") for k, v in value.items()}
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is type(None) and value is None or isinstance(hint, type) and isinstance(value, hint) and not (
            isinstance(value, bool) and hint is not bool):
        return value
    raise WrongType(f"must be {type_name(hint)}, got {value!r}", where)
