"""mlflow-penguins: one module per MLflow Projects entry point; pure ML logic in steps.ml."""

import gc
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent  # the project's root: MLproject, conda.yaml, steps/

# A step started as a program (`python -m steps.<step>`, as MLproject runs it, or Spark's
# Python daemon) first imports MLflow, pandas, scikit-learn or PySpark: millions of objects
# that live as long as the process. The cyclic GC would walk them again and again while they
# load, about a fifth of a scikit-learn step's CPU (measured: 8.3 -> 6.5 core-s). So it is
# paused from here, while Python locates that module (sys.argv[0] is then "-m", as the docs
# of -m say), until the program calls imports_done().
_gc_paused = sys.argv[:1] == ["-m"]
if _gc_paused:
    gc.disable()


def imports_done() -> None:
    """Resume the GC paused above, leaving out everything loaded so far (gc.freeze); else a no-op."""
    global _gc_paused
    if _gc_paused:
        gc.freeze()
        gc.enable()
        _gc_paused = False


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
