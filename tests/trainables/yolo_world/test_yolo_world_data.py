"""The box-only recipe's pipelines and dataloaders, built by real mmengine/mmyolo over a small demo
set: batches whose texts, labels and boxes agree, and the data preprocessor on them."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from mmengine.runner import Runner
from mmyolo.registry import DATASETS, MODELS
from mmyolo.utils import register_all_modules

from search.datasets import DatasetFiles
from tests.project import OFFICIAL_FIXTURES
from trainables.yolo_world.data import ClassTextError, MixedIn, TextSampling, box_only_data_config

RECIPE = OFFICIAL_FIXTURES / "finetune_recipe_s.json"
SIZE = 160
MAX_TEXTS = 8  # demo-defects has 6 classes: 2 padding texts per image


@pytest.fixture(scope="module", autouse=True)
def _mmyolo_scope() -> None:
    register_all_modules(init_default_scope=True)
    import trainables.yolo_world  # noqa: F401  (registers the YOLO-World types)


@pytest.fixture(scope="module")
def demo(small_demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[DatasetFiles, list[list[str]]]:
    """demo-defects with a class-text file that gives each class two synonyms."""
    files = DatasetFiles.standard("demo-defects", small_demo_root / "demo-defects")
    texts = [[entry[0], f"{entry[0]} defect"] for entry in json.loads(files.class_text_file.read_text())]
    path = tmp_path_factory.mktemp("texts") / "synonyms.json"
    path.write_text(json.dumps(texts))
    files = DatasetFiles(files.name, files.root, files.train, files.val, path)
    return files, texts


def _config(files: DatasetFiles, **overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(train_ann_file=files.train.annotation_file, train_image_dir=files.train.image_dir,
                                val_ann_file=files.val.annotation_file, val_image_dir=files.val.image_dir,
                                class_text_file=files.class_text_file)
    return box_only_data_config(**{**args, **overrides})


def _box_only(pipeline: list[dict], drop: tuple[str, ...]) -> list[dict]:
    """The official pipeline without its mask-refine parts."""
    kept = []
    for transform in pipeline:
        if transform["type"] in drop:
            continue
        transform = {k: v for k, v in transform.items() if k not in ("with_mask", "mask2bbox", "use_mask_refine")}
        if "pre_transform" in transform:
            transform["pre_transform"] = _box_only(transform["pre_transform"], drop)
        kept.append(transform)
    return kept


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


@pytest.mark.parametrize("with_albu", [False, True])
def test_config_is_the_official_recipe_without_mask_refine(demo: tuple, with_albu: bool) -> None:
    official = json.loads(RECIPE.read_text())["yolo_world_v2_s_vlpan_bn_2e-4_80e_8gpus_mask-refine_finetune_coco"]
    drop = ("YOLOv5CopyPaste", "RemoveDataElement") + (() if with_albu else ("mmdet.Albu",))
    config = _as_json(_config(demo[0], with_albu=with_albu))
    train, val = official["train_dataloader"], official["val_dataloader"]
    assert config["train_pipeline"] == _box_only(train["dataset"]["pipeline"], drop)
    switch = next(hook for hook in official["custom_hooks"] if hook["type"] == "mmdet.PipelineSwitchHook")
    assert config["train_pipeline_stage2"] == _box_only(switch["switch_pipeline"], drop)
    assert config["test_pipeline"] == val["dataset"]["pipeline"]
    for ours, theirs in ((config["train_dataloader"], train), (config["val_dataloader"], val)):
        assert {k: v for k, v in ours.items() if k not in ("dataset", "num_workers")} == \
               {k: v for k, v in theirs.items() if k not in ("dataset", "num_workers")}
        assert ours["dataset"]["type"] == "MultiModalDataset"
        assert ours["dataset"]["dataset"]["type"] == "YOLOv5CocoDataset"
        assert ours["dataset"]["dataset"]["filter_cfg"] == theirs["dataset"]["dataset"]["filter_cfg"]
        assert ours["dataset"]["dataset"]["metainfo"]["classes"] == [t[0] for t in demo[1]]
    assert config["train_dataloader"]["dataset"]["pipeline"] == config["train_pipeline"]


def test_config_rejects_bad_input(demo: tuple, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mixup_prob must be within"):
        _config(demo[0], mixup_prob=1.5)
    unsorted = tmp_path / "unsorted.json"
    unsorted.write_text(json.dumps({"categories": [{"id": 2, "name": "b"}, {"id": 1, "name": "a"}]}))
    with pytest.raises(ValueError, match="sort .categories. by id"):
        _config(demo[0], val_ann_file=unsorted)
    with pytest.raises(ValueError, match=r"cannot read the categories of COCO file .*nowhere\.json"):
        _config(demo[0], val_ann_file=tmp_path / "nowhere.json")


def test_dataset_rejects_a_class_text_file_of_another_length(demo: tuple, tmp_path: Path) -> None:
    short = tmp_path / "short.json"
    short.write_text(json.dumps(demo[1][:5]))
    dataset_cfg = _config(demo[0], class_text_file=short)["val_dataloader"]["dataset"]
    with pytest.raises(ClassTextError, match=r"short\.json has 5 entries but the dataset has 6 classes"):
        DATASETS.build(dataset_cfg)


def _class_of(text: str, texts: list[list[str]]) -> int:
    return next(c for c, synonyms in enumerate(texts) if text in synonyms)


def test_train_samples_label_only_classes_of_their_image(demo: tuple) -> None:
    """Without mosaic/mixup each sample is one image: its labels must name that image's classes."""
    files, texts = demo
    coco = json.loads(files.train.annotation_file.read_text())
    label_of = {c["id"]: i for i, c in enumerate(coco["categories"])}
    classes_in = {image["id"]: set() for image in coco["images"]}
    for ann in coco["annotations"]:
        classes_in[ann["image_id"]].add(label_of[ann["category_id"]])
    dataset = DATASETS.build(_config(files, img_scale=(SIZE, SIZE), mosaic_prob=0.0, mixup_prob=0.0,
                                     texts=TextSampling(max_num_samples=MAX_TEXTS))["train_dataloader"]["dataset"])
    labelled = 0
    for index in range(len(dataset)):
        sample = dataset[index]["data_samples"]
        assert sample.texts[6:] == ["", ""]
        assert sorted(_class_of(t, texts) for t in sample.texts[:6]) == list(range(6))
        image_classes = {_class_of(sample.texts[label], texts) for label in sample.gt_instances.labels.tolist()}
        assert image_classes <= classes_in[sample.img_id]
        labelled += len(sample.gt_instances.labels)
    assert labelled > len(dataset)


