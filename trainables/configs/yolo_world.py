"""(trial parameters, dataset, work dir) -> the complete mmengine config of a YOLO-World fine-tune.

Every searched value is applied here, explicitly, to the final merged config (no base-config
inheritance that could silently drop a value), and the resolved config is what the Runner gets.
Strategies that need class embeddings (prompt tuning, reparameterization) compute them here, once,
on the trial driver, and leave the files in the work dir.
"""
from __future__ import annotations

import copy
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from trainables.architecture import inference_signature
from trainables.configs.recipe import Schedule, training_recipe
from trainables.dataset_files import DatasetFiles, RetentionSet
from trainables.params import PROMPT_TEMPLATES, TrialParams
from trainables.speed_lane import LaneRequest
from trainables.speed_protocol import SpeedProtocol
from trainables.text_encoder import text_width
from trainables.yolo_world.data import MixedIn, TextSampling, box_only_data_config, coco_image_count
from trainables.yolo_world.data.class_texts import load_class_texts
from trainables.yolo_world.data.text_free import text_free_data_config
from trainables.yolo_world.models import strategies
from trainables.yolo_world.models.sizes import bce_loss_cls, focal_loss_cls, model_config

TEXT_MODEL_LR_MULT = 0.01
INIT_CHECKPOINT = "init_weights.pth"


def _text_model(params: TrialParams, data: DatasetFiles) -> dict[str, Any]:
    if params.text_encoder.endswith(".npy"):
        return dict(type="PrecomputedLanguageBackbone", embedding_path=params.text_encoder,
                    class_text_path=str(data.class_text_file))
    return dict(type="HuggingCLIPLanguageBackbone", model_name=params.text_encoder, frozen_modules=["all"],
                training_use_cache=True)


def class_embedding_file(params: TrialParams, class_texts: list[list[str]], work_dir: Path,
                         name: str = "class_embeddings.npy") -> str:
    """N x D embeddings of the classes' first texts: the given .npy, or encoded once into work_dir/name."""
    if params.text_encoder.endswith(".npy"):
        return params.text_encoder
    from trainables.yolo_world.models.text_encoders import HuggingCLIPLanguageBackbone, export_text_embeddings

    path = work_dir / name
    if not path.exists():
        encoder = HuggingCLIPLanguageBackbone(params.text_encoder, frozen_modules=["all"])
        export_text_embeddings(encoder, class_texts, path)
    return str(path)


def _plain_model(params: TrialParams, data: DatasetFiles, num_classes: int) -> dict[str, Any]:
    loss = (focal_loss_cls(params.focal_gamma, params.focal_alpha) if params.cls_loss == "focal"
            else bce_loss_cls())
    model = model_config(params.size, num_classes=num_classes, text_model_name=params.text_encoder,
                         text_channels=text_width(params.text_encoder), embed_dims=params.embed_dims,
                         use_bn_head=params.bn_head, loss_cls=loss, version=params.version)
    model["backbone"]["text_model"] = _text_model(params, data)
    neck = model["neck"]
    if params.neck_embed_channels:
        neck["embed_channels"] = list(params.neck_embed_channels)
    if params.neck_num_heads:
        neck["num_heads"] = list(params.neck_num_heads)
    neck["block_cfg"] |= dict(expand_ratio=params.expand_ratio, use_depthwise=params.use_depthwise)
    return strategies.finetune_config(model, frozen_stages=params.frozen_stages, freeze_neck=params.freeze_all,
                                      freeze_head=params.freeze_all)


def _without_text_tower(model: dict[str, Any], load_from: str | None) -> tuple[torch.nn.Module, str]:
    """The detector without its text tower, from `load_from`'s weights when given (checked by
    `load_start_weights`), and the load's report ('' without a checkpoint)."""
    from trainables.yolo_world.models.build import build_model
    from trainables.yolo_world.models.checkpoints import load_start_weights

    plain = copy.deepcopy(model)
    plain["backbone"].update(text_model=None, with_text_model=False)
    detector = build_model(plain)
    return detector, str(load_start_weights(detector, load_from)) if load_from else ""


