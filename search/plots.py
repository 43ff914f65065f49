"""The accuracy-vs-speed plot of one study: every measured trial, the front highlighted, labelled.

Drawn with matplotlib's Agg backend (no display needed: the search runs on servers).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from search.front import Outcome, Recommendation  # noqa: E402


def plot_front(outcomes: Sequence[Outcome], front: Sequence[Outcome], recommendation: Recommendation,
               path: Path, *, title: str, accuracy: str = "map", speed: str = "fps") -> Path:
    """Save the plot to `path`: grey = full-budget trials off the front, red = the front, ring = the
    recommended trial. Trials that did not run their budget have only a partial accuracy: not drawn.
    The speed axis says which protocol the figures come from."""
    figure, axes = plt.subplots(figsize=(7, 5), dpi=120)
    measured = [o for o in outcomes if o.on_budget]
    front_ids = {o.trial_id for o in front}
    others = [o for o in measured if o.trial_id not in front_ids]
    axes.scatter([o.speed for o in others], [o.accuracy for o in others], c="0.6", label="trial")
    axes.plot([o.speed for o in front], [o.accuracy for o in front], "o-", c="tab:red", label="Pareto front")
    if recommendation.outcome is not None:
        best = recommendation.outcome
        axes.scatter([best.speed], [best.accuracy], s=220, facecolors="none", edgecolors="tab:blue",
                     linewidths=2, label="recommended")
    for o in measured:
        axes.annotate(o.trial_id, (o.speed, o.accuracy), textcoords="offset points", xytext=(5, 4), fontsize=7)
    skipped = len(outcomes) - len(measured)
    protocols = sorted({o.speed_protocol for o in measured if o.speed_protocol})
    axes.set_xlabel(f"{speed} (images/s, higher is better)" + "".join(f"\n{p}" for p in protocols), fontsize=8)
    axes.set_ylabel(f"{accuracy} (higher is better)")
    axes.set_title(title + (f"\n{skipped} trial(s) without a full budget not shown" if skipped else ""), fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
