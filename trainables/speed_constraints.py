"""The space's deployment limits, checked from the speed lane before a trial trains.

The lane knows a trial's FPS, latency and parameter count before its first epoch (they depend on
the architecture, not the weights), so a trial that cannot meet the limits is never trained: the
trial function reports it "infeasible" with the figure that failed and starts no Train worker.
The same figures, as relative violations (> 0 broken, <= 0 met: Optuna's convention), are what
the searcher sets on every Optuna trial, so that the sampler steers away from infeasible regions.
Plain Python: the driver and the search both use it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, kw_only=True)
class SpeedConstraints:
    """Limits on lane figures; None: no limit. A trial meets them all or it is not trained."""

    min_fps: float | None = None
    max_params_m: float | None = None
    max_latency_ms: float | None = None

    def __bool__(self) -> bool:
        return bool(self._checks())

    def _checks(self) -> list[tuple[str, str, float, int]]:
        """(lane metric, limit name, limit, direction): direction +1 for a floor, -1 for a ceiling."""
        named = [("fps", "min_fps", self.min_fps, 1), ("params_m", "max_params_m", self.max_params_m, -1),
                 ("latency_ms", "max_latency_ms", self.max_latency_ms, -1)]
        return [(metric, name, limit, direction) for metric, name, limit, direction in named if limit is not None]

    def violations(self, metrics: Mapping[str, Any]) -> dict[str, float]:
        """limit name -> violation relative to the limit, for each limit set: 0.25 means 25 %
        short of a floor or over a ceiling, a negative value is the margin left. A figure the
        trial lacks reads 0 (met)."""
        return {name: direction * (limit - metrics[metric]) / limit if metrics.get(metric) is not None else 0.0
                for metric, name, limit, direction in self._checks()}

    def failure(self, metrics: Mapping[str, Any]) -> str | None:
        """Why the trial cannot be deployed as asked (`fps 42.1 < min_fps 60`), or None."""
        broken = [f"{metric} {metrics[metric]:.4g} {'<' if direction > 0 else '>'} {name} {limit:g}"
                  for metric, name, limit, direction in self._checks()
                  if metrics.get(metric) is not None and direction * (limit - metrics[metric]) > 0]
        return "; ".join(broken) or None