def _check_batch(batch: dict, texts: list[list[str]], batch_size: int) -> None:
    images, rows, batch_texts = batch["inputs"], batch["data_samples"]["bboxes_labels"], batch["data_samples"]["texts"]
    assert images.shape == (batch_size, 3, SIZE, SIZE) and images.dtype == torch.uint8
    assert len(batch_texts) == batch_size and all(len(t) == MAX_TEXTS for t in batch_texts)
    for image_texts in batch_texts:
        real = [t for t in image_texts if t]
        assert sorted(_class_of(t, texts) for t in real) == list(range(len(texts)))
    assert rows.shape[1] == 6 and len(rows) > 0
    for image, label in rows[:, :2].long().tolist():
        assert 0 <= image < batch_size and batch_texts[image][label] != ""
    boxes = rows[:, 2:]
    assert (boxes >= 0).all() and (boxes <= SIZE).all()
    assert (boxes[:, 2] > boxes[:, 0]).all() and (boxes[:, 3] > boxes[:, 1]).all()


@pytest.mark.parametrize("pipeline_key, mosaic_prob, mixup_prob", [("train_pipeline", 0.5, 1.0),
                                                                    ("train_pipeline_stage2", 1.0, 0.0)])
def test_train_dataloader_batches_agree(demo: tuple, pipeline_key: str, mosaic_prob: float,
                                        mixup_prob: float) -> None:
    config = _config(demo[0], img_scale=(SIZE, SIZE), batch_size=4, num_workers=0, mosaic_prob=mosaic_prob,
                     mixup_prob=mixup_prob, texts=TextSampling(max_num_samples=MAX_TEXTS))
    loader_cfg = config["train_dataloader"]
    loader_cfg["dataset"]["pipeline"] = config[pipeline_key]
    batches = list(Runner.build_dataloader(loader_cfg, seed=0))
    assert len(batches) == 6
    for batch in batches:
        _check_batch(batch, demo[1], batch_size=4)

    preprocessor = MODELS.build(dict(type="YOLOWDetDataPreprocessor", mean=[0.0, 0.0, 0.0],
                                     std=[255.0, 255.0, 255.0], bgr_to_rgb=True))
    out = preprocessor(batches[0], training=True)
    torch.testing.assert_close(out["inputs"], batches[0]["inputs"][:, [2, 1, 0]].float() / 255)
    assert out["data_samples"]["texts"] is batches[0]["data_samples"]["texts"]
    assert torch.equal(out["data_samples"]["bboxes_labels"], batches[0]["data_samples"]["bboxes_labels"])
    assert out["data_samples"]["img_metas"][0]["batch_input_shape"] == (SIZE, SIZE)
    del batches[0]["data_samples"]["texts"]
    with pytest.raises(KeyError, match="yolow_collate"):
        preprocessor(batches[0], training=True)


