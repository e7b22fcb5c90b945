"""The ML logic: data in, numbers, figures or models out. Nothing here knows MLflow or the CLI."""
