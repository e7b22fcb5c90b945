"""The model that serves every group's chosen clustering, logged as code: this file is the model's.

Raw rows in (the group column and the features), and per row: the group, the eps chosen for it
and the cluster label (-1: noise), as that group's own model labels it. Every group's core
samples are in one set of arrays (steps/ml/grouped_cores.py), copied into this model when it was
logged: what it serves is pinned then, loading it reads nothing from the tracking server and
takes the same time at any number of groups, and a batch is labelled in one pass however many
groups it meets. It needs numpy and pandas, not scikit-learn.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

from steps.ml.grouped_cores import GroupedCores

SHOWN_GROUPS = 5  # unknown groups named in an error
EXAMPLE_GROUPS = 3  # known groups given as examples
NAME_LENGTH = 24  # characters of a group or column name shown in an error


class BadRows(MlflowException):
    """Rows the router cannot label: one line, an HTTP 400 when served. Its message stays as written:
    MLflow's scoring server would put the whole request in front of it."""

    def __init__(self, message: str):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    def __setattr__(self, name, value):
        if name != "message" or "message" not in self.__dict__:
            super().__setattr__(name, value)


def cut(name: object) -> str:
    text = str(name)
    return text if len(text) <= NAME_LENGTH else text[: NAME_LENGTH - 1] + "…"


def shown(name: object) -> str:
    return repr(cut(name))


class GroupRouter(mlflow.pyfunc.PythonModel):
    """Artifacts: `routes` (JSON: `group_by`, `features`, `groups` in the arrays' order, and for each
    the reason it has no model, or "") and `cores` (the GroupedCores arrays)."""

    def load_context(self, context) -> None:
        routes = json.loads(Path(context.artifacts["routes"]).read_text())
        self.group_by, self.features = routes["group_by"], routes["features"]
        self.groups = pd.Index(routes["groups"], dtype=object)
        self.reasons = np.array(routes["reasons"], dtype=object)
        self.cores = GroupedCores.load(context.artifacts["cores"])

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = pd.DataFrame(model_input)
        numbers = self.group_numbers(rows)
        features = self.feature_values(rows)
        return pd.DataFrame(
            {
                "group": self.groups.to_numpy()[numbers],
                "eps": np.asarray(self.cores.eps)[numbers],
                "cluster": self.cores.label(features, numbers),
                "reason": self.reasons[numbers],
            }
        )

    def group_numbers(self, rows: pd.DataFrame) -> np.ndarray:
        """Each row's group, as its number in the arrays; BadRows for a missing column, value or unknown group."""
        needed = [self.group_by, *self.features]
        missing = [c for c in needed if c not in rows.columns]
        if missing:
            raise BadRows(
                f"missing column(s) {', '.join(map(shown, missing))}; every row needs {len(needed)}: "
                + ", ".join(map(shown, needed[:6]))
                + (", ..." if len(needed) > 6 else "")
            )
        values = rows[self.group_by]
        if (absent := values.isna().to_numpy()).any():
            raise BadRows(f"{cut(self.group_by)}: missing value at row {np.argmax(absent)} (of {len(rows)})")
        numbers = self.groups.get_indexer(values.astype(str))
        if (unknown := numbers < 0).any():
            raise BadRows(self.unknown_groups(pd.unique(values[unknown].astype(str))))
        return numbers

    def unknown_groups(self, unknown: np.ndarray) -> str:
        """At most 300 characters, however many groups are asked for or known."""
        named = ", ".join(map(shown, unknown[:SHOWN_GROUPS]))
        more = f" and {len(unknown) - SHOWN_GROUPS} more" if len(unknown) > SHOWN_GROUPS else ""
        examples = ", ".join(map(shown, self.groups[:EXAMPLE_GROUPS]))
        known = f"{len(self.groups)} groups, e.g. {examples}" if len(self.groups) > EXAMPLE_GROUPS else examples
        return f"{cut(self.group_by)}: unknown group(s) {named}{more}; this model knows {known}"

    def feature_values(self, rows: pd.DataFrame) -> np.ndarray:
        """The features as one float array; BadRows naming the first column with a value that is not a finite number."""
        columns = []
        for name in self.features:
            values = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=np.float64)
            if (bad := ~np.isfinite(values)).any():
                row = int(np.argmax(bad))
                given = rows[name].iloc[row]
                what = (
                    "missing value" if pd.isna(given) else "infinite value" if np.isinf(values[row]) else "not a number"
                )
                raise BadRows(f"{cut(name)}: {what} at row {row} (of {len(rows)}); every feature needs a finite number")
            columns.append(values)
        return np.column_stack(columns) if columns else np.zeros((len(rows), 0))


mlflow.models.set_model(GroupRouter())
