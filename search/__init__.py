"""worldtune's search service: space files, dataset checks, the Tuner, MLflow and the Pareto front."""