def check_start_checkpoint(params: TrialParams, data: DatasetFiles) -> str:
    """What `params.load_from` gives this trial's detector, checked before anything trains: the
    load's report; StartCheckpointError for a file that is not a checkpoint of this model."""
    model = _plain_model(params, data, len(load_class_texts(data.class_text_file)))
    return _without_text_tower(model, params.load_from)[1]


def _reparameterized_start(model: dict[str, Any], params: TrialParams, embeddings: str,
                           work_dir: Path) -> tuple[dict[str, Any], str]:
    """The text-free model and its initial weights: the start point with the classes baked in."""
    from trainables.yolo_world.models.reparameterize import reparameterize_state_dict

    detector, _ = _without_text_tower(model, params.load_from)
    class_embeddings = torch.from_numpy(np.load(embeddings))
    path = work_dir / INIT_CHECKPOINT
    torch.save({"state_dict": reparameterize_state_dict(detector.state_dict(), class_embeddings)}, path)
    return strategies.reparameterized_config(model, len(class_embeddings)), str(path)


def mixed_in(params: TrialParams, data: DatasetFiles, general: DatasetFiles | None) -> MixedIn | None:
    """The general images `params.general_mix` adds to training: that share of the dataset's
    training images, from the general set's train split (at most all of them)."""
    if not params.general_mix:
        return None
    if general is None:
        raise ValueError("general_mix mixes in the retention set's training images: set objectives.retention")
    wanted = round(params.general_mix * coco_image_count(data.train.annotation_file))
    return MixedIn(ann_file=str(general.train.annotation_file), image_dir=str(general.train.image_dir),
                   class_text_file=str(general.class_text_file),
                   images=max(1, min(wanted, coco_image_count(general.train.annotation_file))))


def trial_data_config(params: TrialParams, data: DatasetFiles, *, num_data_workers: int,
                      text_free: bool, num_classes: int | None = None,
                      general: MixedIn | None = None) -> dict[str, Any]:
    """Pipelines and dataloaders; `text_free` for models with one fixed output per class.

    `num_classes` (texts sampled per image) defaults to the length of the class-text file;
    `general` images are mixed into training.
    """
    texts = TextSampling(max_num_samples=num_classes or len(load_class_texts(data.class_text_file)),
                         neg_texts=params.neg_texts, prompt_formats=PROMPT_TEMPLATES[params.prompt_templates],
                         random_synonym=params.synonyms)
    data_cfg = box_only_data_config(
        train_ann_file=data.train.annotation_file, train_image_dir=data.train.image_dir,
        val_ann_file=data.val.annotation_file, val_image_dir=data.val.image_dir,
        class_text_file=data.class_text_file, img_scale=(params.image_size, params.image_size),
        batch_size=params.batch_size, num_workers=num_data_workers, mosaic_prob=params.mosaic_prob,
        mixup_prob=params.mixup_prob, texts=texts, oversample_thr=params.repeat_factor_thr, mixed_in=general)
    return text_free_data_config(data_cfg) if text_free else data_cfg


def retention_hook(params: TrialParams, retention: RetentionSet, work_dir: Path, *,
                   num_data_workers: int) -> dict[str, Any]:
    """The RetentionEvalHook entry: the retention set's validation at the trial's image size and
    prompt template; a prompt-tuned model gets its class embeddings, a reparameterized one is unscored."""
    hook: dict[str, Any] = dict(type="RetentionEvalHook", metric=retention.metric,
                                val_only=params.strategy == "zero_shot")
    if params.strategy == "reparameterized":
        return hook | dict(unscored="reparameterized: its classes are baked into the weights, it has no other "
                                    "vocabulary to evaluate")
    general = retention.data
    text_free = params.strategy == "prompt"
    loader = trial_data_config(params, general, num_data_workers=num_data_workers, text_free=text_free)
    hook |= dict(dataloader=loader["val_dataloader"], ann_file=str(general.val.annotation_file),
                 collect_dir=f"{work_dir}/.dist_results_retention")
    if text_free:
        hook["prompt_embeddings"] = class_embedding_file(params, load_class_texts(general.class_text_file), work_dir,
                                                         "retention_embeddings.npy")
    return hook


