"""Logging scikit-learn models: explicit requirements, signature and input example from raw rows."""

from __future__ import annotations

from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path

import mlflow


def pinned(*distributions: str) -> list[str]:
    """`name==version` of installed distributions: explicit pip requirements for log_model.

    Passing them skips MLflow's requirement inference, which costs seconds per model.
    """
    return [f"{name}=={version(name)}" for name in ("mlflow", *distributions)]


SKLEARN_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "pandas", "scipy")
CATEGORIES = "categories"  # a model's metadata: each text input's allowed values
HELDOUT_ROWS = "heldout_rows.parquet"  # a supervised step's held-out rows, raw: the registry judges models on them


def log_sklearn_model(model, name: str, example, categories: dict[str, list[str]]) -> str:
    """Log a fitted scikit-learn model as the active run's model `name`, tag its URI, return it.

    Signature and input example from `example` (raw rows); skops format; pinned requirements; the
    categories each text input may take in its metadata (what `score` checks rows against).
    """
    from mlflow.models import infer_signature

    info = mlflow.sklearn.log_model(
        model,
        name=name,
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=pinned(*SKLEARN_REQUIREMENTS),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
        metadata={CATEGORIES: categories},
    )
    mlflow.set_tag("model_uri", info.model_uri)
    return info.model_uri


def carried_code(directory: Path, *modules: str) -> list[str]:
    """`code_paths` that carry these modules of ours (`steps.ml.dbscan`, ...) with a logged model.

    Each file goes under its package folders without their __init__ files: where the project
    is not importable (a serving host), `steps` is then a namespace package of just these
    files; where it is, the project's own package is imported and these files are unused."""
    for module in modules:
        target = directory.joinpath(*module.split(".")).with_suffix(".py")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(find_spec(module).loader.get_source(module))  # also from a zip Spark shipped
    return sorted({str(directory / module.split(".")[0]) for module in modules})
