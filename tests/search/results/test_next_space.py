"""The next search's space: ranges narrowed to the front, findings turned into knobs, every change
commented, and the written file loads with the same checks as any space file."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from search.results.advisor import Advice
from search.results.front import Outcome
from search.results.next_space import NARROW_PAD, narrowed, next_space
from search.results.study_report import StudyReport
from search.space.loading import load_space
from search.space.schema import ObjectivesSpec, ParamSpec
from search.space.writing import space_text
from tests.project import SPACES
from trainables.contract import TrialEnd


def _data(name: str) -> dict[str, Any]:
    return yaml.safe_load((SPACES / name).read_text())


def _report(dataset: str, front_values: list[dict[str, Any]]) -> StudyReport:
    outcomes = [Outcome(f"t{i}", TrialEnd.FINISHED, accuracy=0.1 + 0.05 * i, speed=80.0 - 5 * i,
                        values=values, epochs=5) for i, values in enumerate(front_values)]
    return StudyReport.build(dataset, outcomes, ObjectivesSpec())


def _advice(failure: str, evidence: str = "figures", dataset: str = "demo-defects") -> Advice:
    return Advice(dataset, "t0", failure, evidence, "suggestion")


def _written(tmp_path: Path, space: Any) -> Path:
    file = tmp_path / "next.yaml"
    file.write_text(space_text(space.data, space.comments, ["header"]))
    load_space(file)  # raises SpaceError if the file is not a valid space
    return file


@pytest.mark.parametrize("spec, values, expected", [
    (ParamSpec(type="float", low=1e-4, high=1e-2, log=True), [1e-3, 2e-3], (3.16e-4, 6.32e-3)),
    (ParamSpec(type="float", low=0.0, high=1.0), [0.4, 0.5], (0.15, 0.75)),
    (ParamSpec(type="int", low=5, high=20, step=5), [10, 10], (5, 15)),
    (ParamSpec(type="int", low=-1, high=3), [0, 1], (-1, 2)),
    (ParamSpec(type="float", low=0.0, high=1.0), [0.1, 0.9], None),           # the whole range
    (ParamSpec(type="float", low=0.0, high=1.0), [0.5], None),                # one value says too little
    (ParamSpec(type="choice", values=["a", "b"]), ["a", "b"], None),
])
def test_narrowed_pads_the_front_by_a_quarter_of_the_old_range(spec: ParamSpec, values: list[float],
                                                               expected: tuple[float, float] | None) -> None:
    assert NARROW_PAD == 0.25
    assert narrowed(spec, values) == (pytest.approx(expected, rel=1e-2) if expected else None)


def test_front_narrows_lr_and_the_comment_gives_the_figures(tmp_path: Path) -> None:
    data = _data("lightweight.yaml")
    space_file = load_space(SPACES / "lightweight.yaml")
    reports = [_report("demo-defects", [{"lr": 4e-4}, {"lr": 8e-4}]), _report("demo-ct", [{"lr": 6e-4}])]
    space = next_space(data, space_file.spec.parameters, reports, [], on_cpu=False)
    lr = space.data["parameters"]["lr"]
    assert 1e-4 < lr["low"] < 4e-4 and 8e-4 < lr["high"] < 2e-3 and lr["log"] is True
    why = space.comments[("parameters", "lr")]
    assert "was 0.0001..0.002" in why and "2 on demo-defects, 1 on demo-ct" in why and "0.0004..0.0008" in why
    text = _written(tmp_path, space).read_text()
    on_cpu = next_space(_data("lightweight.yaml"), space_file.spec.parameters, reports, [], on_cpu=True)
    assert ("parameters", "lr") not in on_cpu.comments  # cpu_fallback fixes lr there: the front says nothing
    assert f"  # {why}\n  lr: {{type: float, low: " in text


def test_class_imbalance_adds_balanced_sampling_and_focal_loss_only_where_free(tmp_path: Path) -> None:
    data = _data("small-sample.yaml")
    searched = data["parameters"].pop("repeat_factor_thr")
    space = next_space(data, {}, [], [_advice("class imbalance", "recall50 hole 0.05")], on_cpu=True)
    params = space.data["parameters"]
    assert params["repeat_factor_thr"] == {"type": "float", "low": 0.0, "high": 0.3, "step": 0.05}
    assert params["cls_loss"] == {"type": "choice", "values": ["bce", "focal"]}
    assert "class imbalance on demo-defects, trial t0: recall50 hole 0.05" in space.comments[
        ("parameters", "repeat_factor_thr")]
    _written(tmp_path, space)
    lightweight = next_space(_data("lightweight.yaml"), {}, [], [_advice("class imbalance")], on_cpu=True)
    assert ("parameters", "cls_loss") not in lightweight.comments  # already searched: left as it is
    shipped = next_space(_data("small-sample.yaml"), {}, [], [_advice("class imbalance")], on_cpu=True)
    assert shipped.data["parameters"]["repeat_factor_thr"] == searched  # as the space searches it


def test_slow_convergence_raises_the_epochs_the_trials_ran(tmp_path: Path) -> None:
    findings = [_advice("slow convergence"), _advice("slow convergence", dataset="demo-ct")]
    on_cpu = next_space(_data("lightweight.yaml"), {}, [], findings, on_cpu=True)
    assert on_cpu.data["cpu_fallback"]["epochs"] == 8 and on_cpu.data["fixed"]["epochs"] == 40
    assert "(+1 more)" in on_cpu.comments[("cpu_fallback", "epochs")]
    on_gpu = next_space(_data("lightweight.yaml"), {}, [], findings, on_cpu=False)
    assert on_gpu.data["fixed"]["epochs"] == 60 and on_gpu.data["cpu_fallback"]["epochs"] == 5
    searched = next_space(_data("small-sample.yaml"), {}, [], [_advice("learned nothing")], on_cpu=False)
    assert searched.data["parameters"]["epochs"] == {"type": "int", "low": 5, "high": 40, "step": 5}
    _written(tmp_path, on_cpu)


def test_missed_speed_floor_adds_depthwise_a_smaller_input_and_reparameterization(tmp_path: Path) -> None:
    data = _data("small-sample.yaml")
    del data["parameters"]["use_bn_head"]
    gpu = next_space(data, {}, [], [_advice("speed target missed", "fps 20 under min_fps 30")], on_cpu=False)
    params = gpu.data["parameters"]
    assert params["use_depthwise"] == {"type": "bool"}
    assert params["image_size"] == {"type": "choice", "values": [480, 640]}
    assert params["strategy"] == {"type": "choice", "values": ["normal", "reparameterized"]}
    _written(tmp_path, gpu)
    cpu = next_space(_data("lightweight.yaml"), {}, [], [_advice("speed target missed")], on_cpu=True)
    assert cpu.data["cpu_fallback"]["image_size"] == 96 and "image_size" not in cpu.data["parameters"]
    assert "strategy" not in cpu.data["parameters"]  # use_bn_head is searched: BCE-free reparam is not sure


def test_cross_domain_failure_adds_prompt_diversity_and_prompt_tuning(tmp_path: Path) -> None:
    data = _data("small-sample.yaml")
    findings = [_advice("cross-domain failure", "map 0.02 here vs 0.2 on demo-defects"),
                _advice("speed target missed")]
    del data["parameters"]["use_bn_head"]
    space = next_space(data, {}, [], findings, on_cpu=False)
    params = space.data["parameters"]
    assert params["prompt_templates"] == {"type": "choice", "values": ["none", "photo", "ensemble"],
                                          "when": {"strategy": "normal"}}  # a prompt-tuned model has no texts
    assert params["strategy"]["values"] == ["normal", "reparameterized", "prompt"]  # both fixes, joined
    assert params["use_mlp_adapter"] == {"type": "bool", "when": {"strategy": "prompt"}}
    comment = space.comments[("parameters", "strategy")]
    assert "cross-domain failure" in comment and "speed target missed" in comment
    _written(tmp_path, space)


def test_overfitting_and_long_warmup(tmp_path: Path) -> None:
    findings = [_advice("overfitting"), _advice("long warm-up", "the lr warm-up took 30 of the 40 iterations")]
    space = next_space(_data("lightweight.yaml"), {}, [], findings, on_cpu=True)
    assert space.data["parameters"]["weight_decay"]["high"] == 0.2
    assert space.data["fixed"]["warmup_max_fraction"] == 0.1
    assert "30 of the 40" in space.comments[("fixed", "warmup_max_fraction")]
    _written(tmp_path, space)


def test_written_next_space_keeps_the_storage_and_no_password(tmp_path: Path, tiny_clip_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """write_next_space on a real plan: the file sits in the results folder, names it absolutely,
    keeps the tracking server without the password in its URI, and loads."""
    from search.results.next_space import write_next_space
    from search.study.plan import Cluster, make_plan
    from tests.project import write_space

    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    file = write_space(tmp_path, "tiny", tiny_clip_path, trials=2)
    data = yaml.safe_load(file.read_text())
    data["storage"]["mlflow_uri"] = "https://alice:s3cret-pass@mlflow.example.com/"
    file.write_text(yaml.safe_dump(data))
    plan = make_plan(load_space(file), Cluster(cpus=2, gpus=0), "tiny-1")
    written = write_next_space(plan, [], [Advice("demo-defects", "t0", "overfitting", "map fell 0.3 -> 0.2", "x")])
    assert written == plan.root / "next-tiny-1.yaml"
    text = written.read_text()
    assert "s3cret" not in text and "# overfitting on demo-defects, trial t0: map fell 0.3 -> 0.2" in text
    spec = load_space(written).spec
    assert (spec.storage.root, spec.storage.mlflow_uri) == (str(plan.root), "https://mlflow.example.com/")
    assert spec.parameters["weight_decay"].high == 0.2
