"""Routers of many groups logged without a sweep's minutes, for the tests and benchmarks that need one."""

from __future__ import annotations

from collections.abc import Sequence

import mlflow
import pandas as pd


def log_router_of(table: pd.DataFrame, group_by: str, features: Sequence[str], eps: float, experiment: str) -> str:
    """A router over every group of `table`, each group's model fitted here at `eps` (min_samples 3), logged by the
    sweep's own `log_router` in a new run of `experiment`: a router of a thousand groups without a sweep's minutes.
    Returns its URI."""
    from steps.ml import clustering
    from steps.sweep.config import SweepConfig
    from steps.sweep.router import log_router

    chosen = [
        {"group": group, "eps": eps, "cores": clustering.group_cores(clustering.fit_model(rows, eps, 3)).to_bytes()}
        for group, rows in table.groupby(group_by, sort=True)[list(features)]
    ]
    experiment_id = mlflow.MlflowClient().create_experiment(experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="router") as run:
        config = SweepConfig(
            mlflow.get_tracking_uri(), experiment_id, run.info.run_id, group_by, tuple(features), (eps,), 3, "s_dbw", ()
        )
        return log_router(pd.DataFrame(chosen), table, config)
