"""Links into MLflow's web UI: the runs table of an experiment, a run, one of its artifacts
(a study's front plot).

MLflow 3 has two views of an experiment, GenAI (traces) and model training (runs), and a fresh
browser opens the GenAI one whatever the experiment is; `workflowType=machine_learning` in the
link selects the runs view, so every link opens on the trials and the front.
"""
from __future__ import annotations

from urllib.parse import quote, urlsplit

LOCAL_UI = "http://127.0.0.1:5000"
"""Where the `mlflow ui` command that the summary prints serves a SQLite store (its default port)."""
RUNS_VIEW = "workflowType=machine_learning"
FRONT_PLOT = "pareto/front.png"
"""The front's plot on a study's parent run (search/tracking/publish.py writes it): what a link opens."""


def ui_base(tracking_uri: str) -> str:
    """The UI of a tracking server is the server itself; a file store is served by `mlflow ui`."""
    parts = urlsplit(tracking_uri)
    if parts.scheme in ("http", "https"):
        host = parts.hostname + (f":{parts.port}" if parts.port else "")  # never the credentials
        return f"{parts.scheme}://{host}{parts.path.rstrip('/')}"
    return LOCAL_UI


def runs_table(base: str, experiment_id: str) -> str:
    return f"{base}/#/experiments/{experiment_id}/runs?{RUNS_VIEW}"


def run_page(base: str, experiment_id: str, run_id: str, artifact: str | None = None) -> str:
    """The run's page, or the artifact browser opened on `artifact` (a path inside the run)."""
    tail = f"/artifactPath/{quote(artifact)}" if artifact else ""
    return f"{base}/#/experiments/{experiment_id}/runs/{run_id}{tail}?{RUNS_VIEW}"
