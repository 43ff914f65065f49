"""The fine-tuning advisor: each trial checked against the usual transfer-learning failure modes.

After a search, every trial's curves (search/results/histories.py) are checked for overfitting, slow
convergence, class imbalance, a missed speed target, cross-domain failure, a warm-up that took most
of the run, and a trial (or a whole study) that learned nothing. Each finding is one
line: the trial, what went wrong, the numbers that show it, and what to try next. The thresholds
are named below with the reason for each value; a trial too untrained to judge (mAP under
`MIN_ACCURACY`) is not judged on its curve.
"""
from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from search.results.front import MIN_ACCURACY
from search.results.histories import TrialHistory
from search.space.schema import ObjectivesSpec
from trainables.contract import TRAIN_ITERS, WARMUP_ITERS

OVERFIT_DROP = 0.10
"""Overfitting: accuracy at the last epoch at least 10% (relative) under its best epoch while the
training loss kept falling. Epoch-to-epoch jitter of COCO mAP on a small validation set is a few
percent; a tenth lost while the model fits its training data better is memorisation."""

SLOW_GAIN = 0.10
"""Slow convergence: the last epoch still added at least 10% of the final accuracy. A converged
run adds a few percent per epoch at the end; a tenth means the budget ended on the steep part."""

WEAK_RECALL = 0.20
"""Class imbalance: a class found less than 1 time in 5 (recall at IoU 0.5)..."""

GOOD_RECALL = 0.50
"""...while the other classes' median recall is at least 0.5: the model works, except for that class."""

CROSS_DOMAIN_RATIO = 0.5
"""Cross-domain failure: under half the accuracy that the very same settings reach on another
dataset of the search. Datasets differ in difficulty, but not by a factor of two for a recipe
that transfers; a gap that large says the domain is far from what the model was pretrained on."""

LONG_WARMUP = 0.5
"""A long warm-up: half or more of the iterations a trial trained were spent ramping the lr up, so
the trial hardly trained at the lr it was given (the cap, warmup_max_fraction, was raised)."""

SUGGEST = {
    "overfitting": "stop near the best epoch (epochs), or regularise: stronger augmentation "
                   "(mosaic_prob, mixup_prob), a higher weight_decay, freeze more (freeze_all, frozen_stages)",
    "slow convergence": "more epochs, or a higher lr / a shorter warm-up (warmup_epochs)",
    "class imbalance": "more examples of that class (or oversample it), focal classification loss "
                       "(cls_loss: focal), and a class text that describes it",
    "speed target missed": "the reparameterized text-free model (strategy: reparameterized, or export's "
                           "reparameterized/), depthwise convolutions (use_depthwise: true), a smaller input",
    "cross-domain failure": "prompt tuning with an MLP adapter (strategy: prompt, use_mlp_adapter: true), an "
                            "unfrozen backbone (frozen_stages: -1), class texts in this domain's words "
                            "(see spaces/cross-domain.yaml)",
    "long warm-up": "a lower warmup_max_fraction (default 0.2), fewer warmup_epochs / warmup_min_iters, or "
                    "more epochs",
    "learned nothing": "the starting weights (model.checkpoint: the trial log's 'initial weights' line says what "
                       "loaded), a higher lr, more epochs, and class texts that name what the boxes show",
}


@dataclass(frozen=True)
class Advice:
    """One finding: which trial, which failure mode, the numbers that triggered it, what to try."""

    dataset: str
    trial_id: str         # "" for a finding about the whole study
    failure: str
    evidence: str
    suggestion: str

    def line(self) -> str:
        who = f"trial {self.trial_id}" if self.trial_id else "every trial"
        return f"{who}: {self.failure}: {self.evidence}; try {self.suggestion}"


def overfitting(history: TrialHistory, accuracy: str) -> str | None:
    curve = history.accuracy
    if len(curve) < 2:
        return None
    best_epoch, best = max(curve, key=lambda point: point[1])  # the first epoch with the best value
    last_epoch, last = curve[-1]
    if best_epoch == last_epoch or best < MIN_ACCURACY or (best - last) / best < OVERFIT_DROP:
        return None
    loss = dict(history.train_loss)
    if best_epoch not in loss or last_epoch not in loss or loss[last_epoch] >= loss[best_epoch]:
        return None
    return (f"{accuracy} {best:.3f} at epoch {best_epoch} -> {last:.3f} at epoch {last_epoch} "
            f"({(last - best) / best:+.0%}) while train loss fell {loss[best_epoch]:.3f} -> {loss[last_epoch]:.3f}")


def slow_convergence(history: TrialHistory, accuracy: str) -> str | None:
    """Judged on trials that ran their budget only: an ASHA stop ends a curve on purpose."""
    if not history.outcome.on_budget or len(history.accuracy) < 2:
        return None
    (before_epoch, before), (last_epoch, last) = history.accuracy[-2:]
    if last < MIN_ACCURACY or (last - before) / last < SLOW_GAIN:
        return None
    return (f"{accuracy} {before:.3f} -> {last:.3f} from epoch {before_epoch} to {last_epoch}, the last "
            f"epoch added {(last - before) / last:.0%} of the final value")


