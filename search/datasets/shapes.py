"""Anti-aliased shape masks on a pixel grid, the drawing primitives of the demo data.

Every function returns an alpha mask in [0, 1] of the image's shape, so an object's exact
bounding box is read off the pixels that were actually painted.
"""
from __future__ import annotations

import numpy as np

Grid = tuple[np.ndarray, np.ndarray]  # (ys, xs) pixel-centre coordinates


def make_grid(height: int, width: int) -> Grid:
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return ys + 0.5, xs + 0.5


def _edge(signed_distance: np.ndarray) -> np.ndarray:
    """Alpha from a signed distance in pixels (positive inside), a one-pixel soft edge."""
    return np.clip(signed_distance + 0.5, 0.0, 1.0)


def ellipse(grid: Grid, cx: float, cy: float, rx: float, ry: float, angle: float = 0.0) -> np.ndarray:
    ys, xs = grid
    c, s = np.cos(angle), np.sin(angle)
    u = ((xs - cx) * c + (ys - cy) * s) / rx
    v = (-(xs - cx) * s + (ys - cy) * c) / ry
    return _edge((1.0 - np.sqrt(u * u + v * v)) * min(rx, ry))


def square(grid: Grid, cx: float, cy: float, half: float, angle: float = 0.0) -> np.ndarray:
    ys, xs = grid
    c, s = np.cos(angle), np.sin(angle)
    u, v = (xs - cx) * c + (ys - cy) * s, -(xs - cx) * s + (ys - cy) * c
    return _edge(half - np.maximum(np.abs(u), np.abs(v)))


def blob(grid: Grid, rng: np.random.Generator, cx: float, cy: float, radius: float,
         roughness: float = 0.25) -> np.ndarray:
    """An irregular closed shape: a circle whose radius varies with the angle."""
    ys, xs = grid
    theta = np.arctan2(ys - cy, xs - cx)
    scale = np.ones_like(theta)
    for k in range(2, 6):
        scale += roughness / k * rng.uniform(0.3, 1.0) * np.cos(k * theta + rng.uniform(0, 2 * np.pi))
    return _edge(radius * scale - np.hypot(xs - cx, ys - cy))


def segment(grid: Grid, x0: float, y0: float, x1: float, y1: float, width: float) -> np.ndarray:
    ys, xs = grid
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / max(dx * dx + dy * dy, 1e-6), 0.0, 1.0)
    distance = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
    return _edge(width / 2.0 - distance)


def polyline(grid: Grid, points: np.ndarray, width: float) -> np.ndarray:
    masks = [segment(grid, *points[i], *points[i + 1], width) for i in range(len(points) - 1)]
    return np.maximum.reduce(masks)


def tight_box(alpha: np.ndarray, threshold: float = 0.5) -> tuple[int, int, int, int] | None:
    """Pixel bounds (x0, y0, x1, y1), exclusive end, of the painted area; None if nothing shows."""
    rows = np.flatnonzero((alpha > threshold).any(axis=1))
    cols = np.flatnonzero((alpha > threshold).any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1
