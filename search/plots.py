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


def dominated_region(front: Sequence[Outcome]) -> tuple[list[float], list[float]]:
    """The staircase that bounds what the front dominates (both objectives maximized, down to
    speed 0 and accuracy 0): a point under it is beaten by a front trial; straight segments
    between front points would claim trade-offs no trial reached."""
    speeds, accuracies = [], []
    for o in sorted(front, key=lambda o: -o.speed):   # fastest first: accuracy rises to the left
        speeds += [o.speed, o.speed]
        accuracies += [accuracies[-1] if accuracies else 0.0, o.accuracy]
    if front:
        speeds.append(0.0)
        accuracies.append(accuracies[-1])
    return speeds, accuracies


def plot_front(outcomes: Sequence[Outcome], front: Sequence[Outcome], recommendation: Recommendation,
               path: Path, *, title: str, accuracy: str = "map", speed: str = "fps") -> Path:
    """Save the plot to `path`: red = the front with the region it dominates shaded, grey dots =
    full-budget trials off it, grey rings = trials stopped early (at their partial accuracy, marked
    with the epoch they stopped at), grey crosses on the speed axis = infeasible trials (their lane
    speed; never trained, so no accuracy), blue ring = the recommended trial. The speed axis says
    which protocol the figures come from."""
    figure, axes = plt.subplots(figsize=(7, 5), dpi=120)
    measured = [o for o in outcomes if o.on_budget]
    stopped = [o for o in outcomes if o.status == "stopped_early" and o.accuracy is not None and o.speed is not None]
    infeasible = [o for o in outcomes if o.status == "infeasible" and o.speed is not None]
    front_ids = {o.trial_id for o in front}
    others = [o for o in measured if o.trial_id not in front_ids]
    axes.scatter([o.speed for o in others], [o.accuracy for o in others], c="0.6", label="trial (full budget)")
    if stopped:
        axes.scatter([o.speed for o in stopped], [o.accuracy for o in stopped], facecolors="none",
                     edgecolors="0.6", label="stopped early (partial accuracy)")
    if infeasible:
        axes.scatter([o.speed for o in infeasible], [0.0] * len(infeasible), marker="x", c="0.45", clip_on=False,
                     zorder=3, label="infeasible: not trained (lane speed)")
    steps = dominated_region(front)
    axes.fill_between(*steps, color="tab:red", alpha=0.08)
    axes.plot(*steps, "-", c="tab:red", lw=1.2, label="Pareto front (dominated region)")
    axes.scatter([o.speed for o in front], [o.accuracy for o in front], c="tab:red", zorder=3)
    if recommendation.outcome is not None:
        best = recommendation.outcome
        axes.scatter([best.speed], [best.accuracy], s=220, facecolors="none", edgecolors="tab:blue",
                     linewidths=2, label="recommended", zorder=4)
    for o in measured:
        axes.annotate(o.trial_id, (o.speed, o.accuracy), textcoords="offset points", xytext=(5, 4), fontsize=7)
    for o in stopped:
        axes.annotate(f"{o.trial_id} (stopped at epoch {o.epochs})", (o.speed, o.accuracy), textcoords="offset points",
                      xytext=(5, -9), fontsize=7, color="0.45")
    for o in infeasible:
        axes.annotate(f"{o.trial_id} (infeasible)", (o.speed, 0.0), textcoords="offset points", xytext=(5, 4),
                      fontsize=7, color="0.45")
    unplotted = len(outcomes) - len(measured) - len(stopped) - len(infeasible)
    protocols = sorted({o.speed_protocol for o in measured + stopped + infeasible if o.speed_protocol})
    axes.set_xlabel(f"{speed} (images/s, higher is better)" + "".join(f"\n{p}" for p in protocols), fontsize=8)
    axes.set_ylabel(f"{accuracy} (higher is better)")
    axes.set_title(title + (f"\n{unplotted} trial(s) without figures (error, diverged, running) not shown"
                            if unplotted else ""), fontsize=9)
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
    return path
