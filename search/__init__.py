"""worldtune's search service: space files, dataset checks, the Tuner, MLflow and the Pareto front.

Laid out by job: `space/` (the space file), `datasets/`, `study/` (plan, Tuner, the run), `tracking/`
(MLflow), `results/` (front, analysis, summary); docs/architecture.md walks through them.
"""
