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
from steps.ml.row_checks import as_numbers, row_problems

SHOWN_GROUPS = 5  # unknown groups named in an error
EXAMPLE_GROUPS = 3  # known groups given as examples
NAME_LENGTH = 24  # characters of a group or column name shown in an error
PROBLEM_LENGTH = 200  # characters of a bad row's problem shown in an error (its column's name may be long)
BAD_ROWS, REFUSE, ANSWER = "bad_rows", "refuse", "answer"  # the predict param, and what it may be


class BadRows(MlflowException):
    """Rows the router cannot label: one line, an HTTP 400 when served. Its message stays as written:
    MLflow's scoring server would put the whole request in front of it."""

    def __init__(self, message: str):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    def __setattr__(self, name, value):
        if name != "message" or "message" not in self.__dict__:
            super().__setattr__(name, value)


def cut(name: object, length: int = NAME_LENGTH) -> str:
    text = str(name)
    return text if len(text) <= length else text[: length - 1] + "…"


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
        """`params` {"bad_rows": "answer"}: a row that cannot be labelled gets an empty cluster and its reason;
        by default ("refuse") any such row refuses the whole batch (BadRows)."""
        rows = pd.DataFrame(model_input)
        self.check_columns(rows)
        problems = row_problems(rows, self.features, [self.group_by])
        numbers = self.groups.get_indexer(rows[self.group_by].astype(str))
        unknown = (numbers < 0) & (problems == "")
        problems[unknown] = f"{self.group_by}: unknown group"
        good = problems == ""
        if not good.all() and bad_rows(params) == REFUSE:
            raise BadRows(self.refusal(rows, problems, unknown))
        labels = self.cores.label(
            np.column_stack([as_numbers(rows.loc[good, f]) for f in self.features]), numbers[good]
        )
        if good.all():
            cluster = labels
        else:
            cluster = pd.array(np.full(len(rows), pd.NA), dtype="Int64")
            cluster[good] = labels
        eps, reasons = np.full(len(rows), np.nan), problems.copy()
        eps[good], reasons[good] = self.cores.eps[numbers[good]], self.reasons[numbers[good]]
        given = rows[self.group_by]
        group = given.astype(str).where(given.notna(), None).to_numpy(dtype=object)
        return pd.DataFrame({"group": group, "eps": eps, "cluster": cluster, "reason": reasons})

    def check_columns(self, rows: pd.DataFrame) -> None:
        needed = [self.group_by, *self.features]
        missing = [c for c in needed if c not in rows.columns]
        if missing:
            raise BadRows(
                f"missing column(s) {', '.join(map(shown, missing))}; every row needs {len(needed)}: "
                + ", ".join(map(shown, needed[:6]))
                + (", ..." if len(needed) > 6 else "")
            )

    def refusal(self, rows: pd.DataFrame, problems: np.ndarray, unknown: np.ndarray) -> str:
        """The first bad row's problem and position, or, for an unknown group, which groups are unknown:
        at most 300 characters, however many groups are asked for or known."""
        first = int(np.flatnonzero(problems != "")[0])
        if not unknown[first]:
            return f"{cut(problems[first], PROBLEM_LENGTH)} at row {first} (of {len(rows)})"
        asked = pd.unique(rows.loc[unknown, self.group_by].astype(str))
        named = ", ".join(map(shown, asked[:SHOWN_GROUPS]))
        more = f" and {len(asked) - SHOWN_GROUPS} more" if len(asked) > SHOWN_GROUPS else ""
        examples = ", ".join(map(shown, self.groups[:EXAMPLE_GROUPS]))
        known = f"{len(self.groups)} groups, e.g. {examples}" if len(self.groups) > EXAMPLE_GROUPS else examples
        return f"{cut(self.group_by)}: unknown group(s) {named}{more}; this model knows {known}"


def bad_rows(params: dict | None) -> str:
    choice = (params or {}).get(BAD_ROWS, REFUSE)
    if choice not in (REFUSE, ANSWER):
        raise BadRows(f"{BAD_ROWS}: must be {REFUSE} or {ANSWER}, got {shown(choice)}")
    return choice


mlflow.models.set_model(GroupRouter())
