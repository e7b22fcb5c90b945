"""Logging models (scikit-learn: explicit requirements, signature and input example from raw rows), the rows a
supervised step held out, and MLflow's standard evaluation of its model on them."""

from __future__ import annotations

import contextlib
import logging
import tempfile
import warnings
from importlib.metadata import version
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

import mlflow

if TYPE_CHECKING:
    import pandas as pd


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


HELDOUT_ROWS = "heldout_rows.parquet"  # a supervised step's held-out rows, at its run's root
HELDOUT_DATASET = "heldout_rows"  # their name as the dataset input of the evaluation


def log_heldout_rows(rows: pd.DataFrame) -> None:
    """Log the rows a supervised step held out from training as the active run's `heldout_rows.parquet`.

    Raw columns as in the data set: the model's features and its target. A challenger and the
    champion can both be scored on them."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, HELDOUT_ROWS)
        rows.to_parquet(path, index=False)
        mlflow.log_artifact(str(path))


def evaluate_model(model_uri: str, rows: pd.DataFrame, target: str, model_type: str, source: str, **config) -> None:
    """`mlflow.models.evaluate` of a logged model on the held-out rows (`target` their label column).

    Logs MLflow's standard metrics and plots for `model_type` ("classifier", "regressor") on the active run,
    linked to the model, and the rows as the dataset input `heldout_rows` (from `source`). `config`: more of
    the default evaluator's settings (`pos_label`, ...). No SHAP explanations: shap is not a dependency."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways")
        dataset = mlflow.data.from_pandas(rows, source=source, targets=target, name=HELDOUT_DATASET)
    with _quiet("mlflow.models.evaluation", "mlflow.tracking.fluent"):
        mlflow.models.evaluate(
            model_uri, dataset, model_type=model_type, evaluator_config={"log_model_explainability": False, **config}
        )


@contextlib.contextmanager
def _quiet(*loggers: str):
    """These loggers' INFO lines held back (what evaluate infers and sets, four lines a step); warnings shown."""
    levels = {name: logging.getLogger(name).level for name in loggers}
    for name in loggers:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


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
