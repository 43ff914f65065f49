"""The space's limits, checked from the speed lane's figures before a trial trains."""
from __future__ import annotations

import pytest

from search.errors import SpaceError
from search.space.loading import load_space
from search.space.schema import ObjectivesSpec
from trainables.speed_constraints import SpeedConstraints

LANE = {"fps": 40.0, "params_m": 3.0, "latency_ms": 25.0}


def test_no_limits_are_always_met() -> None:
    none = SpeedConstraints()
    assert not none and none.failure(LANE) is None and none.violations(LANE) == {}


@pytest.mark.parametrize("limits, failure, violations", [
    (dict(min_fps=30), None, {"min_fps": -1 / 3}),                       # 10 FPS of margin on 30
    (dict(min_fps=50), "fps 40 < min_fps 50", {"min_fps": 0.2}),          # 20 % short
    (dict(max_params_m=2), "params_m 3 > max_params_m 2", {"max_params_m": 0.5}),
    (dict(max_latency_ms=20, min_fps=80), "fps 40 < min_fps 80; latency_ms 25 > max_latency_ms 20",
     {"min_fps": 0.5, "max_latency_ms": 0.25}),
])
def test_a_broken_limit_names_the_figure_and_reads_as_a_positive_violation(
        limits: dict, failure: str | None, violations: dict[str, float]) -> None:
    constraints = SpeedConstraints(**limits)
    assert constraints.failure(LANE) == failure
    assert constraints.violations(LANE) == pytest.approx(violations)


def test_a_figure_the_trial_lacks_breaks_nothing() -> None:
    assert SpeedConstraints(max_params_m=1).failure({"fps": 40.0}) is None
    assert SpeedConstraints(max_params_m=1).violations({"fps": 40.0}) == {"max_params_m": 0.0}


def test_the_space_objectives_give_the_constraints_and_refuse_a_limit_of_zero(tmp_path) -> None:
    assert ObjectivesSpec(min_fps=30, max_latency_ms=20).constraints == SpeedConstraints(min_fps=30,
                                                                                         max_latency_ms=20)
    space = tmp_path / "bad.yaml"
    space.write_text("name: bad\ndatasets: [demo-defects]\nobjectives: {min_fps: 0}\n")
    with pytest.raises(SpaceError, match=r"bad.yaml.*objectives.*'min_fps' must be > 0"):
        load_space(space)