def class_imbalance(history: TrialHistory) -> str | None:
    recall = {name: value for name, value in history.class_recall.items() if math.isfinite(value)}
    weak = {name: value for name, value in recall.items() if value < WEAK_RECALL}
    others = [value for name, value in recall.items() if name not in weak]
    if not weak or not others or statistics.median(others) < GOOD_RECALL:
        return None
    listed = ", ".join(f"{name} {value:.2f}" for name, value in sorted(weak.items(), key=lambda item: item[1]))
    return (f"recall50 {listed} (under {WEAK_RECALL:g}) while the other {len(others)} class(es) reach a "
            f"median of {statistics.median(others):.2f}")


def speed_missed(history: TrialHistory, objectives: ObjectivesSpec) -> str | None:
    speed, floor = history.outcome.speed, objectives.min_fps
    if speed is None or floor is None or speed >= floor:
        return None
    values = history.outcome.values
    size = values.get("image_size")
    smaller = f"; image_size {max(32, int(size * 0.75) // 32 * 32)} instead of {size}" if size else ""
    return (f"{objectives.speed} {speed:.1f} under the space's floor min_fps {floor:g} (size "
            f"{values.get('size', '?')}, {size or '?'} px){smaller}")


def long_warmup(history: TrialHistory) -> str | None:
    warmup, trained = history.last.get(WARMUP_ITERS), history.last.get(TRAIN_ITERS)
    if not warmup or not trained or warmup / trained < LONG_WARMUP:
        return None
    return f"the lr warm-up took {min(warmup, trained):.0f} of the {trained:.0f} iterations trained"


def learned_nothing(history: TrialHistory, accuracy: str) -> str | None:
    """Judged on trials that ran their budget: one stopped early may just not have got there yet."""
    if not history.outcome.on_budget or history.outcome.accuracy >= MIN_ACCURACY:
        return None
    epochs = history.accuracy[-1][0] if history.accuracy else "?"
    return f"{accuracy} {history.outcome.accuracy:.4f} after {epochs} epochs (under {MIN_ACCURACY:g})"


def _same_settings(a: TrialHistory, b: TrialHistory) -> bool:
    return a.outcome.values == b.outcome.values


def cross_domain(history: TrialHistory, others: Mapping[str, Sequence[TrialHistory]],
                 accuracy: str) -> str | None:
    """Compared with full-budget trials of other datasets that ran the exact same values."""
    mine = history.outcome.accuracy
    if not history.outcome.on_budget:
        return None
    for dataset, histories in others.items():
        for twin in histories:
            theirs = twin.outcome.accuracy
            if twin.outcome.on_budget and _same_settings(history, twin) and theirs >= MIN_ACCURACY \
                    and mine < CROSS_DOMAIN_RATIO * theirs:
                return (f"{accuracy} {mine:.3f} here vs {theirs:.3f} on {dataset} with the same settings "
                        f"(trial {twin.trial_id}): {mine / theirs:.0%} of it")
    return None


def advise(histories: Mapping[str, Sequence[TrialHistory]], objectives: ObjectivesSpec) -> list[Advice]:
    """Every finding of every trial of every dataset (datasets in the order given)."""
    found = []
    for dataset, trials in histories.items():
        others = {name: h for name, h in histories.items() if name != dataset}
        mine = []
        for history in trials:
            checks = {"overfitting": overfitting(history, objectives.accuracy),
                      "slow convergence": slow_convergence(history, objectives.accuracy),
                      "class imbalance": class_imbalance(history),
                      "speed target missed": speed_missed(history, objectives),
                      "cross-domain failure": cross_domain(history, others, objectives.accuracy),
                      "long warm-up": long_warmup(history),
                      "learned nothing": learned_nothing(history, objectives.accuracy)}
            mine += [Advice(dataset, history.trial_id, failure, evidence, SUGGEST[failure])
                     for failure, evidence in checks.items() if evidence is not None]
        found += _one_line_if_no_trial_learned(dataset, trials, mine, objectives.accuracy)
    return found


def _one_line_if_no_trial_learned(dataset: str, trials: Sequence[TrialHistory], advice: list[Advice],
                                  accuracy: str) -> list[Advice]:
    """When every trial learned nothing the cause is shared (weights, data, texts): say it once."""
    nothing = [a for a in advice if a.failure == "learned nothing"]
    judged = [h for h in trials if h.outcome.on_budget]
    if len(judged) < 2 or len(nothing) < len(judged):
        return advice
    best = max(h.outcome.accuracy for h in judged)
    study = Advice(dataset, "", "learned nothing", f"no trial reached {accuracy} {MIN_ACCURACY:g} "
                   f"(best {best:.4f} of {len(judged)} full-budget trials)", SUGGEST["learned nothing"])
    return [study] + [a for a in advice if a.failure != "learned nothing"]


def format_advice(dataset: str, advice: Sequence[Advice], trials: int) -> str:
    """The advisor's section for one dataset: one line per finding, or what was checked."""
    mine = [a for a in advice if a.dataset == dataset]
    head = f"advisor ({dataset}, {trials} trials checked): {len(mine)} finding(s)"
    if not mine:
        return head + f"\n  no trial shows {', '.join(SUGGEST)}"
    return "\n".join([head] + [f"  {a.line()}" for a in mine])
