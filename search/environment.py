"""The process settings of a worldtune command: made once by each entry point, not at import.

`configure()` sets what the search driver needs (MLflow without telemetry and with short HTTP
retries, Tune accepting a diverged trial's metric-less report) before it imports MLflow or starts
Ray; `worker_variables()` are the ones Ray's processes need too (Train's health-check interval,
no Hugging Face downloads), handed to every worker through the job's runtime environment
(search/study/cluster.py), so they hold on a joined cluster as on a local one. A value the user
already set is kept.
"""
from __future__ import annotations

import json
import os

WORKER_VARIABLES = {
    "HF_HUB_OFFLINE": "1",                     # nothing is downloaded at run time
    # Train tears a trial's worker group down after its last health check: poll often (~7 s less
    # per trial on a small machine). Read by Ray Train's controller, a Ray actor.
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
}
DRIVER_VARIABLES = WORKER_VARIABLES | {
    "MLFLOW_DISABLE_TELEMETRY": "true",        # MLflow would write a telemetry file under ~/.config
    # A diverged trial's last report has no metrics: Tune (in the driver) must not reject it.
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",
    # A dead MLflow server must not stall Tune's event loop for minutes (MLflow's defaults: 7
    # retries with exponential backoff, 120 s timeout): fail fast, the outbox retries later anyway.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}


def configure() -> None:
    """Set the driver's variables this process lacks (call before importing MLflow or Ray)."""
    for name, value in DRIVER_VARIABLES.items():
        os.environ.setdefault(name, value)


def worker_variables() -> dict[str, str]:
    """The variables Ray's workers get, as this process has them (the user's values win). Those
    a submitted job's own runtime environment sets are left to it: Ray refuses to merge the two
    when they name the same variable."""
    job = json.loads(os.environ.get("RAY_JOB_CONFIG_JSON_ENV_VAR") or "{}")
    taken = (job.get("runtime_env") or {}).get("env_vars") or {}
    return {name: os.environ.get(name, value) for name, value in WORKER_VARIABLES.items() if name not in taken}
