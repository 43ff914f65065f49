"""Zero-shot retention: the final model evaluated on a second, general vocabulary.

Fine-tuning a YOLO-World detector on one domain can cost it the open vocabulary it was
pretrained for. After a trial's last validation, `RetentionEvalHook` evaluates the same weights
(the EMA ones, as validation does) on the retention set: its own images and class texts, never
trained on. A text-path model reads the set's texts from the data; a prompt-tuned model, whose
detector is frozen, gets the set's class embeddings in place of its learned prompts for the
evaluation. A reparameterized model has its classes baked into the weights: it has no other
vocabulary, and its trial says so (`UNSCORED_WHY`) instead of reporting a score.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.runner import Runner
from mmyolo.registry import HOOKS

from trainables import contract

RETENTION_INFO = "worldtune_retention"
"""The message-hub entry the hook fills and the report hook adds to the trial's last report."""


@contextmanager
def prompts_replaced(detector: torch.nn.Module, embeddings_file: str | None) -> Iterator[None]:
    """A prompt-tuned detector scoring the classes of `embeddings_file` (N x D) for the duration."""
    if embeddings_file is None:
        yield
        return
    saved = detector.embeddings.data
    detector.embeddings.data = torch.from_numpy(np.load(embeddings_file)).to(saved)
    try:
        yield
    finally:
        detector.embeddings.data = saved


@HOOKS.register_module()
class RetentionEvalHook(Hook):
    """After the last validation: the retention set's `metric` (`retention` in the last report).

    `dataloader` and `ann_file` are the retention set's validation loader and COCO file;
    `prompt_embeddings` its class embeddings for a prompt-tuned model; `unscored` the reason a
    model cannot be evaluated on another vocabulary (then nothing is evaluated). It runs before
    the EMA hook (priority 49) swaps the training weights back in.
    """

    priority = 40

    def __init__(self, dataloader: dict | None = None, ann_file: str | None = None, metric: str = "map",
                 collect_dir: str | None = None, prompt_embeddings: str | None = None,
                 unscored: str | None = None, val_only: bool = False) -> None:
        if unscored is None and (dataloader is None or ann_file is None):
            raise ValueError("RetentionEvalHook needs the retention set's dataloader and ann_file, or the "
                             "reason the model is unscored")
        self.dataloader, self.ann_file, self.metric = dataloader, ann_file, metric
        self.collect_dir, self.prompt_embeddings = collect_dir, prompt_embeddings
        self.unscored, self.val_only = unscored, val_only

    def after_val_epoch(self, runner: Runner, metrics: dict | None = None) -> None:
        if not (self.val_only or runner.epoch >= runner.max_epochs):
            return
        info = {contract.UNSCORED_WHY: self.unscored} if self.unscored else {contract.RETENTION: self.evaluate(runner)}
        runner.message_hub.update_info(RETENTION_INFO, info)

    def evaluate(self, runner: Runner) -> float:
        """The model's `metric` on the retention set, every rank evaluating its share."""
        loader = runner.build_dataloader(self.dataloader, seed=runner.seed)
        evaluator = runner.build_evaluator(dict(type="DetectionCocoMetric", ann_file=self.ann_file,
                                                collect_dir=self.collect_dir))
        evaluator.dataset_meta = loader.dataset.metainfo
        model = runner.model
        detector = model.module if hasattr(model, "module") else model
        model.eval()
        with prompts_replaced(detector, self.prompt_embeddings), torch.no_grad():
            for batch in loader:
                evaluator.process(data_samples=model.val_step(batch), data_batch=batch)
        retention = float(evaluator.evaluate(len(loader.dataset))["coco/" + self.metric])
        runner.logger.info(f"retention ({self.ann_file}): {self.metric} {retention:.4f}")
        return retention
