"""mlflow-penguins: one module per MLflow Projects entry point; pure ML logic in steps.ml."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent  # the project's root: MLproject, conda.yaml, steps/
