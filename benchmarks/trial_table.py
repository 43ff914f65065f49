"""Benchmark data: a full-factorial table of real worldtune trials, for replaying searches.

Runs every combination of DESIGN on both demo sets as real trials of the service (Ray Tune + Ray
Train + the speed lane, the lightweight space's CPU settings: tiny YOLO-World from scratch at
160 px, 5 epochs, batch 8), two at a time, and writes what a search would have seen of each: the
per-epoch accuracy curve, the lane's FPS and parameter count, the architecture key, the seconds.
`benchmarks/replay.py` then runs samplers and schedulers against the table instead of training.

    .venv/bin/python benchmarks/trial_table.py [--out benchmarks/data/trial_table.json]

Each dataset's trials are appended to `<out>.partial.jsonl` when its grid ends (removed once
`<out>` is written), so an interrupted run keeps the datasets it finished; a rerun skips the
combinations already there (those of an existing `<out>` too: a larger DESIGN extends the table).
At the end every row's lane figures come from this run's lane (`retime`), so that all FPS in the
table share one calibration.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])

from benchmarks.machine import describe_machine  # noqa: E402
from search.environment import configure  # noqa: E402
from trainables import contract  # noqa: E402

DESIGN = {
    "use_depthwise": [False, True],
    "expand_ratio": [0.25, 0.5],
    "use_bn_head": [False, True],
    "neck_num_heads": [[4, 8, 16], [2, 4, 8]],
    "lr": [1e-3, 4e-3],
}
"""Four of the lightweight space's architecture knobs plus lr: 32 combinations, 16 architectures,
per dataset (the loss stays BCE). To extend the table, add a factor here with the value the rows
already measured had first, and rerun: those rows are kept (`_with_design`)."""
DATASETS = ("demo-defects", "demo-ct")
FIXED = {"size": "tiny", "image_size": 160, "epochs": 5, "batch_size": 8, "close_mosaic_epochs": 1,
         "warmup_epochs": 0.5, "warmup_min_iters": 2, "seed": 0}
CURVE_KEYS = (contract.EPOCH, "map", "map_50", contract.TRAIN_LOSS, contract.WALL_S)
LANE_KEYS = ("fps", "latency_ms", "fps_spread", "params_m", "gflops", "arch_key", "speed_protocol")


def combinations() -> list[dict]:
    return [dict(zip(DESIGN, values)) for values in itertools.product(*DESIGN.values())]


def write_space(folder: Path) -> Path:
    """A space over the design (every value a choice) on both demo sets; only its datasets,
    fixed values and resources are used: the design is run as a grid, not sampled."""
    space = {"name": "trial-table", "datasets": list(DATASETS), "model": {"size": "tiny", "text_encoder": "demo"},
             "parameters": {name: {"type": "choice", "values": values} for name, values in DESIGN.items()},
             "fixed": FIXED, "scheduler": {"type": "none"},
             "resources": {"workers": 1, "cpus_per_worker": 1}, "storage": {"root": str(folder / "runs")}}
    file = folder / "trial-table.yaml"
    file.write_text(json.dumps(space, indent=1))  # JSON is YAML
    return file


def _row(dataset: str, values: dict, result) -> dict:
    """What the table keeps of one finished trial."""
    history = result.metrics_dataframe
    curve = [] if history is None else [
        {key: (None if key not in row or row[key] != row[key] else float(row[key])) for key in CURVE_KEYS}
        for row in history.to_dict("records") if "map" in row]
    last = result.metrics or {}
    return {"dataset": dataset, "params": values,
            "status": "error" if result.error else last.get(contract.STATUS, "ok"),
            "finished_budget": bool(last.get(contract.FINISHED_BUDGET)), "curve": curve,
            **{key: last.get(key) for key in LANE_KEYS}}


def _with_design(row: dict) -> dict:
    """A row measured before a factor joined the design ran at that factor's first value."""
    return row | {"params": {name: values[0] for name, values in DESIGN.items()} | row["params"]}


def _config_builder(plan, study):
    from search.study.tuner import ConfigBuilder

    return ConfigBuilder(study.dataset, 0, speed_cache=plan.speed_cache, speed_protocol=plan.space.spec.speed)


