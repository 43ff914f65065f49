"""Fronts as a self-contained HTML page: an inline SVG where hovering a trial shows its searched
values, figures and speed protocol (the browser's own tooltip, no script, no plotting library).

MLflow previews HTML artifacts, so a parent run's `pareto/front.html` and a comparison run's
`comparison/fronts.html` are explorable in its UI. Colours and shapes follow search/results/plots.py.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from matplotlib.colors import TABLEAU_COLORS

from search.results.front import Outcome
from search.results.plots import FrontSeries, dominated_region

WIDTH, HEIGHT, LEFT, BOTTOM, TOP, RIGHT = 640, 460, 70, 60, 20, 30
TICKS = 5


def _tick_step(top: float) -> float:
    """A round step (1, 2 or 5 times a power of ten) with TICKS steps reaching past `top`."""
    if top <= 0:
        return 1.0 / TICKS
    magnitude = 10 ** math.floor(math.log10(top / TICKS))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude * TICKS >= top)


def _tooltip(o: Outcome, series: str, accuracy: str, speed: str, recommended: bool) -> str:
    lines = [f"trial {o.trial_id} ({series}){', recommended' if recommended else ''}",
             f"{accuracy} {o.accuracy:.4f}, {speed} {o.speed:.1f}"
             + (f", retention {o.retention:.4f}" if o.retention is not None else ""),
             *(f"{name} = {value}" for name, value in sorted(o.values.items())),
             f"speed: {o.speed_protocol or 'protocol not recorded'}"]
    return escape("\n".join(lines))


def fronts_html(series: Sequence[FrontSeries], *, title: str, accuracy: str = "map", speed: str = "fps") -> str:
    """The page: each study's front as the staircase of the region it dominates, its full-budget
    trials as dots (front ones solid), its recommended trial ringed, a tooltip on every dot."""
    shown = [o for study in series for o in study.outcomes if o.on_budget]
    step_x, step_y = (_tick_step(max((getattr(o, name) for o in shown), default=0.0) * 1.05)
                      for name in ("speed", "accuracy"))
    top_x, top_y = step_x * TICKS, step_y * TICKS
    x = lambda value: LEFT + value / top_x * (WIDTH - LEFT - RIGHT)  # noqa: E731
    y = lambda value: HEIGHT - BOTTOM - value / top_y * (HEIGHT - BOTTOM - TOP)  # noqa: E731
    parts = [f'<line x1="{LEFT}" y1="{y(0)}" x2="{x(top_x)}" y2="{y(0)}" stroke="#333"/>',
             f'<line x1="{LEFT}" y1="{y(0)}" x2="{LEFT}" y2="{y(top_y)}" stroke="#333"/>']
    for tick in range(TICKS + 1):
        sx, sy = step_x * tick, step_y * tick
        parts += [f'<text x="{x(sx):.1f}" y="{y(0) + 18}" text-anchor="middle">{sx:.3g}</text>',
                  f'<text x="{LEFT - 8}" y="{y(sy) + 4:.1f}" text-anchor="end">{sy:.3g}</text>']
    colours, legend = list(TABLEAU_COLORS.values()), []
    for index, study in enumerate(series):
        colour = colours[index % len(colours)]
        speeds, accuracies = dominated_region(study.front)
        points = " ".join(f"{x(s):.1f},{y(a):.1f}" for s, a in zip(speeds, accuracies))
        parts += [f'<polygon points="{points} {x(0)},{y(0)}" fill="{colour}" fill-opacity="0.08"/>',
                  f'<polyline points="{points}" fill="none" stroke="{colour}"/>']
        front_ids = {o.trial_id for o in study.front}
        best = study.recommended.trial_id if study.recommended else None
        for o in (o for o in study.outcomes if o.on_budget):
            opacity, ringed = (1.0 if o.trial_id in front_ids else 0.35), o.trial_id == best
            at = f'cx="{x(o.speed):.1f}" cy="{y(o.accuracy):.1f}"'
            ring = f'<circle {at} r="11" fill="none" stroke="{colour}" stroke-width="2"/>' if ringed else ""
            parts.append(f'<g>{ring}<circle {at} r="5" fill="{colour}" fill-opacity="{opacity}"><title>'
                         f'{_tooltip(o, study.label, accuracy, speed, ringed)}</title></circle></g>')
        legend.append(f'<span style="color: {colour}">&#9632; {escape(study.label)}</span>')
    protocols = "; ".join(sorted({o.speed_protocol for o in shown if o.speed_protocol}))
    parts += [f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 22}" text-anchor="middle">{speed} (images/s, '
              f'higher is better)</text>',
              f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 6}" text-anchor="middle" font-size="10">'
              f'{escape(protocols)}</text>',
              f'<text x="16" y="{(TOP + HEIGHT - BOTTOM) / 2}" text-anchor="middle" '
              f'transform="rotate(-90 16 {(TOP + HEIGHT - BOTTOM) / 2})">{accuracy} (higher is better)</text>']
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{escape(title)}</title></head>'
            f'<body style="font-family: sans-serif"><h3>{escape(title)}</h3>'
            f'<p>{" &nbsp; ".join(legend)}</p><p style="font-size: small">Hover a trial for its values and speed '
            'protocol; ringed: recommended; faint: off the front.</p>'
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-size="12">'
            + "".join(parts) + "</svg></body></html>\n")
