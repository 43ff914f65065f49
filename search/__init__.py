"""worldtune's search service: space files, dataset checks, the Tuner, MLflow and the Pareto front."""
import os

# Before any module of the package imports MLflow: it would write a telemetry file under ~/.config.
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
