"""mlflow-penguins: one module per MLflow Projects entry point; pure ML logic in steps.ml."""

from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent  # the project's root: MLproject, conda.yaml, steps/


def declared_parameters(project: Path = PROJECT) -> dict[str, dict[str, str]]:
    """Entry point -> the parameters MLproject declares for it, each with its default as text.

    Here, beside PROJECT, so that reading MLproject imports nothing heavy: `main` and the
    Databricks launcher read it before any step's imports (see steps/shared_params.py)."""
    import yaml

    entry_points = yaml.safe_load((project / "MLproject").read_text())["entry_points"]
    return {
        name: {param: str(spec.get("default", "")) for param, spec in entry_point.get("parameters", {}).items()}
        for name, entry_point in entry_points.items()
    }
