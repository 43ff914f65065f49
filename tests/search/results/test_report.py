"""The comparison across datasets: size x dataset and strategy x dataset, one real run per cell."""
from __future__ import annotations

from search.results.across_datasets import comparison
from search.results.front import Outcome
from search.results.histories import TrialHistory
from search.space.schema import ObjectivesSpec


def _trial(trial_id: str, accuracy: float | None, speed: float | None, seconds: float, status: str = "finished",
           **values: object) -> TrialHistory:
    return TrialHistory(Outcome(trial_id, status, accuracy, speed, values=dict(values)), last={"wall_s": seconds})


def test_each_cell_is_the_most_accurate_full_budget_trial_of_its_row() -> None:
    histories = {
        "defects": [_trial("a", 0.30, 60.0, 100, size="s"), _trial("b", 0.40, 35.0, 250, size="m"),
                    _trial("c", 0.35, 38.0, 200, size="m", strategy="prompt"),
                    _trial("asha", 0.90, None, 20, status="stopped_early", size="s")],
        "ct": [_trial("d", 0.10, 58.0, 120, size="s", strategy="prompt"),
               _trial("e", 0.12, 61.0, 90, size="s", strategy="prompt")],
    }
    lines = comparison(histories, ObjectivesSpec()).splitlines()
    assert "| size | defects | ct |" in lines and "| strategy | defects | ct |" in lines
    assert "| m | map 0.400, fps 35.0 (best of 2) | - |" in lines
    assert "| s | map 0.300, fps 60.0 (best of 1) | map 0.120, fps 61.0 (best of 2) |" in lines, \
        "the ASHA-stopped trial is no full-budget run"
    # strategy: the default ('normal') where a trial does not set it
    assert "| normal | map 0.400, 250 s (best of 2) | - |" in lines
    assert "| prompt | map 0.350, 200 s (best of 1) | map 0.120, 90 s (best of 2) |" in lines


def test_no_full_budget_trial_says_so() -> None:
    text = comparison({"ct": [_trial("x", None, None, 5, status="diverged")]}, ObjectivesSpec())
    assert text.count("(no trial ran its full budget)") == 2
