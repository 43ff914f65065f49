"""The comparison across the datasets of a search, as users tabulate it in papers and reports:
model size x dataset -> accuracy and speed, fine-tuning strategy x dataset -> accuracy and
training time.

Each cell is the most accurate full-budget trial of that row on that dataset (its accuracy with its
own speed or training time, so the pair is one real run), and how many full-budget trials the
row had there. Size and strategy come from each trial's values (fixed or searched); a value that
is neither is the trial default.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from search.results.histories import TrialHistory
from search.results.tables import markdown_table
from search.space.schema import ObjectivesSpec
from trainables.params import TrialParams

Cell = Callable[[TrialHistory], str]


def _table(histories: Mapping[str, Sequence[TrialHistory]], key: str, cell: Cell) -> str:
    default = getattr(TrialParams(), key)
    groups: dict[str, dict[str, list[TrialHistory]]] = {}
    for dataset, trials in histories.items():
        for history in trials:
            if history.outcome.on_budget:
                row = str(history.outcome.values.get(key, default))
                groups.setdefault(row, {}).setdefault(dataset, []).append(history)
    if not groups:
        return "  (no trial ran its full budget)"
    rows = []
    for row, by_dataset in sorted(groups.items()):
        cells = []
        for dataset in histories:
            found = by_dataset.get(dataset, [])
            best = max(found, key=lambda h: h.outcome.accuracy, default=None)
            cells.append("-" if best is None else f"{cell(best)} (best of {len(found)})")
        rows.append((row, *cells))
    return markdown_table((key, *histories), rows)


def comparison(histories: Mapping[str, Sequence[TrialHistory]], objectives: ObjectivesSpec) -> str:
    """Both tables as markdown (datasets as columns, in the search's order)."""
    accuracy, speed = objectives.accuracy, objectives.speed

    def with_speed(h: TrialHistory) -> str:
        return f"{accuracy} {h.outcome.accuracy:.3f}, {speed} {h.outcome.speed:.1f}"

    def with_time(h: TrialHistory) -> str:
        seconds = h.training_time_s
        return f"{accuracy} {h.outcome.accuracy:.3f}, " + ("time ?" if seconds is None else f"{seconds:.0f} s")

    return "\n".join([
        "comparison across datasets (each cell: the most accurate full-budget trial of that row there)",
        f"model size x dataset -> {accuracy}, {speed}",
        _table(histories, "size", with_speed),
        "",
        f"fine-tuning strategy x dataset -> {accuracy}, training time (wall seconds of training and validation)",
        _table(histories, "strategy", with_time),
    ])
