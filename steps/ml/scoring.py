"""Scoring a batch of rows with any model: the rows it can score answered, the others kept with their reason. No
MLflow, no Spark: the model comes as its `predict` function.

A batch keeps every row and its columns; the model's answer (`answer` columns) and a `reason`
follow. A row with a problem row_checks finds is not given to the model; a row the model
itself fails on (an error for its batch) is found by halving the batch until the rows that fail
are alone, and gets the error's first line as its reason. So one bad row never fails a job, and
a clean batch costs one `predict` call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from steps.ml.row_checks import as_numbers, row_problems

REASON = "reason"
PREDICTION = "prediction"  # the answer's column for a model with one output
REASON_LENGTH = 300
ROWS_PER_PREDICT = 100_000  # Spark's Arrow batches (10,000 rows) joined: the router pays per group met, per call


@dataclass(frozen=True)
class ModelInputs:
    """What a model takes: its columns by kind, the categories of its text columns, the columns of its answer."""

    numeric: tuple[str, ...]
    text: tuple[str, ...]
    answer: Mapping[str, str]  # the answer's columns, REASON last, each with its kind: string, double, long, boolean
    categories: Mapping[str, Sequence[str]] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)  # for predict: the router answers bad rows itself

    @property
    def columns(self) -> tuple[str, ...]:
        return (*self.text, *self.numeric)

    @property
    def key(self) -> str:
        """The answer's own column, empty for a row left unscored: `prediction`, or the router's `cluster`."""
        return [name for name in self.answer if name != REASON][-1]


def model_input(rows: pd.DataFrame, inputs: ModelInputs) -> pd.DataFrame:
    """The model's columns of `rows`, numbers as float64 and text as str (rows that passed row_problems)."""
    columns = {name: rows[name].astype(str) for name in inputs.text}
    columns |= {name: as_numbers(rows[name]) for name in inputs.numeric}
    return pd.DataFrame(columns, index=rows.index).loc[:, list(inputs.columns)]


PANDAS_TYPES = {"string": object, "double": "float64", "long": "Int64", "boolean": "boolean"}


def as_answer(predicted, index: pd.Index, columns: Sequence[str]) -> pd.DataFrame:
    """A model's output (a frame, a series or an array) as a frame of the answer's columns, on `index`."""
    if isinstance(predicted, pd.DataFrame) and len(columns) > 2:
        frame = predicted.reset_index(drop=True).set_axis(index)
        return frame.loc[:, list(columns)]
    values = predicted.iloc[:, 0] if isinstance(predicted, pd.DataFrame) else predicted
    return pd.DataFrame({PREDICTION: np.asarray(values), REASON: ""}, index=index)


def first_line(error: BaseException) -> str:
    line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return line if len(line) <= REASON_LENGTH else line[: REASON_LENGTH - 1] + "…"


def predict_halving(predict: Callable, rows: pd.DataFrame, columns: Sequence[str]) -> list[pd.DataFrame]:
    """`predict(rows)` as answer frames; where it raises, each half again, down to single rows, which answer
    nothing but the error."""
    try:
        return [as_answer(predict(rows), rows.index, columns)]
    except Exception as error:
        if len(rows) == 1:
            return [pd.DataFrame({REASON: [first_line(error)]}, index=rows.index)]
        half = len(rows) // 2
        return predict_halving(predict, rows.iloc[:half], columns) + predict_halving(predict, rows.iloc[half:], columns)


def joined(batches: Iterable[pd.DataFrame], rows: int) -> Iterator[pd.DataFrame]:
    """Consecutive batches joined into frames of at least `rows` rows (the last may hold fewer)."""
    held: list[pd.DataFrame] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += len(batch)
        if count >= rows:
            yield pd.concat(held, ignore_index=True)
            held, count = [], 0
    if held:
        yield pd.concat(held, ignore_index=True)


def score_batch(predict: Callable, batch: pd.DataFrame, inputs: ModelInputs) -> pd.DataFrame:
    """Every row of `batch` as it is, then the model's answer (empty where it has none) and its reason."""
    batch = batch.reset_index(drop=True)
    reasons = row_problems(batch, inputs.numeric, inputs.text, inputs.categories)
    good = reasons == ""
    answers = [pd.DataFrame({REASON: reasons[~good]}, index=batch.index[~good])]
    if good.any():
        rows = model_input(batch.loc[good], inputs)
        answers += predict_halving(lambda part: predict(part, **call_params(inputs)), rows, list(inputs.answer))
    answer = pd.concat(answers).reindex(index=batch.index, columns=list(inputs.answer))
    answer[REASON] = answer[REASON].fillna("")
    for name, kind in inputs.answer.items():
        values = answer[name]
        if kind == "string":
            answer[name] = values.astype(object).where(values.notna(), None)
        else:
            answer[name] = values.astype(PANDAS_TYPES[kind])
    return pd.concat([batch, answer], axis=1)


def call_params(inputs: ModelInputs) -> dict:
    return {"params": dict(inputs.params)} if inputs.params else {}