def build_trial_config(params: TrialParams, data: DatasetFiles, work_dir: str | Path, *,
                       num_data_workers: int = 2, log_interval: int = 10, speed_cache: str | Path | None = None,
                       speed_protocol: SpeedProtocol | None = None,
                       retention: RetentionSet | None = None) -> dict[str, Any]:
    """The complete config. Its `worldtune` entry tells the worker what mmengine has no key for:
    the weights to start from, mixed precision (None: on when on GPU), and train or val only.

    `speed_cache` is the search storage's speed-lane folder (None: every trial is timed);
    `retention` the general set the final model is evaluated on zero-shot (and `general_mix` draws from)."""
    work_dir = Path(work_dir).absolute()
    work_dir.mkdir(parents=True, exist_ok=True)
    class_texts = load_class_texts(data.class_text_file)
    model = _plain_model(params, data, len(class_texts))
    init_checkpoint = params.load_from
    if params.strategy == "prompt":
        model = strategies.prompt_tuning_config(
            model, embedding_path=class_embedding_file(params, class_texts, work_dir),
            use_mlp_adapter=params.use_mlp_adapter, frozen_stages=max(params.frozen_stages, 4))
    elif params.strategy == "reparameterized":
        model, init_checkpoint = _reparameterized_start(
            model, params, class_embedding_file(params, class_texts, work_dir), work_dir)
    text_free = params.strategy in ("prompt", "reparameterized")
    general = mixed_in(params, data, retention.data if retention else None)
    train_texts = len(class_texts) + (len(load_class_texts(general.class_text_file)) if general else 0)
    # a mosaic may hold both vocabularies: every training image is padded to both sets' texts
    model["num_train_classes"] = model["train_cfg"]["assigner"]["num_classes"] = train_texts
    data_cfg = trial_data_config(params, data, num_data_workers=num_data_workers, text_free=text_free,
                                 num_classes=train_texts, general=general)
    schedule = Schedule.of(params)
    cfg = training_recipe(
        schedule, optimizer_constructor="YOLOWv5OptimizerConstructor",
        paramwise_cfg=dict(custom_keys={"backbone.text_model": dict(lr_mult=TEXT_MODEL_LR_MULT),
                                        "logit_scale": dict(weight_decay=0.0),
                                        "embeddings": dict(weight_decay=0.0)}),  # prompt tuning's prompts
        stage2_pipeline=data_cfg["train_pipeline_stage2"], val_ann_file=str(data.val.annotation_file),
        work_dir=str(work_dir), seed=params.seed, log_interval=log_interval)
    speed = LaneRequest(
        signature=inference_signature(params, num_classes=len(class_texts), text_width=text_width(params.text_encoder)),
        image_size=params.image_size, texts=None if text_free else [texts[0] for texts in class_texts],
        cache_dir=None if speed_cache is None else str(Path(speed_cache).absolute()),
        protocol=(speed_protocol or SpeedProtocol()).as_dict())
    cfg["custom_hooks"] += [
        dict(type="FiniteLossHook"),
        dict(type="RayTrainReportHook", speed=asdict(speed), val_only=params.strategy == "zero_shot"),
    ]
    if retention is not None:
        cfg["custom_hooks"].append(retention_hook(params, retention, work_dir, num_data_workers=num_data_workers))
    cfg.update(model=model, train_dataloader=data_cfg["train_dataloader"],
               val_dataloader=data_cfg["val_dataloader"], test_dataloader=data_cfg["val_dataloader"],
               worldtune=dict(init_checkpoint=init_checkpoint, amp=params.amp,
                              mode="val" if params.strategy == "zero_shot" else "train"))
    return cfg
