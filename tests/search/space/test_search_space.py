"""Space files: the YAML -> Optuna conversion (table), conditional sampling, the shipped spaces, and
bad files rejected before anything starts, with the file, the key and the fix in the message."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from search.errors import SpaceError
from search.space.distributions import SearchSpace, to_distribution
from search.space.loading import load_space
from search.space.schema import ParamSpec
from search.study.plan import Cluster, describe, make_plan
from tests.project import SPACES
from trainables.api import CLIP_BASE


@pytest.mark.parametrize("spec, expected", [
    (dict(type="bool"), CategoricalDistribution([False, True])),
    (dict(type="choice", values=["bce", "focal"]), CategoricalDistribution(["bce", "focal"])),
    (dict(type="choice", values=[[4, 8, 16], [2, 4, 8]]), CategoricalDistribution(["[4, 8, 16]", "[2, 4, 8]"])),
    (dict(type="int", low=-1, high=4), IntDistribution(-1, 4)),            # 4 included (unlike tune.randint)
    (dict(type="int", low=5, high=20, step=5), IntDistribution(5, 20, step=5)),
    (dict(type="int", low=1, high=64, log=True), IntDistribution(1, 64, log=True)),
    (dict(type="float", low=1e-4, high=2e-3, log=True), FloatDistribution(1e-4, 2e-3, log=True)),
    (dict(type="float", low=0.25, high=0.5, step=0.25), FloatDistribution(0.25, 0.5, step=0.25)),
    (dict(type="float", low=1, high=3), FloatDistribution(1.0, 3.0)),
])
def test_yaml_parameter_to_optuna_distribution(spec: dict, expected: optuna.distributions.BaseDistribution) -> None:
    assert to_distribution(ParamSpec(**spec)) == expected


def _sample(space: SearchSpace, n: int) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    return [space(study.ask()) for _ in range(n)]


def test_bounds_are_inclusive_and_list_choices_come_back_as_lists() -> None:
    space = SearchSpace({"frozen_stages": ParamSpec(type="int", low=-1, high=1),
                         "neck_num_heads": ParamSpec(type="choice", values=[[4, 8, 16], [2, 4, 8]])},
                        fixed={"size": "tiny"})
    samples = _sample(space, 60)
    assert {s["frozen_stages"] for s in samples} == {-1, 0, 1}
    assert {tuple(s["neck_num_heads"]) for s in samples} == {(4, 8, 16), (2, 4, 8)}
    assert all(s["size"] == "tiny" for s in samples), "fixed values reach every trial"


def test_a_conditional_parameter_is_sampled_only_when_its_condition_holds() -> None:
    space = load_space(SPACES / "cross-domain.yaml")
    samples = _sample(SearchSpace(space.spec.parameters, space.base_values()), 40)
    prompt = [s for s in samples if s["strategy"] == "prompt"]
    normal = [s for s in samples if s["strategy"] == "normal"]
    assert prompt and normal
    assert all("use_mlp_adapter" in s and "frozen_stages" not in s for s in prompt)
    assert all("use_mlp_adapter" not in s and "frozen_stages" in s for s in normal)


@pytest.mark.parametrize("name", ["lightweight", "small-sample", "cross-domain", "open-vocabulary"])
def test_shipped_spaces_plan_on_a_cpu_laptop(name: str, small_demo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    plan = make_plan(load_space(SPACES / f"{name}.yaml"), Cluster(cpus=2, gpus=0), "test")
    for study in plan.studies:
        assert study.space.fixed["size"] == "tiny" and study.space.fixed["image_size"] == 160
        encoder = study.space.fixed["text_encoder"]  # CLIP base where this machine has it cached
        assert encoder == CLIP_BASE or Path(encoder) == small_demo_root / "demo-clip-text", encoder
        assert study.experiment_dir.is_absolute() and study.optuna_db.is_absolute()
    assert plan.resources.gpus_per_worker == 0 and plan.max_concurrent <= 2
    assert "cpu_fallback" in describe(plan)
    if name == "small-sample":  # 24 images at batch 8, 5 epochs: the 1000-iteration floor capped at a fifth
        assert "demo-defects: lr warm-up 3 of 15 iterations (20%; 24 images, batch 8 x 1 worker(s)), then the " \
               "trial's lr decays linearly to 0.01x" in describe(plan)
    if name != "lightweight":  # prompt tuning and small-sample fine-tuning start from a trained detector
        start = Path(study.space.fixed["load_from"])
        assert start.parent == small_demo_root / "demo-start" and start.is_file(), "the demo start detector"
        assert f"starting weights: the demo start detector, pretrained on demo-general ({start})" in describe(plan)
    if name == "open-vocabulary":
        assert plan.retention.data.root == small_demo_root / "demo-general" and plan.retention.metric == "map"
        assert "objectives: map up, fps up, retention up (map zero-shot on demo-general val with each trial's " \
               "final model, floor 0.1)" in describe(plan)


def test_flags_override_the_file_and_gpus_are_used_when_there(small_demo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    space = load_space(SPACES / "lightweight.yaml", {"budget.trials": 3, "datasets": ["demo-ct"]})
    plan = make_plan(space, Cluster(cpus=16, gpus=2), "test")
    assert [s.name for s in plan.studies] == ["demo-ct"] and space.spec.budget.trials == 3
    assert plan.resources.gpus_per_worker == 1 and plan.max_concurrent == 2, "2 GPUs hold 2 one-GPU trials"
    assert "size" in plan.studies[0].space.parameters and plan.studies[0].space.fixed["image_size"] == 640


BASE = "datasets: [demo-defects]\n"
BAD_SPACES = [
    ("datasets: [demo-defects]\nparamters: {}\n", "paramters", "did you mean 'parameters'"),
    (BASE + "parameters: {warmup_epoch: {type: float, low: 1, high: 3}}\n", "parameters.warmup_epoch",
     "did you mean 'warmup_epochs'"),
    (BASE + "parameters: {lr: {type: float, low: 1.0e-3, high: 1.0e-4}}\n", "parameters.lr", "above 'high'"),
    (BASE + "parameters: {lr: {type: float, low: 0, high: 1.0e-3, log: true}}\n", "parameters.lr", "'low' > 0"),
    (BASE + "parameters: {cls_loss: {type: choice}}\n", "parameters.cls_loss", "non-empty 'values'"),
    (BASE + "parameters: {cls_loss: {type: choise, values: [bce]}}\n", "parameters.cls_loss.type", "'choice'"),
    (BASE + "parameters: {frozen_stages: {type: int, low: -1, high: 7}}\n", "parameters.frozen_stages",
     "value 7 is invalid"),
    (BASE + "parameters: {use_mlp_adapter: {type: bool}}\n", "parameters.use_mlp_adapter",
     "only applies to strategy 'prompt'"),
    (BASE + "parameters: {use_mlp_adapter: {type: bool, when: {stratgy: prompt}}}\n",
     "parameters.use_mlp_adapter.when.stratgy", "a condition must name"),
    (BASE + "parameters: {lr: {type: float, low: 1.0e-4, high: 1.0e-3}}\nfixed: {lr: 1.0e-3}\n", "parameters.lr",
     "both searched and in 'fixed'"),
    (BASE + "fixed: {epoch: 3}\n", "fixed.epoch", "did you mean 'epochs'"),
    (BASE + "model: {size: xl}\n", "model", "'size' = 'xl': must be one of"),
    (BASE + "model: {checkpoint: no/such.pth}\n", "model", "no such checkpoint file"),
    (BASE + "cpu_fallback: {size: huge}\n", "cpu_fallback", "must be one of"),
    (BASE + "budget: {trials: many}\n", "budget.trials", "must be int"),
    (BASE + "budget: {trials: 0}\n", "budget", "'trials' and 'max_concurrent' must be >= 1"),
    (BASE + "sampler: {type: nsga}\n", "sampler.type", "did you mean 'nsga2'"),
    (BASE + "scheduler: {type: asha, grace_period: 0}\n", "scheduler", "'grace_period' must be >= 1"),
    (BASE + "resources: {gpus_per_worker: lots}\n", "resources.gpus_per_worker", "float or 'auto'"),
    (BASE + "objectives: {speed: fps_no_nms}\n", "objectives.speed", "must be 'fps'"),
    (BASE + "objectives: {min_retention: 0.3}\n", "objectives", "set 'retention' too"),
    (BASE + "objectives: {retention: demo-general, min_retention: 30}\n", "objectives", "between 0 and 1"),
    (BASE + "fixed: {strategy: reparameterized, general_mix: 0.2}\n", "fixed",
     "only a model that reads class texts and trains"),
    (BASE + "speed: {thread: 2}\n", "speed.thread", "did you mean 'threads'"),
    (BASE + "speed: {threads: 0}\n", "speed", "threads >= 1"),
    (BASE + "speed: {backend: tensorrt}\n", "speed", "must be one of ['pytorch', 'onnxruntime']"),
    ("datasets: [{name: mine, train: {annotations: a.json, images: imgs}}]\n", "datasets[0]",
     "give all of 'train', 'val' and 'class_texts'"),
    ("parameters: {}\n", "datasets", "is required"),
    ("datasets: []\n", "", "at least one dataset"),
    ("datasets: [demo-defects\n", "", "is not valid YAML"),
]


@pytest.mark.parametrize("text, key, why", BAD_SPACES, ids=[case[1] or case[2] for case in BAD_SPACES])
def test_bad_space_files_are_rejected_with_file_key_and_reason(text: str, key: str, why: str,
                                                               tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(textwrap.dedent(text))
    with pytest.raises(SpaceError) as caught:
        load_space(file)
    message = str(caught.value)
    assert str(file) in message and why in message
    assert caught.value.key == key


def test_what_only_the_cluster_can_tell_is_rejected_before_any_trial(tmp_path: Path, small_demo_root: Path,
                                                                     monkeypatch) -> None:
    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    file = tmp_path / "big.yaml"
    file.write_text("datasets: [demo-ct]\nresources: {workers: 4}\nmodel: {text_encoder: demo}\n")
    with pytest.raises(SpaceError, match="one trial needs 4 CPUs .* the cluster has 2 CPUs"):
        make_plan(load_space(file), Cluster(cpus=2, gpus=0), "test")
    file.write_text(f"datasets: [demo-ct]\nmodel: {{text_encoder: {tmp_path / 'no-such-clip'}}}\n")
    with pytest.raises(SpaceError, match="model.text_encoder.*downloads nothing"):
        make_plan(load_space(file), Cluster(cpus=2, gpus=0), "test")
    file.write_text("datasets: [demo-ct]\nmodel: {text_encoder: demo}\nspeed: {backend: onnxruntime}\n")
    with pytest.raises(SpaceError, match="speed.backend.*'onnxruntime' times the network on the CPU"):
        make_plan(load_space(file), Cluster(cpus=2, gpus=1), "test")
    assert make_plan(load_space(file), Cluster(cpus=2, gpus=0), "test").space.spec.speed.backend == "onnxruntime"
    file.write_text("datasets: [demo-ct]\nmodel: {text_encoder: demo}\n"
                    "parameters: {general_mix: {type: float, low: 0, high: 0.5}}\n")
    with pytest.raises(SpaceError, match=r"parameters.general_mix.*set objectives.retention"):
        make_plan(load_space(file), Cluster(cpus=2, gpus=0), "test")
    general = small_demo_root / "demo-general"
    val = {"annotations": str(general / "annotations" / "instances_val.json"),
           "images": str(general / "images" / "val")}
    file.write_text(json.dumps({"datasets": ["demo-ct"], "model": {"text_encoder": "demo"},
                                "fixed": {"general_mix": 0.25},
                                "objectives": {"retention": {"name": "coco-val", "train": val, "val": val,
                                                             "class_texts": str(general / "class_texts.json")}}}))
    with pytest.raises(SpaceError, match=r"objectives.retention.*general_mix would train on the very images"):
        make_plan(load_space(file), Cluster(cpus=2, gpus=0), "test")
    embeddings = tmp_path / "classes.npy"
    np.save(embeddings, np.zeros((5, 8), np.float32))
    file.write_text(f"datasets: [demo-ct]\nmodel: {{text_encoder: {embeddings}}}\n"
                    "objectives: {retention: demo-general}\n")
    with pytest.raises(SpaceError, match=r"objectives.retention.*a text encoder that encodes any text"):
        make_plan(load_space(file), Cluster(cpus=2, gpus=0), "test")
