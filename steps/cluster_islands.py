"""Entry point `cluster_islands`: a DBSCAN sweep over eps for each group (island), on Spark.

Three levels of runs, as the tutorial intends: this run is the job; under it one run per
group; under each group one run per eps (`Biscoe-eps0.5`) with its metrics and, as
`log_models` says, its model. The sweep's results also come back as a table, so nothing
needs the UI. It takes the penguins by default, or any table with a group column and
numeric features.

    mlflow run . -e cluster_islands --env-manager local -P eps=0.5
    mlflow run . -e cluster_islands --env-manager local -P group_by=species -P select_by=silhouette
    mlflow run . -e cluster_islands --env-manager local -P data=sites.csv -P group_by=site -P features=x,y
    python -m steps.cluster_islands --eps 0.3,0.5,0.7
"""

from __future__ import annotations

import os
import tempfile

import mlflow
import pandas as pd
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT

from steps.cli.params import Param, column_names, invalid
from steps.cli.shared_params import EPS, GROUP_BY, LOG_MODELS, MIN_SAMPLES, SELECT_BY
from steps.ml import clustering
from steps.ml.data import MEASUREMENTS, load_any_table
from steps.spark.session import SPARK_MASTER, executor_environment, spark_session
from steps.sweep.config import SweepConfig
from steps.sweep.driver import run_sweep
from steps.sweep.router import log_router
from steps.sweep.task import worker_imports
from steps.tracking.models import SKLEARN_REQUIREMENTS, pinned
from steps.tracking.runner import run_step
from steps.tracking.server import absolute_tracking_uri

PARAMS = (
    EPS,
    MIN_SAMPLES,
    GROUP_BY,
    Param("features", ",".join(MEASUREMENTS), column_names, "numeric columns to cluster on"),
    SELECT_BY,
    LOG_MODELS,
    SPARK_MASTER,
)
# Test-only: makes the first attempt of every Spark task fail after it has logged.
FAULT_SWITCH = "MLFLOW_PENGUINS_TEST_FAIL_FIRST_ATTEMPT"


def cluster_islands(values, table):
    eps_values = values["eps"]
    if len(set(eps_values)) != len(eps_values):
        raise invalid("eps", "distinct values", ",".join(f"{e:g}" for e in eps_values))
    rows = clustering.rows_to_sweep(table.frame, values["group_by"], values["features"])
    run = mlflow.active_run()
    tracking_uri = absolute_tracking_uri(mlflow.get_tracking_uri())
    config = SweepConfig(
        tracking_uri=tracking_uri,
        experiment_id=run.info.experiment_id,
        job_run_id=run.info.run_id,
        group_by=values["group_by"],
        features=tuple(values["features"]),
        eps_values=tuple(eps_values),
        min_samples=values["min_samples"],
        select_by=values["select_by"],
        log_models=values["log_models"],
        pip_requirements=tuple(pinned(*SKLEARN_REQUIREMENTS)),
        fault={"1": "raise", "crash": "crash"}.get(os.environ.get(FAULT_SWITCH, ""), ""),
        # Group and eps runs carry the job's commit, as MLflow Projects tags the job run itself.
        tags={k: v for k, v in run.data.tags.items() if k == MLFLOW_GIT_COMMIT},
    )
    env = executor_environment(tracking_uri, config.experiment_id)
    with spark_session(values["spark_master"], "cluster_islands", env, worker_imports(tracking_uri)) as spark:
        results = run_sweep(spark, rows, config)
    chosen = log_results(results, config)
    if config.log_models != "none":
        mlflow.set_tag("model_uri", log_router(chosen, rows, config))
    return {"groups": len(chosen), "eps_runs": len(results), "groups_with_best_eps": int(chosen["eps"].notna().sum())}


def chosen_table(results: pd.DataFrame, select_by: str) -> pd.DataFrame:
    """One row per group: the chosen eps, its metrics, run and model (empty where none is defined)."""
    rows = []
    for group, sweep in results.groupby("group", sort=True):
        best = clustering.best(sweep, select_by)
        rows.append({"group": group, **({} if best is None else best.drop(labels=["group"]).to_dict())})
    return pd.DataFrame(rows, columns=list(results.columns))


def log_results(results: pd.DataFrame, config: SweepConfig) -> pd.DataFrame:
    """Log the sweep table and the chosen eps per group, each as a JSON table and a CSV.

    Returns the chosen-eps table, with the `cores` the router needs.
    """
    chosen = chosen_table(results, config.select_by)
    tables = {"sweep_results": results.drop(columns="cores"), "chosen_eps": chosen.drop(columns="cores")}
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in tables.items():
            mlflow.log_table(table, f"{name}.json")
            table.to_csv(os.path.join(tmp, f"{name}.csv"), index=False)
        mlflow.log_artifacts(tmp)
    mlflow.set_tag("select_by", clustering.preference(config.select_by))
    return chosen


def main(argv=None):
    run_step("cluster_islands", PARAMS, cluster_islands, argv, load=load_any_table)


if __name__ == "__main__":
    main()
