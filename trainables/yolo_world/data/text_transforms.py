"""Which class texts an image is trained or evaluated against (official LoadText, RandomLoadText).

The detector scores regions against the texts of its own image, so labels are indices into
`results['texts']`. Training samples a random subset (positives plus negatives, shuffled, one
random synonym each) so that the model cannot learn class positions; evaluation uses every class.
`prompt_format` wraps each text ("a photo of a {}."); RandomLoadText also takes a list of formats
and draws one per text (prompt diversity), LoadText uses one format, as deployment does.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from mmcv.transforms import BaseTransform
from mmyolo.registry import TRANSFORMS

from trainables.yolo_world.data.class_texts import ClassTexts, load_class_texts, validate_class_texts

INSTANCE_KEYS = ("gt_bboxes", "gt_bboxes_labels", "gt_ignore_flags", "gt_masks")
"""Per-box entries of a results dict: all of them are filtered together."""


class _TextTransform(BaseTransform):
    """Finds the class texts: those the dataset put in `results['texts']`, else `text_path`'s."""

    def __init__(self, text_path: str | Path | None = None, prompt_format: str = "{}") -> None:
        self.prompt_format = prompt_format
        self.class_texts = load_class_texts(text_path) if text_path is not None else None

    def _class_texts(self, results: dict) -> ClassTexts:
        if "texts" in results:
            where = f"results['texts'] of {results.get('img_path')}"
            return validate_class_texts(results["texts"], where)
        if self.class_texts is None:
            raise KeyError(f"{type(self).__name__}: no class texts for {results.get('img_path')}. "
                           "Wrap the dataset in MultiModalDataset(class_text_path=...) or pass "
                           "text_path=...")
        return self.class_texts


@TRANSFORMS.register_module()
class LoadText(_TextTransform):
    """Every class, in label order, by its first synonym: what validation and test score against."""

    def transform(self, results: dict) -> dict:
        results["texts"] = [self.prompt_format.format(texts[0]) for texts in self._class_texts(results)]
        return results


@TRANSFORMS.register_module()
class RandomLoadText(_TextTransform):
    """Train on the image's classes plus sampled negatives, shuffled, relabelled, optionally padded."""

    def __init__(self, text_path: str | Path | None = None, prompt_format: str | Sequence[str] = "{}",
                 num_neg_samples: Sequence[int] = (80, 80), max_num_samples: int = 80,
                 padding_to_max: bool = False, padding_value: str = "",
                 random_synonym: bool = True) -> None:
        formats = [prompt_format] if isinstance(prompt_format, str) else list(prompt_format)
        if not formats or any("{}" not in f for f in formats):
            raise ValueError(f"RandomLoadText: prompt_format must be one or more texts with a '{{}}' "
                             f"for the class text, got {prompt_format!r}")
        super().__init__(text_path, formats[0])
        self.prompt_formats = formats
        self.random_synonym = random_synonym
        low, high = num_neg_samples
        if not 0 <= low <= high:
            raise ValueError("RandomLoadText: num_neg_samples must be (low, high) with "
                             f"0 <= low <= high, got {num_neg_samples!r}")
        self.num_neg_samples = (low, high)
        self.max_num_samples = max_num_samples
        self.padding_to_max = padding_to_max
        self.padding_value = padding_value

    def _format(self) -> str:
        """One of the prompt formats; with a single one no random draw, so the official pipeline
        consumes Python's RNG exactly as before (same negatives and order for a given seed)."""
        return self.prompt_formats[0] if len(self.prompt_formats) == 1 else random.choice(self.prompt_formats)

    def transform(self, results: dict) -> dict:
        class_texts = self._class_texts(results)
        if "gt_bboxes_labels" not in results:
            raise KeyError(f"RandomLoadText needs 'gt_bboxes_labels' for {results.get('img_path')}: "
                           "put LoadAnnotations(with_bbox=True) before it in the pipeline")
        labels = np.asarray(results["gt_bboxes_labels"], dtype=np.int64)
        if labels.size and labels.max() >= len(class_texts):
            raise ValueError(f"RandomLoadText: {results.get('img_path')} has label {labels.max()} "
                             f"but there are only {len(class_texts)} class texts; the class-text "
                             "file needs one entry per class")
        positives = sorted(set(labels.tolist()))
        if len(positives) > self.max_num_samples:
            positives = random.sample(positives, self.max_num_samples)
        free = min(len(class_texts), self.max_num_samples) - len(positives)
        candidates = sorted(set(range(len(class_texts))) - set(positives))
        negatives = random.sample(candidates, min(free, random.randint(*self.num_neg_samples)))
        sampled = positives + negatives
        random.shuffle(sampled)

        new_label = np.full(len(class_texts), -1, dtype=np.int64)
        new_label[sampled] = np.arange(len(sampled))
        remapped = new_label[labels]
        keep = remapped >= 0
        for key in INSTANCE_KEYS:
            if key in results:
                results[key] = results[key][keep]
        results["gt_bboxes_labels"] = remapped[keep]

        texts = [self._format().format(random.choice(class_texts[label]) if self.random_synonym
                                       else class_texts[label][0])
                 for label in sampled]
        if self.padding_to_max:
            texts += [self.padding_value] * (self.max_num_samples - len(texts))
        results["texts"] = texts
        return results
