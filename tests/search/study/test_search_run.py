"""`search/run.py` end to end on a real local Ray, a real MLflow SQLite store and real trials:
a 4-trial search, its MLflow runs and Pareto artifacts checked against Optuna's own study,
pareto.py and export.py on the result, a search started from its recommended model, and the next
search it wrote. (`--resume` after the driver is killed: tests/search/tracking/test_faults_mlflow.py.)"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import optuna
import pytest
from mlflow.tracking import MlflowClient
from optuna._hypervolume import compute_hypervolume

from search import export, pareto
from search.results.front import dominates
from search.space.schema import default_tracking_uri
from search.tracking.experiment import DATASET_TAG, PARENT_TAG, SEARCH_TAG, STATUS_TAG, TRIAL_TAG, experiment_name
from search.tracking.links import LOCAL_UI
from tests.browser import CHROMIUM, Browser, free_port, start_process, stop_process, wait_for
from tests.project import ROOT, write_space

pytestmark = pytest.mark.slow  # real searches on a local Ray


@pytest.fixture(scope="module")
def searched(small_demo_root: Path, tiny_clip_path: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[tuple[Path, str, float]]:
    """(storage root, printed output, seconds) of one 4-trial search, 2 trials at a time, on three
    objectives: mAP, FPS and the retention of demo-general (zero-shot mAP of each final model),
    general images mixed into training as a searched share."""
    folder = tmp_path_factory.mktemp("search")
    os.environ["WORLDTUNE_DATA_DIR"] = str(small_demo_root)
    space = write_space(folder, "four", tiny_clip_path, retention=True, trials=4, max_concurrent=2)
    started = time.monotonic()
    output = subprocess.run([sys.executable, str(ROOT / "search" / "run.py"), "--space", str(space)], cwd=folder,
                            capture_output=True, text=True, timeout=600)
    assert output.returncode == 0, output.stderr[-4000:]
    yield folder / "runs", output.stdout, time.monotonic() - started


def _runs(client: MlflowClient, name: str) -> tuple[object, list]:
    experiment = client.get_experiment_by_name(experiment_name(name))
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    parents = [r for r in runs if SEARCH_TAG in r.data.tags]
    assert len(parents) == 1
    return parents[0], [r for r in runs if r.data.tags.get(PARENT_TAG) == parents[0].info.run_id]


def test_search_logs_parent_and_child_runs_and_the_front(searched: tuple[Path, str, float]) -> None:
    root, output, seconds = searched
    print(f"4-trial search: {seconds:.0f} s")
    client = MlflowClient(default_tracking_uri(root))
    parent, children = _runs(client, "four")
    assert parent.info.status == "FINISHED" and parent.data.tags[DATASET_TAG] == "demo-defects"
    assert len(children) == 4 and {c.data.tags[STATUS_TAG] for c in children} == {"finished"}
    for child in children:
        assert {"lr", "use_bn_head", "cls_loss", "image_size"} <= set(child.data.params)
        assert [m.step for m in client.get_metric_history(child.info.run_id, "map")] == [1, 2]
        assert {"fps", "params_m", "gflops", "map_50", "train_loss", "retention"} <= set(child.data.metrics)
        assert [m.step for m in client.get_metric_history(child.info.run_id, "retention")] == [2], "final model"
        assert (Path(child.data.tags["checkpoint_path"]) / "checkpoint.pth").is_file()
    assert {child.data.params["general_mix"] for child in children} <= {"0.0", "0.25"}
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "pareto")}
    assert artifacts == {"pareto/trials.json", "pareto/front.csv", "pareto/front.png", "pareto/front.html"}
    png = Path(client.download_artifacts(parent.info.run_id, "pareto/front.png", str(root / "dl")))
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert "recommended: trial" in output and "mlflow ui --backend-store-uri" in output
    assert "(accuracy = map, speed = fps, retention = map zero-shot on demo-general)" in output
    header = next(line for line in output.splitlines() if line.split()[:2] == ["trial", "status"])
    assert header.split()[:5] == ["trial", "status", "accuracy", "speed", "retention"], header
    front_csv = Path(client.download_artifacts(parent.info.run_id, "pareto/front.csv", str(root / "dl")))
    assert front_csv.read_text().splitlines()[0].startswith("trial,status,accuracy,speed,retention,")
    # the advisor, the parameter impact and the comparison: printed, and the same text on the parent run
    analysis = {a.path for a in client.list_artifacts(parent.info.run_id, "analysis")}
    assert analysis == {"analysis/advice.md", "analysis/impact.md", "analysis/comparison.md", "analysis/next.yaml"}
    texts = {name: Path(client.download_artifacts(parent.info.run_id, f"analysis/{name}.md", str(root / "dl")))
             .read_text().strip() for name in ("advice", "impact", "comparison")}
    assert all(text in output for text in texts.values())
    assert texts["advice"].startswith("advisor (demo-defects, 4 trials checked)")
    findings = texts["advice"].count("\n  trial ") + texts["advice"].count("\n  every trial: ")  # one per line
    assert parent.data.metrics["advisor_findings"] == findings
    assert "over 4 full-budget trials (of 4); TOO FEW TO TRUST" in texts["impact"]
    assert all(row in texts["impact"] for row in ("| lr | float | 4 |", "| use_bn_head | bool | 4 |",
                                                   "| cls_loss | choice | 4 |"))
    assert "| tiny | map " in texts["comparison"] and "| normal | map " in texts["comparison"]


def test_speed_is_timed_once_per_architecture_and_credited_only_to_it(searched: tuple[Path, str, float]) -> None:
    """lr and cls_loss only change training: the 4 trials have at most 2 architectures (BN head
    on or off), each timed once, and trials of one architecture read the same FPS."""
    root, output, _ = searched
    client = MlflowClient(default_tracking_uri(root))
    _, children = _runs(client, "four")
    by_key: dict[str, set] = {}
    for child in children:
        assert child.data.tags["speed_protocol"].startswith("pytorch fp32, batch 1, 160 px, network only")
        by_key.setdefault(child.data.tags["arch_key"], set()).add(
            (child.data.params["use_bn_head"], child.data.metrics["fps"]))
    assert all(len(values) == 1 for values in by_key.values()), f"one architecture, one BN setting, one FPS: {by_key}"
    assert len(by_key) == len({child.data.params["use_bn_head"] for child in children})
    assert sorted(p.stem for p in (root / "speed").glob("*.json")) == sorted(by_key)
    assert "no effect on speed: not part of the architecture" in output
    impact = output[output.index("parameter impact (demo-defects)"):]
    for training_only in ("lr", "cls_loss"):
        row = next(line for line in impact.splitlines() if line.startswith(f"| {training_only} |"))
        assert row.endswith("| no effect on speed: not part of the architecture |"), row
    assert "speed: the speed lane, once per architecture (arch), pytorch fp32" in output
    # the front's trials, and only they, were timed end to end with their trained weights
    parent, _ = _runs(client, "four")
    trials = json.loads(Path(client.download_artifacts(parent.info.run_id, "pareto/trials.json",
                                                       str(root / "dl3"))).read_text())
    from search.results.front import Outcome, pareto_front

    front = {o["trial_id"] for o in trials["outcomes"] if o["fps_e2e"] is not None}
    assert front and front == {o.trial_id for o in pareto_front([Outcome(**o) for o in trials["outcomes"]])}
    assert "end to end (decoding + NMS: score >= 0.05" in trials["end_to_end"]
    assert "fps_e2e (front only, trained weights): pytorch fp32, batch 1, end to end" in output
    assert all("fps_e2e" in child.data.metrics for child in children if child.data.tags[TRIAL_TAG] in front)


def test_console_shows_a_line_per_epoch_and_the_trial_logs_stay_in_their_work_dirs(
        searched: tuple[Path, str, float]) -> None:
    root, output, _ = searched
    trial_dirs = [p for p in (root / "train").glob("*/demo-defects/*") if (p / "work_dir").is_dir()]
    assert len(trial_dirs) == 4
    for trial in trial_dirs:
        lines = [line for line in output.splitlines() if line.startswith(f"[worldtune] demo-defects {trial.name}: ")]
        assert [line.split(": ")[1] for line in lines] == ["epoch 1/2", "epoch 2/2"], lines
        assert " map " in lines[-1] and " fps " in lines[-1], lines[-1]
        logs = "".join(p.read_text() for p in (trial / "work_dir").rglob("*.log"))
        assert "Config:" in logs and "Epoch(val) [2]" in logs
    assert "mmengine - " not in output and "RayTrainWorker" not in output, "worker logs stay off the console"


def test_front_is_non_dominated_and_agrees_with_optunas_study(searched: tuple[Path, str, float]) -> None:
    root, _, _ = searched
    client = MlflowClient(default_tracking_uri(root))
    parent, _ = _runs(client, "four")
    trials = json.loads(Path(client.download_artifacts(parent.info.run_id, "pareto/trials.json",
                                                       str(root / "dl2"))).read_text())
    from search.results.front import Outcome, pareto_front

    front = pareto_front([Outcome(**o) for o in trials["outcomes"]])
    assert front and not any(dominates(a, b) for a in front for b in front)
    (db,) = (root / "optuna").glob("*.db")
    study = optuna.load_study(study_name="demo-defects", storage=f"sqlite:///{db}")
    assert len(study.trials) == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials)
    assert len(study.directions) == 3, "map, fps and retention"
    assert sorted(o.point for o in front) == sorted(tuple(t.values) for t in study.best_trials)
    expected = compute_hypervolume(-np.array([t.values for t in study.best_trials]), np.zeros(3))
    assert np.isclose(parent.data.metrics["hypervolume"], expected)


def test_pareto_cli_and_export_load_back_and_predict(searched: tuple[Path, str, float], small_demo_root: Path,
                                                     tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root, _, _ = searched
    assert pareto.main(["--storage", str(root)]) == 0
    printed = capsys.readouterr().out
    assert "worldtune/four" in printed and "hypervolume" in printed and "comparison" in printed
    assert export.main(["--storage", str(root), "--space", "four", "--out", str(tmp_path)]) == 0
    (folder,) = tmp_path.iterdir()
    expected = {"config.py", "model.pth", "model.onnx", "class_texts.json", "metrics.json", "README.md"}
    assert expected <= {p.name for p in folder.iterdir()}
    # what a user does, in a fresh interpreter that never imports the search package
    check = (f"import sys; from trainables.exported import load_exported, predict\n"
             f"for rep in ({(folder / 'reparameterized').is_dir()}, False):\n"
             f"    model, cfg = load_exported({str(folder)!r}, reparameterized=rep)\n"
             f"    out = predict(model, cfg, {str(next((small_demo_root / 'demo-defects/images/val').iterdir()))!r})\n"
             f"    assert out['bboxes'].shape[1] == 4 and len(out['classes']) == len(out['scores'])\n"
             f"assert not any(m == 'search' or m.startswith('search.') for m in sys.modules), 'search imported'\n"
             f"import numpy, onnxruntime\n"
             f"session = onnxruntime.InferenceSession({str(folder / 'model.onnx')!r})\n"
             f"maps = session.run(None, {{'images': numpy.zeros((1, 3, 160, 160), numpy.float32)}})\n"
             f"assert len(maps) == 6 and maps[0].shape[:2] == (1, 6), [m.shape for m in maps]\n"
             f"print('predicted', len(out['scores']))")
    done = subprocess.run([sys.executable, "-c", check], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=os.environ | {"PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "predicted" in done.stdout


def test_the_printed_mlflow_links_open_on_the_trials_and_the_front(searched: tuple[Path, str, float],
                                                                   tmp_path: Path) -> None:
    """What a user does after a search: serve the store with the printed `mlflow ui` command, open
    the printed links in a fresh browser profile (MLflow's own default view), expand the dataset's
    parent run in the runs table and see every trial; open the front link and see the plot."""
    root, output, _ = searched
    links = dict(re.findall(r"^  (trials|front of [\w-]+):  (\S+)$", output, re.M))
    assert set(links) == {"trials", "front of demo-defects"}, output[-3000:]
    (serve,) = [line.split("#")[0].split() for line in output.splitlines() if "mlflow ui --backend-store-uri" in line]
    client = MlflowClient(default_tracking_uri(root))
    _, children = _runs(client, "four")
    trials = [f"trial {child.data.tags[TRIAL_TAG]}" for child in children]
    port = free_port()
    ui = start_process([str(Path(sys.executable).parent / "mlflow"), *serve[1:], "--port", str(port)],
                       dict(os.environ), tmp_path / "ui.log")
    here = lambda link: link.replace(LOCAL_UI, f"http://127.0.0.1:{port}")  # noqa: E731
    try:
        wait_for("mlflow ui", lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5).status
                 == 200, 120)
        with Browser(CHROMIUM, tmp_path / "profile") as browser:
            browser.open(here(links["trials"]))
            browser.wait_for_text(lambda page: "demo-defects (" in page and "Model training" in page, 90)
            browser.call("Runtime.evaluate", expression=EXPAND_PARENT_RUNS)
            text = browser.wait_for_text(lambda page: all(trial in page for trial in trials), 60)
            assert "No data available for the selected time range" not in text, "MLflow's GenAI overview"
            browser.open(here(links["front of demo-defects"]))
            browser.wait_for_text(lambda page: "pareto/front.png" in page, 60)
            shown = wait_for("the front's plot", lambda: browser.call(
                "Runtime.evaluate", expression=RENDERED_IMAGE_WIDTHS, returnByValue=True)["result"]["value"], 60)
    finally:
        stop_process(ui)
    assert max(shown) == 1440, f"front.png (1440 px wide: the retention panel beside) in the artifact view: {shown}"


EXPAND_PARENT_RUNS = ("document.querySelectorAll('[data-component-id$=\"runnamecellrenderer.tsx_46\"]')"
                      ".forEach(button => button.click())")
"""Click each parent run's `+` in MLflow's runs table, as a user does to see its child runs."""
RENDERED_IMAGE_WIDTHS = ("[...document.images].filter(i => i.src.startsWith('blob:') && i.complete)"
                         ".map(i => i.naturalWidth)")
"""Widths of the artifact images the page has loaded (MLflow shows an artifact from a blob URL)."""


def test_a_search_starts_from_the_model_an_earlier_search_recommended(searched: tuple[Path, str, float],
                                                                      tiny_clip_path: Path, tmp_path: Path,
                                                                      capsys) -> None:
    """`checkpoint: {search, dataset}`: fine-tune on one domain, then start the next search there."""
    from search.study.command import SearchRequest, run_search

    root, output, _ = searched
    (earlier,) = re.findall(r"\[worldtune\] search (\S+) \(four\) done", output)
    file = write_space(tmp_path, "next", tiny_clip_path)
    space = json.loads(file.read_text())
    space["model"]["checkpoint"] = {"search": earlier, "dataset": "demo-defects"}
    space["storage"]["root"] = str(root)
    file.write_text(json.dumps(space))
    assert run_search(SearchRequest(file, dry_run=True)) == 0
    printed = capsys.readouterr().out
    assert f"note: starting weights: the model search {earlier} recommended for demo-defects ({root}/train/" in printed
    (line,) = [line for line in printed.splitlines() if line.startswith("[worldtune] starting weights:")]
    loaded, total = re.search(r"\((\d+) of (\d+) class-independent\)", line).groups()
    assert loaded == total, line  # the head may differ (use_bn_head was searched), the rest loads

    space["model"]["checkpoint"] = {"search": "no-such-search", "dataset": "demo-defects"}
    file.write_text(json.dumps(space))
    assert run_search(SearchRequest(file, dry_run=True)) == 2
    assert "key 'model.checkpoint': no finished worldtune study matches" in capsys.readouterr().err


def test_the_next_search_it_wrote_loads_dry_runs_and_trains(searched: tuple[Path, str, float]) -> None:
    """The advisor's space file: named in the summary, every change commented, and it runs as it is."""
    root, output, _ = searched
    (written,) = root.glob("next-*.yaml")
    assert f"Next search (this one's findings applied, each change commented in the file):  " \
           f".venv/bin/python search/run.py --space {written}" in output
    text = written.read_text()
    assert text.startswith("# Written by worldtune after search ") and f"root: {root}" in text
    print(text)
    run = [sys.executable, str(ROOT / "search" / "run.py"), "--space", str(written)]
    dry = subprocess.run([*run, "--dry-run"], cwd=written.parent, capture_output=True, text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    trial = subprocess.run([*run, "--trials", "1"], cwd=written.parent, capture_output=True, text=True, timeout=600)
    assert trial.returncode == 0, trial.stderr[-3000:]
    assert re.search(r"\[worldtune\] search \S+ \(four\) done", trial.stdout)
    assert "dataset demo-defects: 1 trials, 1 ran their full budget" in trial.stdout, trial.stdout[-3000:]
