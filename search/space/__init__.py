"""The space file: its schema (`schema`), loading and checks against the trial parameters
(`loading`), and the Optuna distributions it becomes (`distributions`)."""
