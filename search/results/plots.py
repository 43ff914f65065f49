"""Accuracy-vs-speed plots: one study (every measured trial, the front highlighted, labelled), and
several studies' fronts overlaid for a comparison.

Drawn on matplotlib `Figure`s of their own, not pyplot's: no backend or global state is chosen
for the process, and no display is needed (the search runs on servers).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from search.results.front import Outcome, Recommendation, dominates_point
from trainables.contract import TrialEnd


def dominated_region(front: Sequence[Outcome]) -> tuple[list[float], list[float]]:
    """The staircase that bounds what the front dominates on accuracy and speed (both maximized,
    down to speed 0 and accuracy 0): a point under it is beaten by a front trial; straight segments
    between front points would claim trade-offs no trial reached. A 3-D front (with retention)
    draws the staircase of its accuracy/speed projection."""
    speeds, accuracies = [], []
    for o in sorted(projected_front(front), key=lambda o: -o.speed):   # fastest first: accuracy rises to the left
        speeds += [o.speed, o.speed]
        accuracies += [accuracies[-1] if accuracies else 0.0, o.accuracy]
    if front:
        speeds.append(0.0)
        accuracies.append(accuracies[-1])
    return speeds, accuracies


def plot_front(outcomes: Sequence[Outcome], front: Sequence[Outcome], recommendation: Recommendation,
               path: Path, *, title: str, accuracy: str = "map", speed: str = "fps",
               retention: RetentionAxis | None = None) -> Path:
    """Save `front_figure` to `path`."""
    return _write(front_figure(outcomes, front, recommendation, title=title, accuracy=accuracy, speed=speed,
                               retention=retention), path)


class RetentionAxis(NamedTuple):
    """The third objective, for the plot: the retention set's name and the floor, if any."""

    dataset: str
    floor: float | None = None


def front_figure(outcomes: Sequence[Outcome], front: Sequence[Outcome], recommendation: Recommendation, *,
                 title: str, accuracy: str = "map", speed: str = "fps",
                 retention: RetentionAxis | None = None) -> Figure:
    """The front plot: red = the front with the region it dominates shaded, grey dots =
    full-budget trials off it, grey rings = trials stopped early (at their partial accuracy, marked
    with the epoch they stopped at), grey crosses on the speed axis = infeasible trials (their lane
    speed; never trained, so no accuracy), blue ring = the recommended trial. The speed axis says
    which protocol the figures come from. With `retention` the front is 3-D: the accuracy/speed
    panel shades what its projection dominates, and a second panel shows accuracy against
    retention (the trade-off fine-tuning makes), with the floor."""
    figure = Figure(figsize=(12 if retention else 7, 5), dpi=120)
    axes = figure.add_subplot(1, 2 if retention else 1, 1)
    measured = [o for o in outcomes if o.on_budget]
    stopped = [o for o in outcomes
               if o.status == TrialEnd.STOPPED_EARLY and o.accuracy is not None and o.speed is not None]
    infeasible = [o for o in outcomes if o.status == TrialEnd.INFEASIBLE and o.speed is not None]
    front_ids = {o.trial_id for o in front}
    others = [o for o in measured if o.trial_id not in front_ids]
    axes.scatter([o.speed for o in others], [o.accuracy for o in others], c="0.6", label="trial (full budget)")
    if stopped:
        axes.scatter([o.speed for o in stopped], [o.accuracy for o in stopped], facecolors="none",
                     edgecolors="0.6", label="stopped early (partial accuracy)")
    if infeasible:
        axes.scatter([o.speed for o in infeasible], [0.0] * len(infeasible), marker="x", c="0.45", clip_on=False,
                     zorder=3, label="infeasible: not trained (lane speed)")
    _draw_front(axes, front, "tab:red", "Pareto front, 3-D (shaded: its accuracy/speed part)" if retention
                else "Pareto front (dominated region)")
    if retention:
        _retention_panel(figure.add_subplot(1, 2, 2), measured, front, recommendation, accuracy, retention)
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
    _finish(figure, axes, measured + stopped + infeasible, accuracy=accuracy, speed=speed,
            title=title + (f"\n{unplotted} trial(s) without figures (error, diverged, running) not shown"
                           if unplotted else ""))
    return figure


def projected_front(front: Sequence[Outcome]) -> list[Outcome]:
    """The members of a front that no other member beats on accuracy and speed alone (all of a
    2-D front)."""
    return [o for o in front if not any(dominates_point(other.point[:2], o.point[:2]) for other in front)]


