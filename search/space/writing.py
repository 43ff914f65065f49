"""Writing a space file with a comment on every line that changed: what the advisor hands back.

PyYAML drops comments, so the file is written line by line: a section's entries one per line in
YAML flow style, each after its comment, and a section that is a list or a value on its
own line.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml


def flow(value: Any) -> str:
    """`value` as one line of YAML (a mapping or list in flow style, a scalar as itself)."""
    text = yaml.safe_dump([value], default_flow_style=True, sort_keys=False, width=1 << 20).strip()
    return text[1:-1]  # the list's brackets


def space_text(data: Mapping[str, Any], comments: Mapping[tuple[str, str], str],
               header: Sequence[str]) -> str:
    """The YAML of `data` after `header` (comment lines); `comments[(section, key)]` goes above its entry."""
    lines = [f"# {line}".rstrip() for line in header]
    for section, value in data.items():
        if isinstance(value, Mapping) and value:
            lines.append(f"{section}:")
            for key, entry in value.items():
                if comments.get((section, key)):
                    lines.append(f"  # {comments[section, key]}")
                lines.append(f"  {key}: {flow(entry)}")
        else:
            lines.append(f"{section}: {flow(value)}")
    return "\n".join(lines) + "\n"
