"""Load an exported trial (`search/export.py`'s folder) and predict, with no search code at all.

    from trainables.exported import load_exported, predict
    model, cfg = load_exported("exported/demo-defects-3f2a1b7c", reparameterized=True)
    boxes = predict(model, cfg, "image.jpg")   # {"bboxes": N x 4 xyxy pixels, "scores", "labels", "classes"}

The folder holds `config.py` (the resolved training config plus `predict_pipeline`), `model.pth`
(weights only, loadable by torch's safe loader) and `class_texts.json`; `reparameterized/` holds
the same for the text-free model with the classes baked in (no text encoder needed).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from mmengine.config import Config
from torch import nn

CONFIG_FILE, WEIGHTS_FILE, CLASS_TEXTS_FILE = "config.py", "model.pth", "class_texts.json"
ONNX_FILE = "model.onnx"   # the network alone (no decoding, no NMS), as the speed lane timed it
REPARAMETERIZED_DIR, TEXT_ENCODER_DIR = "reparameterized", "text_encoder"


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
