"""An exported trial: written from a trained checkpoint (`search/export.py` calls it), loaded back
and used to predict with no search code at all.

    from trainables.exported import load_exported, predict
    model, cfg = load_exported("exported/demo-defects-3f2a1b7c", reparameterized=True)
    boxes = predict(model, cfg, "image.jpg")   # {"bboxes": N x 4 xyxy pixels, "scores", "labels", "classes"}

The folder holds `config.py` (the resolved training config plus `predict_pipeline`), `model.pth`
(weights only, loadable by torch's safe loader) and `class_texts.json`; `reparameterized/` holds
the same for the text-free model with the classes baked in (no text encoder needed).
"""
from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from torch import nn

from trainables.dataset_files import DatasetFiles

CONFIG_FILE, WEIGHTS_FILE, CLASS_TEXTS_FILE = "config.py", "model.pth", "class_texts.json"
ONNX_FILE = "model.onnx"   # the network alone (no decoding, no NMS), as the speed lane timed it
REPARAMETERIZED_DIR, TEXT_ENCODER_DIR = "reparameterized", "text_encoder"
METRICS_FILE = "metrics.json"

README = """# {name}

Trial {trial} of search {search} (dataset {dataset}): {accuracy} {acc:.4f}, {speed} {spd:.1f},
{params:.2f} M parameters. Exported by worldtune; loads without worldtune's search code:

    from trainables.exported import load_exported, predict
    model, cfg = load_exported("{folder}"{rep_arg})
    print(predict(model, cfg, "image.jpg"))   # bboxes (xyxy pixels), scores, labels, classes

Files: config.py (the resolved training config: fine-tune further with mmengine's Runner),
model.pth (weights), model.onnx (the network the speed lane timed, with these weights: input
`images` 1 x 3 x {image_size} x {image_size}, RGB scaled to 0-1; outputs the raw head maps, class
scores then box distributions per level; box decoding and NMS are not in the graph),
class_texts.json, metrics.json, work_dir/ (files the config names, e.g. class embeddings){rep_line}
"""


def load_exported(folder: str | Path, *, reparameterized: bool = False,
                  device: str = "cpu") -> tuple[nn.Module, Config]:
    """The exported detector in eval mode and its config."""
    import trainables.registry  # noqa: F401  (registers every worldtune module)
    from trainables.yolo_world.models.build import build_model

    root = Path(folder).absolute()
    folder = root / REPARAMETERIZED_DIR if reparameterized else root
    cfg = Config.fromfile(str(folder / CONFIG_FILE))
    cfg.class_text_file = str(root / CLASS_TEXTS_FILE)  # the folder may have moved since the export
    text_model = cfg.model.backbone.get("text_model")
    if text_model and (root / TEXT_ENCODER_DIR).is_dir():
        text_model.model_name = str(root / TEXT_ENCODER_DIR)
    model = build_model(cfg.model.to_dict(), sync_bn_to_bn=True)
    state = torch.load(folder / WEIGHTS_FILE, map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), cfg


def class_names(folder: str | Path) -> list[str]:
    """Each class's first text, in label order."""
    return [texts[0] for texts in json.loads((Path(folder) / CLASS_TEXTS_FILE).read_text())]


def predict(model: nn.Module, cfg: Config, image: str | Path) -> dict[str, Any]:
    """Detections on one image file, boxes in the image's own pixels (xyxy)."""
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope

    init_default_scope("mmyolo")
    texts = json.loads(Path(cfg.class_text_file).read_text())
    data = Compose(cfg.predict_pipeline)(dict(img_path=str(image), img_id=0, texts=texts))
    with torch.no_grad():
        result = model.test_step(dict(inputs=[data["inputs"]], data_samples=[data["data_samples"]]))[0]
    instances = result.pred_instances
    names = [t[0] for t in texts]
    return {"bboxes": instances.bboxes.cpu(), "scores": instances.scores.cpu(), "labels": instances.labels.cpu(),
            "classes": [names[int(i)] for i in instances.labels]}


