"""Export one trial as a self-contained folder to deploy or fine-tune further.

    python search/export.py --space lightweight --dataset demo-defects [--trial ID] [--out DIR]

Default: the recommended trial of the latest finished search. The folder holds the resolved
mmengine config (`config.py`, plus `predict_pipeline` for inference), the trained weights
(`model.pth`, weights only), the network as ONNX (`model.onnx`), the class-name file, the
trial's metrics, a local text encoder folder if the trial used one, and `reparameterized/`: the
text-free model with the classes baked in (when the head allows it).
`trainables.exported.load_exported` loads it back without any search code (see README.md in the
folder).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: import the project, not search/'s own folder
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from search.errors import WorldtuneError  # noqa: E402
from search.front import Outcome  # noqa: E402
from search.store import StoredStudy, add_store_arguments, client_for, load_studies  # noqa: E402
from trainables.dataset_files import DatasetFiles, Split  # noqa: E402
from trainables.exported import (CLASS_TEXTS_FILE, CONFIG_FILE, ONNX_FILE,  # noqa: E402
                                 REPARAMETERIZED_DIR, TEXT_ENCODER_DIR, WEIGHTS_FILE)

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


def _choose(studies: list[StoredStudy], trial: str | None) -> tuple[StoredStudy, Outcome]:
    study = studies[-1]  # the latest finished study of the requested space/dataset/search
    best = study.report.recommendation.outcome
    if trial is None and best is None:
        raise WorldtuneError(f"search {study.search_id}, dataset {study.dataset}: no recommended trial "
                             f"({study.report.recommendation.reason}); pass --trial ID")
    for outcome in study.report.outcomes:
        if outcome.trial_id == (trial or best.trial_id):
            if outcome.checkpoint is None:
                raise WorldtuneError(f"trial {outcome.trial_id} ({outcome.status}) left no checkpoint "
                                     f"(zero-shot trials train nothing); choose another with --trial")
            return study, outcome
    raise WorldtuneError(f"no trial {trial!r} in search {study.search_id}, dataset {study.dataset}; trials: "
                         f"{[o.trial_id for o in study.report.outcomes]}")


def _dataset(study: StoredStudy) -> DatasetFiles:
    """The study's dataset files, as its parent run recorded them."""
    p = study.run.data.params
    return DatasetFiles(name=study.dataset, root=Path(p["dataset_root"]),
                        train=Split(Path(p["train_annotations"]), Path(p["train_images"])),
                        val=Split(Path(p["val_annotations"]), Path(p["val_images"])),
                        class_text_file=Path(p["class_texts"]))


def _predict_pipeline(cfg: dict[str, Any]) -> list[dict[str, Any]]:
    """The validation pipeline without the annotation loading that a new image does not have."""
    dataset = cfg["val_dataloader"]["dataset"]
    pipeline = dataset.get("pipeline") or dataset["dataset"]["pipeline"]
    return [t for t in pipeline if t["type"] != "LoadAnnotations"]


def _save(folder: Path, cfg: dict[str, Any], state: dict[str, Any]) -> None:
    import torch
    from mmengine.config import Config

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
    try:
        rep = reparameterize_detector(model, cfg["model"], texts=None if prompt else [t[0] for t in class_texts])
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
    import torch

    from trainables.onnx_backend import export_onnx
    from trainables.speed import deployment_copy, dummy_batch

    inputs, samples = dummy_batch(image_size, torch.device("cpu"))
    export_onnx(deployment_copy(trained.model, trained.deployed_texts), inputs, samples, path)


def export(study: StoredStudy, outcome: Outcome, out: Path) -> Path:
    """Write the trial's folder under `out` and return it."""
    from trainables.trained import load_trained

    folder = (out / f"{study.dataset}-{outcome.trial_id}").absolute()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    data = _dataset(study)
    values = dict(outcome.values)
    if Path(values.get("text_encoder", "")).is_dir():  # a local encoder travels with the model
        shutil.copytree(values["text_encoder"], folder / TEXT_ENCODER_DIR)
        values["text_encoder"] = str(folder / TEXT_ENCODER_DIR)
    trained = load_trained(values, data, outcome.checkpoint, folder / "work_dir")
    cfg = dict(trained.cfg, predict_pipeline=_predict_pipeline(trained.cfg))
    shutil.copy(data.class_text_file, folder / CLASS_TEXTS_FILE)
    _save(folder, cfg, trained.model.state_dict())
    _write_onnx(trained, trained.params.image_size, folder / ONNX_FILE)
    not_reparameterized = _reparameterize(cfg, trained.model, trained.params.strategy, trained.class_texts, folder)
    (folder / "metrics.json").write_text(json.dumps(outcome.as_dict() | {"search": study.search_id}, indent=1))
    rep_line = (f"\nreparameterized/: not written: {not_reparameterized}" if not_reparameterized else
                "\nreparameterized/: config.py + model.pth of the text-free model, classes baked in (no text encoder)")
    (folder / "README.md").write_text(README.format(
        name=folder.name, trial=outcome.trial_id, search=study.search_id, dataset=study.dataset,
        accuracy=study.objectives.accuracy, acc=outcome.accuracy or 0, speed=study.objectives.speed,
        spd=outcome.speed or 0, params=outcome.params_m or 0, folder=folder, image_size=trained.params.image_size,
        rep_arg="" if not_reparameterized else ", reparameterized=True", rep_line=rep_line))
    return folder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python search/export.py", description=__doc__.split("\n")[0])
    add_store_arguments(parser)
    parser.add_argument("--trial", help="trial id (default: the study's recommended trial)")
    parser.add_argument("--out", type=Path, default=Path("exported"), help="parent folder; default %(default)s")
    args = parser.parse_args(argv)
    try:
        studies = load_studies(client_for(args), args)
        if len({(s.experiment, s.dataset) for s in studies}) > 1:
            raise WorldtuneError("several studies match: name one with --space and --dataset (and --search)")
        folder = export(*_choose(studies, args.trial), args.out)
    except WorldtuneError as error:
        print(f"[worldtune] error: {error}", file=sys.stderr)
        return 2
    print(f"[worldtune] exported to {folder} (see README.md there)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
