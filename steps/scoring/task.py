"""The task side of `score`: a Spark task's Arrow batches, scored by a model each Python worker loads once.

Runs in Spark tasks (`mapInPandas`). The model is loaded by its pinned URI from the tracking
server the closure names, never from the executor's environment, and kept for the worker's
later tasks.
"""

from __future__ import annotations

import threading

from steps.ml.row_checks import row_problems
from steps.ml.scoring import REASON, ROWS_PER_PREDICT, ModelInputs, joined, score_batch

_models: dict[tuple[str, str], object] = {}  # (tracking URI, model URI) -> the loaded pyfunc model
_loading = threading.Lock()


def loaded(tracking_uri: str, model_uri: str):
    with _loading:
        if (tracking_uri, model_uri) not in _models:
            import mlflow

            from steps.tracking.server import telemetry_off_unless_asked

            telemetry_off_unless_asked()
            mlflow.set_tracking_uri(tracking_uri)
            _models[tracking_uri, model_uri] = mlflow.pyfunc.load_model(model_uri)
        return _models[tracking_uri, model_uri]


def batch_scorer(tracking_uri: str, model_uri: str, inputs: ModelInputs):
    """The function for `mapInPandas`: each batch, every row and its columns, then the answer and its reason."""

    def score(batches):
        model = loaded(tracking_uri, model_uri)
        for batch in joined(batches, ROWS_PER_PREDICT):
            yield score_batch(model.predict, batch, inputs)

    return score


def row_checker(inputs: ModelInputs):
    """The function for `mapInPandas`: each batch with its rows' REASON ('' for a row the model can take)."""

    def check(batches):
        for batch in batches:
            yield batch.assign(**{REASON: row_problems(batch, inputs.numeric, inputs.text, inputs.categories)})

    return check