def _retention_panel(axes: Axes, measured: Sequence[Outcome], front: Sequence[Outcome],
                     recommendation: Recommendation, accuracy: str, retention: RetentionAxis) -> None:
    """Accuracy on the dataset against zero-shot accuracy on the retention set, front in red."""
    front_ids = {o.trial_id for o in front}
    for members, colour, label in (([o for o in measured if o.trial_id not in front_ids], "0.6", "trial (full budget)"),
                                   (front, "tab:red", "on the 3-D front")):
        axes.scatter([o.retention for o in members], [o.accuracy for o in members], c=colour, label=label, zorder=3)
    for o in measured:
        axes.annotate(o.trial_id, (o.retention, o.accuracy), textcoords="offset points", xytext=(5, 4), fontsize=7)
    best = recommendation.outcome
    if best is not None and best.retention is not None:
        axes.scatter([best.retention], [best.accuracy], s=220, facecolors="none", edgecolors="tab:blue",
                     linewidths=2, label="recommended", zorder=4)
    if retention.floor is not None:
        axes.axvline(retention.floor, color="tab:blue", ls="--", lw=1, label=f"min_retention {retention.floor:g}")
    axes.set_xlabel(f"retention: {accuracy} zero-shot on {retention.dataset} (higher is better)", fontsize=8)
    axes.set_ylabel(f"{accuracy} (higher is better)")
    axes.set_title("what fine-tuning kept of the open vocabulary", fontsize=9)
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)


class FrontSeries(NamedTuple):
    """One study on the comparison plot."""

    label: str
    outcomes: Sequence[Outcome]
    front: Sequence[Outcome]
    recommended: Outcome | None


def plot_fronts(series: Sequence[FrontSeries], path: Path, *, title: str, accuracy: str = "map",
                speed: str = "fps") -> Path:
    """Several studies' fronts overlaid, one colour each: the front as the staircase of the region
    it dominates, its trials labelled, the study's other full-budget trials as faint dots, its
    recommended trial ringed."""
    figure = Figure(figsize=(8, 5.5), dpi=120)
    axes = figure.add_subplot()
    colours = colormaps["tab10"].colors
    for index, study in enumerate(series):
        colour = colours[index % len(colours)]
        front_ids = {o.trial_id for o in study.front}
        others = [o for o in study.outcomes if o.on_budget and o.trial_id not in front_ids]
        axes.scatter([o.speed for o in others], [o.accuracy for o in others], color=colour, alpha=0.35, s=14)
        _draw_front(axes, study.front, colour, study.label)
        for o in study.front:
            axes.annotate(o.trial_id, (o.speed, o.accuracy), textcoords="offset points", xytext=(5, 4), fontsize=7,
                          color=colour)
        if study.recommended is not None:
            axes.scatter([study.recommended.speed], [study.recommended.accuracy], s=220, facecolors="none",
                         edgecolors=colour, linewidths=2, zorder=4)
    axes.scatter([], [], s=220, facecolors="none", edgecolors="0.3", linewidths=2, label="recommended (ringed)")
    shown = [o for study in series for o in study.outcomes if o.on_budget]
    _finish(figure, axes, shown, accuracy=accuracy, speed=speed, title=title)
    return _write(figure, path)


def _draw_front(axes: Axes, front: Sequence[Outcome], colour: object, label: str) -> None:
    steps = dominated_region(front)
    axes.fill_between(*steps, color=colour, alpha=0.08)
    axes.plot(*steps, "-", color=colour, lw=1.2, label=label)
    axes.scatter([o.speed for o in front], [o.accuracy for o in front], color=colour, zorder=3)


def _finish(figure: Figure, axes: Axes, shown: Sequence[Outcome], *, accuracy: str, speed: str, title: str) -> None:
    """Axes from 0, labelled with the speed protocols of the trials `shown`."""
    protocols = sorted({o.speed_protocol for o in shown if o.speed_protocol})
    axes.set_xlabel(f"{speed} (images/s, higher is better)" + "".join(f"\n{p}" for p in protocols), fontsize=8)
    axes.set_ylabel(f"{accuracy} (higher is better)")
    axes.set_title(title, fontsize=9)
    axes.set_xlim(left=0)
    axes.set_ylim(bottom=0)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()


def _write(figure: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
