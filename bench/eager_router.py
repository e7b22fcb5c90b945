"""The baseline of bench/serve_router.py: the eager router this project served before, logged as code.

Every group's chosen model (its skops file, copied into one zip when the router was logged) is
loaded by load_context, and predict calls each model a batch meets in turn. Kept as it was, but
this docstring; steps/sweep/router_model.py replaced it.
"""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException


class GroupRouter(mlflow.pyfunc.PythonModel):
    """Artifacts: `routes` (JSON: `group_by`, `features`, `groups`: each group's eps or the reason it
    has none and its file in `models`, and the one class of ours skops must trust) and `models`
    (a zip of each chosen model's skops file)."""

    def load_context(self, context) -> None:
        import zipfile

        import skops.io

        routes = json.loads(Path(context.artifacts["routes"]).read_text())
        self.group_by, self.features, self.groups = routes["group_by"], routes["features"], routes["groups"]
        with zipfile.ZipFile(context.artifacts["models"]) as zipped:
            self.models = {
                group: skops.io.loads(zipped.read(route["model"]), trusted=routes["trusted_types"])
                for group, route in self.groups.items()
                if route["model"]
            }

    def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
        rows = pd.DataFrame(model_input)
        missing = [c for c in (self.group_by, *self.features) if c not in rows.columns or rows[c].isna().any()]
        if missing:
            raise MlflowException.invalid_parameter_value(
                f"missing value(s) in column(s) {', '.join(missing)}: every row needs {self.group_by} "
                f"and {', '.join(self.features)}"
            )
        groups = rows[self.group_by].astype(str)
        unknown = sorted(set(groups) - set(self.groups))
        if unknown:
            raise MlflowException.invalid_parameter_value(
                f"{self.group_by}: unknown group(s) {', '.join(map(repr, unknown[:5]))}; "
                f"this model knows {', '.join(map(repr, sorted(self.groups)))}"
            )
        eps = groups.map(lambda g: self.groups[g]["eps"]).astype("float64")
        answer = pd.DataFrame(
            {
                "group": groups,
                "eps": eps,
                "cluster": np.int64(-1),
                "reason": groups.map(lambda g: self.groups[g]["reason"]),
            },
            index=rows.index,
        )
        for name, where in groups.groupby(groups).groups.items():
            if name in self.models:
                answer.loc[where, "cluster"] = self.models[name].predict(rows.loc[where, self.features])
        return answer.reset_index(drop=True)


mlflow.models.set_model(GroupRouter())
