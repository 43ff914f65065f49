"""Join a Ray cluster (`--address` or RAY_ADDRESS) or start a local one with its dashboard.

The local cluster's dashboard listens on 127.0.0.1 only; its URL is printed so it can be watched
while the search runs (it stops with the run). Since Ray 2.59 the dashboard asks for the token in
~/.ray/auth_token. Where the head keeps Ray's Prometheus and Grafana files, they are printed too.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from search.environment import worker_variables
from search.study.plan import Cluster

DASHBOARD_HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Connection:
    cluster: Cluster
    dashboard_url: str | None
    started_here: bool
    metrics: str | None = None    # where Prometheus/Grafana find Ray's metrics, when this node has them


def connect(address: str | None, *, worker_logs: bool = False) -> Connection:
    """Ray, initialised in this process: joined when an address is known, else started locally.

    The trials' stdout and stderr reach this console only with `worker_logs`: each trial keeps its
    full log in its work dir and on the dashboard, and the search prints a line per epoch instead
    (`search/study/progress.py`)."""
    import ray

    runtime_env = {"env_vars": worker_variables()}
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        context = ray.init(address=address, configure_logging=False, log_to_driver=worker_logs,
                           runtime_env=runtime_env)
    else:
        # The trials import this checkout (trainables/), wherever the command was started from.
        job = ray.job_config.JobConfig(code_search_path=[str(PROJECT_ROOT)])
        context = ray.init(include_dashboard=True, dashboard_host=DASHBOARD_HOST, configure_logging=False,
                           log_to_driver=worker_logs, job_config=job, runtime_env=runtime_env)
    url = context.dashboard_url
    if url and not url.startswith("http"):
        url = f"http://{url}"
    return Connection(cluster=Cluster.from_ray(), dashboard_url=url, started_here=not address,
                      metrics=metrics_hint(Path(ray._private.worker.global_worker.node.get_session_dir_path())))


def metrics_hint(session_dir: Path) -> str | None:
    """Ray writes a Prometheus config and its scrape targets, and Grafana dashboards, into the
    head's session folder; the dashboard's graphs need RAY_PROMETHEUS_HOST / RAY_GRAFANA_HOST."""
    prometheus = session_dir / "metrics" / "prometheus" / "prometheus.yml"
    if not prometheus.is_file():
        return None
    grafana = os.environ.get("RAY_GRAFANA_HOST") or f"not set: provisioning in {session_dir / 'metrics' / 'grafana'}"
    return (f"Prometheus config {prometheus} (scrape targets {session_dir / 'prom_metrics_service_discovery.json'}; "
            f"`ray metrics launch-prometheus` starts one), Grafana {grafana}")
