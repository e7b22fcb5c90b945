"""Logging scikit-learn models: explicit requirements, signature and input example from raw rows."""

from __future__ import annotations

from importlib.metadata import version

import mlflow


def pinned(*distributions: str) -> list[str]:
    """`name==version` of installed distributions: explicit pip requirements for log_model.

    Passing them skips MLflow's requirement inference, which costs seconds per model.
    """
    return [f"{name}=={version(name)}" for name in ("mlflow", *distributions)]


SKLEARN_REQUIREMENTS = ("scikit-learn", "skops", "numpy", "pandas", "scipy")


def log_sklearn_model(model, name: str, example) -> str:
    """Log a fitted scikit-learn model as the active run's model `name`, tag its URI, return it.

    Signature and input example from `example` (raw rows); skops format; pinned requirements.
    """
    from mlflow.models import infer_signature

    info = mlflow.sklearn.log_model(
        model,
        name=name,
        signature=infer_signature(example, model.predict(example)),
        input_example=example,
        pip_requirements=pinned(*SKLEARN_REQUIREMENTS),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
    )
    mlflow.set_tag("model_uri", info.model_uri)
    return info.model_uri