def test_val_dataloader_scores_every_class_by_its_first_synonym(demo: tuple) -> None:
    files, texts = demo
    coco = json.loads(files.val.annotation_file.read_text())
    label_of = {c["id"]: i for i, c in enumerate(coco["categories"])}
    expected = {image["id"]: sorted(label_of[a["category_id"]] for a in coco["annotations"]
                                    if a["image_id"] == image["id"]) for image in coco["images"]}
    loader_cfg = _config(files, img_scale=(SIZE, SIZE), num_workers=0)["val_dataloader"]
    preprocessor = MODELS.build(dict(type="YOLOWDetDataPreprocessor", mean=[0.0, 0.0, 0.0],
                                     std=[255.0, 255.0, 255.0], bgr_to_rgb=True))
    seen = 0
    for batch in Runner.build_dataloader(loader_cfg, seed=0):
        sample = batch["data_samples"][0]
        assert sample.texts == [t[0] for t in texts]
        assert sorted(sample.gt_instances.labels.tolist()) == expected[sample.img_id]
        out = preprocessor(batch, training=False)
        assert out["inputs"].shape == (1, 3, SIZE, SIZE)
        torch.testing.assert_close(out["inputs"][0], batch["inputs"][0][[2, 1, 0]].float() / 255)
        assert out["data_samples"][0].texts == sample.texts
        seen += 1
    assert seen == len(coco["images"])


def test_text_sampling_reaches_the_pipelines(demo: tuple) -> None:
    """Fewer negatives, templates drawn per text at training, the first template for validation."""
    files, texts = demo
    sampling = TextSampling(max_num_samples=MAX_TEXTS, neg_texts=1, prompt_formats=("a photo of a {}.", "a {} here."))
    config = _config(files, img_scale=(SIZE, SIZE), mosaic_prob=0.0, mixup_prob=0.0, texts=sampling)
    dataset = DATASETS.build(config["train_dataloader"]["dataset"])
    for index in range(len(dataset)):
        sample = dataset[index]["data_samples"]
        real = [t for t in sample.texts if t]
        positives = {sample.texts[label] for label in sample.gt_instances.labels.tolist()}
        assert len(real) == len(positives) + 1 and len(sample.texts) == MAX_TEXTS
        assert all(t.startswith(("a photo of a ", "a ")) and t.endswith((".", " here.")) for t in real)
    val = DATASETS.build(config["val_dataloader"]["dataset"])
    assert val[0]["data_samples"].texts == [f"a photo of a {t[0]}." for t in texts]


