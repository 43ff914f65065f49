"""Security defaults: secrets are masked in what worldtune logs and prints, a password in the MLflow
URI moves to MLflow's credential variables, and the MLflow UI command worldtune prints serves on
127.0.0.1 only. (The dashboard of a running search, and secrets across a whole search's output,
logs and stores: tests/search/tracking/test_faults_mlflow.py.)"""
from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from search.redact import MASK, credentials_to_environment, redact
from search.results.closing import format_closing
from search.space.loading import load_space
from search.study.plan import Cluster, make_plan
from tests.browser import listening_hosts

pytestmark = pytest.mark.slow  # starts the MLflow UI and a search


ENV = {"HF_TOKEN": "hf_abcdef123456", "DB_PASSWORD": "hunter2hunter2", "MY_API_KEY": "k-998877",
       "PATH_LIKE": "not-a-secret-value", "SHORT_TOKEN": "1"}


@pytest.mark.parametrize("text, expected", [
    ("https://bob:s3cr3t@mlflow.example.com/x", f"https://bob:{MASK}@mlflow.example.com/x"),
    ("postgresql://me:pa55@db:5432/mlflow", f"postgresql://me:{MASK}@db:5432/mlflow"),
    ("s3://bucket/k?X-Amz-Signature=abc123&x=1", f"s3://bucket/k?X-Amz-Signature={MASK}&x=1"),
    ("https://h/p?token=abc&sig=def&keep=1", f"https://h/p?token={MASK}&sig={MASK}&keep=1"),
    ("loading with hf_abcdef123456 and hunter2hunter2", f"loading with {MASK} and {MASK}"),
    ("key k-998877 here", f"key {MASK} here"),
    ("not-a-secret-value stays, and so does 1", "not-a-secret-value stays, and so does 1"),
    ("http://127.0.0.1:5000 has no password", "http://127.0.0.1:5000 has no password"),
])
def test_redact_masks_url_passwords_secret_query_values_and_secret_environment_values(text: str,
                                                                                    expected: str) -> None:
    assert redact(text, ENV) == expected


def test_a_password_in_the_mlflow_uri_moves_to_mlflows_credential_variables(monkeypatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD", raising=False)
    assert credentials_to_environment("https://bob:s3cr3t@mlflow.example.com:8443/p") == \
        "https://mlflow.example.com:8443/p"
    assert (os.environ["MLFLOW_TRACKING_USERNAME"], os.environ["MLFLOW_TRACKING_PASSWORD"]) == ("bob", "s3cr3t")
    assert credentials_to_environment("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert "s3cr3t" not in redact("login s3cr3t"), "the moved password is then masked like any secret"


def _printed_mlflow_ui_command(folder: Path, clip: Path) -> list[str]:
    space = folder / "space.yaml"
    space.write_text(json.dumps({"datasets": ["demo-defects"], "model": {"text_encoder": str(clip)},
                                 "storage": {"root": str(folder / "runs")}}))
    plan = make_plan(load_space(space), Cluster(cpus=2, gpus=0), "sec-1")
    (line,) = [text for text in format_closing(plan, [], None).splitlines() if "mlflow ui" in text]
    command = shlex.split(line.split("#")[0])
    return [sys.executable, "-m", "mlflow", *command[1:]]


def test_the_printed_mlflow_ui_command_serves_on_localhost_only(tmp_path: Path, tiny_clip_path: Path,
                                                               small_demo_root: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLDTUNE_DATA_DIR", str(small_demo_root))
    command = _printed_mlflow_ui_command(tmp_path, tiny_clip_path)
    assert "--host" not in command, "worldtune relies on MLflow's default host"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "ui.log"
    with log.open("w") as stream:
        ui = subprocess.Popen(command + ["--port", str(port)], cwd=tmp_path, stdout=stream, stderr=stream,
                              start_new_session=True)
    try:
        hosts: set[str] = set()
        deadline = time.monotonic() + 120
        while not hosts and time.monotonic() < deadline and ui.poll() is None:
            time.sleep(0.5)
            # uvicorn's parent binds the socket, its worker processes listen on it once started
            hosts = listening_hosts(port, states=("0A", "07"))
        assert hosts == {"127.0.0.1"}, log.read_text()[-2000:]
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(timeout=60)
