"""The data set as an MLflow dataset input."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence

import mlflow
from mlflow.entities import DatasetInput
from mlflow.tracking import MlflowClient

from steps.ml.data import Table, content_digest


@functools.lru_cache(maxsize=1)
def dataset_input(table: Table) -> mlflow.data.Dataset:
    """The cleaned table as an MLflow dataset: its source and a digest of its content.

    Built once per table: run_step logs it, and main and tune_body_mass use it again. A table read
    where it is used (no frame): its source and a digest of its files' bytes.
    """
    if table.frame is None:
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways")
            source = resolve_dataset_source(table.source)
        return MetaDataset(source, name=table.name, digest=content_digest(table.source)[:32])
    with warnings.catch_warnings():
        # MLflow registers its local-file source class twice and says so; the *_encoded codes
        # are integers by design (never missing after cleaning). Neither is news to the user.
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted in multiple ways")
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column")
        dataset = mlflow.data.from_pandas(table.frame, source=table.source, name=table.name)
        _ = dataset.schema  # computed (and cached) now, under these filters
    return dataset


def log_dataset_to(run_ids: Sequence[str], dataset: mlflow.data.Dataset) -> None:
    """Record `dataset` as a training input of runs that MLflow created for us (autolog children)."""
    client = MlflowClient()
    entity = DatasetInput(
        dataset._to_mlflow_entity(), tags=[mlflow.entities.InputTag("mlflow.data.context", "training")]
    )
    for run_id in run_ids:
        client.log_inputs(run_id, datasets=[entity])