def test_class_balanced_sampling_repeats_images_of_rare_classes(demo: tuple) -> None:
    """mmengine's ClassBalancedDataset inside the wrapper: rare-class images repeat, the pipeline
    (which the close-mosaic hook switches) stays on the outer wrapper, texts still come along."""
    files, texts = demo
    plain = DATASETS.build(_config(files, img_scale=(SIZE, SIZE))["train_dataloader"]["dataset"])
    config = _config(files, img_scale=(SIZE, SIZE), mosaic_prob=0.0, mixup_prob=0.0, oversample_thr=0.3,
                     texts=TextSampling(max_num_samples=MAX_TEXTS))
    balanced = DATASETS.build(config["train_dataloader"]["dataset"])
    assert type(balanced).__name__ == "MultiModalDataset" and hasattr(balanced, "pipeline")
    assert len(balanced) > len(plain)

    def images_per_class(dataset: Any) -> list[int]:
        counts = [0] * len(texts)
        for index in range(len(dataset)):
            for label in set(dataset.get_cat_ids(index)):
                counts[label] += 1
        return counts

    before, after = images_per_class(plain), images_per_class(balanced)
    rarest = min(range(len(texts)), key=before.__getitem__)
    assert after[rarest] / len(balanced) > before[rarest] / len(plain)
    sample = balanced[0]["data_samples"]
    assert len(sample.texts) == MAX_TEXTS and len(sample.gt_instances.labels) > 0


def test_general_images_train_on_their_own_texts_and_mosaics_merge_both(demo: tuple, small_demo_root: Path) -> None:
    """`general_mix`: the general set's first images join training, each labelled against its own
    set's class texts; a mosaic of images from both sets trains on both vocabularies."""
    import random

    files, texts = demo
    general = DatasetFiles.standard("demo-general", small_demo_root / "demo-general")
    general_texts = [entry[0] for entry in json.loads(general.class_text_file.read_text())]
    both = MAX_TEXTS + len(general_texts)
    mixed = MixedIn(ann_file=str(general.train.annotation_file), image_dir=str(general.train.image_dir),
                    class_text_file=str(general.class_text_file), images=10)
    plain_cfg = _config(files, img_scale=(SIZE, SIZE), mosaic_prob=0.0, mixup_prob=0.0, mixed_in=mixed,
                        texts=TextSampling(max_num_samples=both))
    dataset = DATASETS.build(plain_cfg["train_dataloader"]["dataset"])
    own = len(json.loads(files.train.annotation_file.read_text())["images"])
    assert len(dataset) == own + 10
    for index in (0, own - 1, own, own + 9):
        sample = dataset[index]["data_samples"]
        vocabulary = general_texts if index >= own else [t for synonyms in texts for t in synonyms]
        assert len(sample.texts) == both and all(t in vocabulary for t in sample.texts if t)
        assert all(sample.texts[label] in vocabulary for label in sample.gt_instances.labels.tolist())
        assert Path(sample.img_path).parent == (general.train.image_dir if index >= own else files.train.image_dir)
    random.seed(0)
    mosaic = DATASETS.build(_config(files, img_scale=(SIZE, SIZE), mosaic_prob=1.0, mixup_prob=0.0, mixed_in=mixed,
                                    texts=TextSampling(max_num_samples=both))["train_dataloader"]["dataset"])
    merged = 0
    for index in range(own):
        sample = mosaic[index]["data_samples"]
        real = set(sample.texts) - {""}
        merged += bool(real & set(general_texts)) and bool(real - set(general_texts))
        assert all(sample.texts[label] for label in sample.gt_instances.labels.tolist())
    assert merged > 0, "some mosaics hold images of both sets"