def _predict_pipeline(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The validation pipeline without the annotation loading that a new image does not have."""
    dataset = cfg["val_dataloader"]["dataset"]
    pipeline = dataset.get("pipeline") or dataset["dataset"]["pipeline"]
    return [t for t in pipeline if t["type"] != "LoadAnnotations"]


def _save(folder: Path, cfg: dict[str, Any], state: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Config(cfg).dump(str(folder / CONFIG_FILE))
    torch.save({"state_dict": state}, folder / WEIGHTS_FILE)


def _reparameterize(cfg: dict[str, Any], model: Any, strategy: str, class_texts: list[list[str]],
                    folder: Path) -> str | None:
    """Save the text-free model with the classes baked in; the reason when it cannot be done."""
    from trainables.yolo_world.models.reparameterize import reparameterize_detector
    from trainables.yolo_world.models.strategies import reparameterized_config

    if strategy == "reparameterized":
        return "the trial trained a reparameterized model: the main folder is text-free already"
    prompt = strategy == "prompt"
    load_text = next((t for t in cfg["predict_pipeline"] if t["type"] == "LoadText"), {})
    deployed = [load_text.get("prompt_format", "{}").format(t[0]) for t in class_texts]  # as evaluation reads them
    try:
        rep = reparameterize_detector(model, cfg["model"], texts=None if prompt else deployed)
    except ValueError as error:
        return str(error)
    rep_cfg = dict(cfg, model=reparameterized_config(cfg["model"], len(class_texts)),
                   predict_pipeline=[dict(t, meta_keys=tuple(k for k in t.get("meta_keys", ()) if k != "texts"))
                                     if "meta_keys" in t else t
                                     for t in cfg["predict_pipeline"] if t["type"] != "LoadText"])
    _save(folder / REPARAMETERIZED_DIR, rep_cfg, rep.state_dict())
    return None


def _write_onnx(trained: Any, image_size: int, path: Path) -> None:
    """The network the speed lane timed, with the trained weights: the deployment copy (class
    features fixed, Conv+BN fused) as ONNX, batch 1 at the trial's image size."""
    from trainables.onnx_backend import export_onnx
    from trainables.speed import deployment_copy, dummy_batch

    inputs, samples = dummy_batch(image_size, torch.device("cpu"))
    export_onnx(deployment_copy(trained.model, trained.deployed_texts), inputs, samples, path)


def write_exported(values: Mapping[str, Any], data: DatasetFiles, checkpoint: str, folder: Path, *,
                   metrics: Mapping[str, Any], readme: Mapping[str, Any]) -> Path:
    """Write the trial trained with `values` (its reported `checkpoint` folder) as `folder`:
    `metrics` go to metrics.json, `readme` fills the README's trial, search, dataset, accuracy,
    acc, speed, spd and params."""
    from trainables.trained import load_trained

    folder = folder.absolute()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    values = dict(values)
    if Path(values.get("text_encoder", "")).is_dir():  # a local encoder travels with the model
        shutil.copytree(values["text_encoder"], folder / TEXT_ENCODER_DIR)
        values["text_encoder"] = str(folder / TEXT_ENCODER_DIR)
    trained = load_trained(values, data, checkpoint, folder / "work_dir")
    cfg = dict(trained.cfg, predict_pipeline=_predict_pipeline(trained.cfg))
    shutil.copy(data.class_text_file, folder / CLASS_TEXTS_FILE)
    _save(folder, cfg, trained.model.state_dict())
    _write_onnx(trained, trained.params.image_size, folder / ONNX_FILE)
    not_reparameterized = _reparameterize(cfg, trained.model, trained.params.strategy, trained.class_texts, folder)
    (folder / METRICS_FILE).write_text(json.dumps(dict(metrics), indent=1))
    rep_line = (f"\nreparameterized/: not written: {not_reparameterized}" if not_reparameterized else
                "\nreparameterized/: config.py + model.pth of the text-free model, classes baked in (no text encoder)")
    (folder / "README.md").write_text(README.format(
        **readme, name=folder.name, folder=folder, image_size=trained.params.image_size,
        rep_arg="" if not_reparameterized else ", reparameterized=True", rep_line=rep_line))
    return folder
