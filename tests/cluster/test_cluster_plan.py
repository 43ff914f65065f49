"""What the plan takes from a cluster: the autoscaler's limits, and the head's trial-driver slots
(the custom resource of cluster/ configs) — drivers request it only where a node advertises it."""
from __future__ import annotations

from pathlib import Path

import pytest

from search.space.loading import load_space
from search.study.plan import DRIVER_RESOURCE, Cluster, describe, make_plan
from tests.project import SPACES
from trainables.resources import TrialResources


@pytest.mark.parametrize(("now", "most", "expected"), [
    ({"CPU": 8}, None, Cluster(cpus=8, gpus=0)),
    ({"CPU": 8, DRIVER_RESOURCE: 16}, {"CPU": 8, "GPU": 4}, Cluster(cpus=8, gpus=4, driver_slots=16, growing=True)),
    ({"CPU": 8, "GPU": 2}, {"CPU": 4, "GPU": 2}, Cluster(cpus=8, gpus=2)),  # limits below what is up now
    ({}, {"CPU": 32, "GPU": 8, DRIVER_RESOURCE: 4}, Cluster(cpus=32, gpus=8, driver_slots=4, growing=True)),
])
def test_cluster_capacity_is_what_is_up_or_what_the_autoscaler_may_add(now, most, expected) -> None:
    assert Cluster.from_resources(now, most) == expected


def test_driver_resource_is_requested_only_when_the_cluster_has_it(small_demo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    space = load_space(SPACES / "lightweight.yaml", {"budget.trials": 8, "datasets": ["demo-ct"]})
    plain = make_plan(space, Cluster(cpus=64, gpus=8), "test")
    assert plain.resources.driver_resource is None
    assert DRIVER_RESOURCE not in plain.resources.driver_resources()

    headed = make_plan(space, Cluster(cpus=64, gpus=8, driver_slots=3), "test")
    assert headed.resources.driver_resources() == {"cpu": 0, "memory": 1 << 20, DRIVER_RESOURCE: 1}
    assert headed.max_concurrent == 3, "no more trials at once than the head has driver slots"
    assert DRIVER_RESOURCE in describe(headed)


def test_an_empty_autoscaling_cluster_still_plans_gpu_trials(small_demo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    space = load_space(SPACES / "lightweight.yaml", {"datasets": ["demo-ct"]})
    cluster = Cluster.from_resources({DRIVER_RESOURCE: 32}, {"CPU": 64, "GPU": 8})
    plan = make_plan(space, cluster, "test")
    assert plan.resources.gpus_per_worker == 1 and plan.studies[0].space.fixed["image_size"] == 640
    assert "autoscaler may grow" in describe(plan)


def test_trial_resources_keep_the_token_share_with_a_driver_resource() -> None:
    assert TrialResources().driver_resources() == {"cpu": 0, "memory": 1 << 20}
    assert TrialResources(driver_resource="x").driver_resources()["x"] == 1
