"""mlflow-penguins: one module per MLflow Projects entry point; pure ML logic in steps.ml."""
