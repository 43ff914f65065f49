#!/usr/bin/env bash
# MLflow tracking server for a worldtune cluster, run on the head (the search driver, which logs
# every trial, runs there too). It binds to 127.0.0.1: open it through the SSH tunnel or
# `kubectl port-forward` (docs/cluster.md), never from the internet. Runs in the foreground.
#
# usage: cluster/mlflow-server.sh DIR
#   DIR: the server's folder on shared storage (default backend database and artifact root)
# env:   MLFLOW_BACKEND_STORE_URI (default sqlite:///DIR/mlflow.db; a PostgreSQL URL such as
#        postgresql://user:pass@db:5432/mlflow for a managed database), MLFLOW_HOST (127.0.0.1),
#        MLFLOW_PORT (5000), MLFLOW_WORKERS (2)
set -euo pipefail
DIR=${1:?usage: cluster/mlflow-server.sh DIR}
mkdir -p "$DIR/artifacts"
export MLFLOW_DISABLE_TELEMETRY=true
BACKEND=${MLFLOW_BACKEND_STORE_URI:-sqlite:///$(cd "$DIR" && pwd)/mlflow.db}
echo "[worldtune] MLflow server on http://${MLFLOW_HOST:-127.0.0.1}:${MLFLOW_PORT:-5000} (backend ${BACKEND%%:*}, artifacts $DIR/artifacts)"
exec mlflow server --host "${MLFLOW_HOST:-127.0.0.1}" --port "${MLFLOW_PORT:-5000}" \
    --workers "${MLFLOW_WORKERS:-2}" --backend-store-uri "$BACKEND" --default-artifact-root "$DIR/artifacts"
