"""MLflow: the experiment and run layout (`experiment`), the trials' child runs (`trial_runs`),
writes that survive an outage (`outbox`), what a study publishes (`publish`), reading finished
studies back (`store`, `exporting`), comparisons (`comparison_run`) and links to the UI (`links`)."""