def retime(plan, study, rows: list[dict], work: Path) -> None:
    """The lane figures of every row of one dataset from this run's lane (its cache, else timed
    now), once per architecture: rows kept from an earlier run were timed against another
    calibration of the reference, and their FPS would not compare with the new rows'."""
    from trainables.driver import speed_before_training

    builder, figures = _config_builder(plan, study), {}
    for row in (r for r in rows if r["dataset"] == study.name):
        architecture = row["arch_key"]
        if architecture not in figures:
            work_dir = work / "retime" / study.name / str(len(figures))
            work_dir.mkdir(parents=True, exist_ok=True)
            figures[architecture] = speed_before_training(builder(study.space.fixed | row["params"], str(work_dir)),
                                                          plan.resources)
        row.update({key: figures[architecture].get(key) for key in LANE_KEYS})


def run_dataset(plan, study, todo: list[dict], partial: Path) -> None:
    """The missing combinations of one dataset as a Tune grid, two at a time, appended as they end."""
    from ray import tune

    from trainables.driver import run_trial

    builder = _config_builder(plan, study)
    resources, fixed, storage = plan.resources, study.space.fixed, str(study.train_storage.absolute())

    def table_trial(config: dict) -> None:
        run_trial(fixed | config["combination"], build_config=builder, resources=resources, train_storage=storage)

    tuner = tune.Tuner(
        tune.with_resources(table_trial, resources.driver_resources()),
        param_space={"combination": tune.grid_search(todo)},   # whole combinations: no re-crossing
        tune_config=tune.TuneConfig(max_concurrent_trials=2),
        run_config=tune.RunConfig(name=f"table-{study.name}", storage_path=str(study.tune_storage), verbose=0))
    for result in tuner.fit():
        combo = result.config["combination"]
        with partial.open("a") as stream:
            stream.write(json.dumps(_row(study.name, combo, result)) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data" / "trial_table.json")
    parser.add_argument("--work-dir", type=Path, default=Path("outputs/benchmarks/trial_table"))
    args = parser.parse_args()
    configure()  # the entry points' process settings (search/environment.py), before Ray starts
    work = args.work_dir.absolute()
    work.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".partial.jsonl")
    args.out.parent.mkdir(parents=True, exist_ok=True)

    from search.datasets import ensure_demo_dataset
    from search.space.loading import load_space
    from search.study.cluster import connect
    from search.study.plan import dataset_files, make_plan

    for name in DATASETS:   # the demo sets as the README's command generates them
        ensure_demo_dataset(name, dataset_files(name).root.parent)
    plan = make_plan(load_space(write_space(work)), connect(None).cluster, f"table-{time.strftime('%H%M%S')}")
    earlier = json.loads(args.out.read_text()) if args.out.exists() and not partial.exists() else None
    if earlier:   # extending a finished table: its rows are the start of this run's
        partial.write_text("".join(json.dumps(_with_design(row)) + "\n" for row in earlier["trials"]))
    started = time.monotonic()
    for study in plan.studies:
        done = [json.loads(line) for line in partial.read_text().splitlines()] if partial.exists() else []
        have = [_with_design(row)["params"] for row in done if row["dataset"] == study.name]
        todo = [combo for combo in combinations() if combo not in have]
        print(f"{study.name}: {len(todo)} of {len(combinations())} combinations to run", flush=True)
        if todo:
            run_dataset(plan, study, todo, partial)
    rows = [_with_design(json.loads(line)) for line in partial.read_text().splitlines()]
    for study in plan.studies:
        retime(plan, study, rows, work)
    seconds = time.monotonic() - started + (earlier["seconds"] if earlier else 0.0)
    table = {"when": f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC", "machine": describe_machine(),
             "design": DESIGN, "fixed": FIXED, "datasets": list(DATASETS), "seconds": seconds, "trials": rows}
    args.out.write_text(json.dumps(table, indent=1))
    partial.unlink()   # every row is in <out> now, where a rerun with a larger DESIGN starts from
    print(f"{len(rows)} trials -> {args.out}")


if __name__ == "__main__":
    main()
