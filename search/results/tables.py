"""Plain tables of dicts or rows as text, markdown and CSV: one rendering for the terminal, the
MLflow artifacts and search/pareto.py, so they always agree."""
from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "*" if value else ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def text_table(table: Sequence[dict[str, object]]) -> str:
    """Fixed-width text table of `rows` (front and recommended shown as '*')."""
    if not table:
        return "  (no trials)"
    columns = list(table[0])
    cells = [[_cell(row[c]) for c in columns] for row in table]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    line = lambda values: "  " + "  ".join(v.ljust(w) for v, w in zip(values, widths))  # noqa: E731
    return "\n".join([line(columns)] + [line(r) for r in cells])


def write_csv(table: Sequence[dict[str, object]], path: Path) -> Path:
    """`rows` (or any table of dicts) as CSV: the header is the first row's keys."""
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(table[0]) if table else ["trial"])
        writer.writeheader()
        writer.writerows(table)
    return path


def markdown_table(header: Sequence[str], table: Sequence[Sequence[object]]) -> str:
    """A markdown table (readable as is in a terminal): the advisor's, impact and comparison tables."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(_cell(value) for value in row) + " |" for row in table])
