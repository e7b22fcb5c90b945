"""The task side of the sweep: one group's eps runs, logged from a Spark task, nested under the job run, exactly once.

Runs in a Spark task (executor), not on the driver:

* Only MlflowClient calls on explicit run ids: no fluent `start_run`, so a task never
  closes the job run (the tutorial's `start_run(run_id=parent)` in a task did) and never
  depends on what an executor's environment says. The tracking URI, experiment and job
  run come in a `SweepConfig` inside the task's closure.
* Exactly once. Every child run carries its identity as tags (job run, group, eps). A
  retried task first reads what earlier attempts of it left: a RUNNING group run is resumed, a
  FINISHED eps run under it is reused as it is, an eps whose run is unfinished (the attempt
  died while logging it) is logged again. When the job is done, the driver deletes every
  group or eps run of the job that the results table does not name: half-logged ones, a
  second run of the same group or eps (a create the client sent again after losing its
  response), the runs of a speculative copy that lost. So retried and speculative tasks
  leave one group run per group and one eps run per (group, eps); none stays RUNNING.
* Fast. Per eps run: create (with every tag), one log_batch (params and metrics),
  terminate; with a model (`log_models`: every eps, or each group's chosen one) also its
  create, its files (signature, input example, the carried code; explicit pip
  requirements, no inference) and its finalisation. Models are logged from the executor;
  nothing is collected to the driver but the results table (with, on each group's chosen
  eps, the core samples the router labels with).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID as PARENT
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME as RUN_NAME

from steps.ml import clustering
from steps.ml.dbscan import NearestCoreDBSCAN
from steps.ml.grouped_cores import nearest_core_labels
from steps.sweep.config import (
    CLUSTERS_FIGURE,
    EPS,
    GROUP,
    JOB,
    LEVEL,
    METRICS_FIGURE,
    RESULT_COLUMNS,
    SweepConfig,
    eps_label,
    run_name,
)
from steps.tracking.models import carried_code
from steps.tracking.server import telemetry_off_unless_asked

MODEL_NAME = "dbscan"
SKOPS_FILE = "model.skops"  # where mlflow.sklearn keeps a skops-format model in its directory
TRUSTED_TYPE = (
    f"{NearestCoreDBSCAN.__module__}.{NearestCoreDBSCAN.__qualname__}"  # for skops: the one class not its own
)
CARRIED_MODULES = (NearestCoreDBSCAN.__module__, nearest_core_labels.__module__)  # what an eps model imports of ours
EXAMPLE_ROWS = 5
EPS_RUNS_AT_ONCE = 4
FAULT_MESSAGE = "injected fault: the first attempt of this task fails after logging (test switch)"


def worker_imports(tracking_uri: str) -> tuple[str, ...]:
    """What a sweep task imports: scikit-learn, s_dbw, skops, MLflow and its tracking store.

    In that order: skops's import is cheaper before MLflow's modules (docs/performance.md)."""
    scikit_learn = ("sklearn.cluster", "sklearn.metrics", "sklearn.pipeline", "sklearn.preprocessing")
    store = ("mlflow.store.tracking.sqlalchemy_store",) if tracking_uri.startswith("sqlite:") else ()
    return (*scikit_learn, "s_dbw", "skops.io", "mlflow.sklearn", *store)


def spark_columns(count: int) -> list[str]:
    """The names the sweep's rows carry in Spark: the group column, then the features."""
    return [f"c{i}" for i in range(count)]


def group_task(config: SweepConfig):
    """The function for `groupBy(<group column>).applyInPandas(..., RESULT_SCHEMA)` on rows whose
    columns are named `spark_columns`; it gives them back their own names."""
    names = [config.group_by, *config.features]

    def run_group(key, rows):  # no type hints: pyspark would try to infer the UDF type from them
        return sweep_group(config, str(key[0]), rows.set_axis(names, axis=1))

    return run_group


def _client(config: SweepConfig):
    import mlflow
    from mlflow.tracking import MlflowClient

    # Model.log uses the global tracking URI; set it from the config, never from the executor's env.
    mlflow.set_tracking_uri(config.tracking_uri)
    # set_terminated would print a "View run" line (and read the run again) for every run.
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    telemetry_off_unless_asked()  # before the task's first request: its threads log at once
    return MlflowClient(tracking_uri=config.tracking_uri)


def _existing_runs(client, config: SweepConfig, group: str) -> list:
    """Every active run an earlier attempt logged for this group: the group run and its eps runs."""
    escaped = group.replace("'", "\\'")
    found = client.search_runs(
        [config.experiment_id],
        filter_string=f"tags.`{JOB}` = '{config.job_run_id}' AND tags.`{GROUP}` = '{escaped}'",
        max_results=5000,
    )
    return list(found)


def sweep_group(config: SweepConfig, group: str, rows: pd.DataFrame) -> pd.DataFrame:
    """Sweep eps for one group, log the group run and its eps runs, return one row per eps."""
    from concurrent.futures import ThreadPoolExecutor

    from mlflow.entities import Param

    client = _client(config)
    # A first attempt has nothing to find, and the server scans every run of the job to say so.
    # A stage Spark runs again starts at attempt 0 too: its groups are logged anew, and the
    # driver's deletion pass removes the runs the results table does not name.
    existing = [] if _first_attempt() else _existing_runs(client, config, group)
    identity = {JOB: config.job_run_id, GROUP: group, **config.tags}
    group_run = _group_run_to_resume(existing) or _create_group_run(client, config, group, identity)
    group_run_id = group_run.info.run_id
    if not group_run.data.params:  # a new run, or one whose attempt died before logging them
        params = {"group_by": config.group_by, "group": group, "select_by": config.select_by}
        client.log_batch(group_run_id, params=[Param(k, v) for k, v in params.items()])
    earlier: dict[str, list] = {}  # eps label -> its runs under this group run
    for r in existing:
        if r.data.tags.get(LEVEL) == "eps" and r.data.tags.get(PARENT) == group_run_id:
            earlier.setdefault(r.data.tags.get(EPS), []).append(r)

    results = clustering.sweep(rows, config.features, config.eps_values, config.min_samples)
    chosen = clustering.chosen_eps(results, config.select_by)
    with_model = eps_with_model(results, chosen, config.log_models)
    last = len(results) - 1
    example = rows.loc[:, list(config.features)].head(EXAMPLE_ROWS).reset_index(drop=True)
    context = GroupRunContext(client, config, group, group_run_id, identity, int(time.time() * 1000), example)

    def log_eps(position: int) -> dict:
        result = results[position]
        runs = earlier.get(eps_label(result.eps), [])
        wants_model = result.eps in with_model
        complete = (r for r in runs if r.info.status == "FINISHED" and (r.outputs.model_outputs or not wants_model))
        done = next(complete, None)
        if done is not None:
            outputs = done.outputs.model_outputs
            run_id, model_uri = done.info.run_id, f"models:/{outputs[0].model_id}" if outputs else ""
        else:
            fault = config.fault if position == last and config.fault and _first_attempt() else ""
            run_id, model_uri = _log_eps_run(context, result, wants_model, fault)
        cores = clustering.group_cores(result.model).to_bytes() if result.eps == chosen else None
        return _row(group, result.eps, result.metrics, run_id, model_uri, group_run_id, cores)

    finished = group_run.info.status == "FINISHED"
    # The runs are independent and the work is waiting on the server: log a few at once, and
    # draw the group's figures (CPU work) meanwhile.
    with ThreadPoolExecutor(EPS_RUNS_AT_ONCE + 1) as pool:
        figures = None if finished else pool.submit(_log_figures, context, results, rows, chosen)
        table = list(pool.map(log_eps, range(len(results))))
        if figures is not None:
            figures.result()
    frame = pd.DataFrame(table, columns=list(RESULT_COLUMNS))
    if not finished:
        _finish_group_run(context, frame, logged=bool(group_run.data.metrics))
    return frame


def eps_with_model(results: list[clustering.EpsResult], chosen: float | None, log_models: str) -> set[float]:
    """The eps values whose runs log a model, as `log_models` says: all, the `chosen` one, or none."""
    if log_models == "all":
        return {r.eps for r in results}
    return {chosen} if log_models == "best" and chosen is not None else set()


def _group_run_to_resume(existing: list):
    """An earlier attempt's group run: the FINISHED one, else the one most eps runs name as parent."""
    group_runs = [r for r in existing if r.data.tags.get(LEVEL) == "group"]
    if not group_runs:
        return None
    children = Counter(r.data.tags.get(PARENT) for r in existing if r.data.tags.get(LEVEL) == "eps")
    return max(group_runs, key=lambda r: (r.info.status == "FINISHED", children[r.info.run_id]))


@dataclass
class GroupRunContext:
    """What every eps run of one group is logged with."""

    client: Any
    config: SweepConfig
    group: str
    group_run_id: str
    identity: dict[str, str]  # the tags every run of the group carries
    now: int  # the metrics' timestamp, ms
    example: pd.DataFrame  # a few raw rows of the group: the models' input example
    saving: threading.Lock = field(default_factory=threading.Lock)  # see _log_model


def _log_eps_run(
    context: GroupRunContext, result: clustering.EpsResult, with_model: bool, fault: str
) -> tuple[str, str]:
    """One eps run: create (with its tags), its model if `with_model`, one batch of params and
    metrics, FINISHED. Returns (run id, model URI or '')."""
    from mlflow.entities import Metric, Param

    client, config, group = context.client, context.config, context.group
    label = eps_label(result.eps)
    defined = {k: v for k, v in result.metrics.items() if v is not None}
    undefined = sorted(set(result.metrics) - set(defined))
    tags = {**context.identity, PARENT: context.group_run_id, LEVEL: "eps", EPS: label}
    if undefined:
        tags["undefined_metrics"] = ",".join(undefined)
        tags["undefined_reason"] = "fewer than two clusters among the clustered points"
    # All tags at creation: a log_batch with tags costs the server one more transaction.
    run_id = client.create_run(config.experiment_id, tags=tags, run_name=run_name(group, result.eps)).info.run_id
    if fault == "crash":
        print(FAULT_MESSAGE, file=sys.stderr, flush=True)
        os._exit(1)  # the Python worker dies mid-task, as on an out-of-memory kill
    if fault:
        raise RuntimeError(FAULT_MESSAGE)
    params = {"eps": label, "min_samples": str(config.min_samples), "group_by": config.group_by, "group": group}
    model_id = _log_model(context, result.model, run_id, params) if with_model else None
    client.log_batch(
        run_id,
        # Metrics that name the model are also the model's: the UI's model list compares them.
        metrics=[Metric(k, v, context.now, 0, model_id=model_id) for k, v in defined.items()],
        params=[Param(k, v) for k, v in params.items()],
    )
    client.set_terminated(run_id, "FINISHED")
    return run_id, f"models:/{model_id}" if model_id else ""


def _create_group_run(client, config: SweepConfig, group: str, identity: dict[str, str]):
    return client.create_run(
        config.experiment_id,
        tags={**identity, PARENT: config.job_run_id, LEVEL: "group", RUN_NAME: group},
        run_name=group,
    )


def _finish_group_run(context: GroupRunContext, frame: pd.DataFrame, logged: bool) -> None:
    """Record the best eps by `select_by` and its metrics on the group run (unless an earlier
    attempt `logged` them already), then end the run."""
    from mlflow.entities import Metric, RunTag

    client, config, now = context.client, context.config, context.now
    chosen = clustering.best(frame, config.select_by)
    tags = [RunTag("select_by", clustering.preference(config.select_by))]
    metrics = []
    if chosen is None:
        tags.append(RunTag("best_eps", f"none: {config.select_by} is undefined for every eps"))
    else:
        best = {"best_eps": eps_label(chosen["eps"]), "best_run_id": chosen["run_id"]}
        if chosen["model_uri"]:
            best["best_model_uri"] = chosen["model_uri"]
        tags += [RunTag(k, v) for k, v in best.items()]
        metrics = [Metric("best_eps", float(chosen["eps"]), now, 0)]
        metrics += [Metric(k, float(chosen[k]), now, 0) for k in clustering.METRICS if not np.isnan(chosen[k])]
    if not logged:
        client.log_batch(context.group_run_id, metrics=metrics, tags=tags)
    client.set_terminated(context.group_run_id, "FINISHED")


def _log_figures(
    context: GroupRunContext, results: list[clustering.EpsResult], rows: pd.DataFrame, chosen: float | None
) -> None:
    """On the group run: its metrics by eps, the chosen eps marked (METRICS_FIGURE), and its rows as
    the chosen eps clustered them (CLUSTERS_FIGURE). Drawn in the tasks, so that a sweep of many
    groups draws them side by side, not one after another on the driver; matplotlib is imported
    at a worker's first group."""
    from steps.ml import plots

    table = clustering.metrics_table(results)
    figure = plots.sweep_figure(context.group, table, clustering.METRICS, chosen)
    context.client.log_figure(context.group_run_id, figure, METRICS_FIGURE)
    if chosen is None:
        return
    result = next(r for r in results if r.eps == chosen)
    select_by = context.config.select_by  # defined at the chosen eps: that is how it was chosen
    noise = result.metrics["noise_ratio"] or 0.0
    title = f"{context.group}: eps {eps_label(result.eps)}, {result.metrics['n_clusters']:g} clusters, "
    title += f"{noise:.0%} noise, {select_by} {result.metrics[select_by]:.3g}"
    labels = result.model.named_steps["dbscan"].labels_
    figure = plots.clusters_figure(title, rows.loc[:, list(context.config.features)], labels)
    context.client.log_figure(context.group_run_id, figure, CLUSTERS_FIGURE)


def _log_model(context: GroupRunContext, model, run_id: str, params: dict[str, str]) -> str:
    """Log `model` as the run's logged model, with its params, and return its id. One request to
    create it, one per file of the model, two to finalise it and name it in the run's outputs
    (Model.log makes more: it also re-reads the run's params and every metric's history).

    The model scores raw rows (signature and input example from the group's rows) and carries
    the two files of ours it needs (steps/ml/dbscan.py and grouped_cores.py). `saving` is a lock held while it is
    saved: on its first save in a process, MLflow scans every installed package, and unlocked
    each thread would scan at once."""
    import tempfile

    import mlflow
    from mlflow.entities import LoggedModelOutput, LoggedModelStatus
    from mlflow.models import Model, infer_signature
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
    from mlflow.utils.uri import add_databricks_profile_info_to_artifact_uri

    client, config = context.client, context.config
    logged = client.create_logged_model(config.experiment_id, name=MODEL_NAME, source_run_id=run_id, params=params)
    with tempfile.TemporaryDirectory() as tmp:
        with context.saving:
            mlflow.sklearn.save_model(
                model,
                f"{tmp}/model",
                mlflow_model=Model(artifact_path=logged.artifact_location, run_id=run_id, model_id=logged.model_id),
                signature=infer_signature(context.example, model.predict(context.example)),
                input_example=context.example,
                code_paths=carried_code(Path(tmp, "code"), *CARRIED_MODULES),
                pip_requirements=list(config.pip_requirements),
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
                skops_trusted_types=[TRUSTED_TYPE],
            )
        # Straight to the model's artifact location: log_model_artifacts would first fetch the
        # logged model again, only to read the location create_logged_model has just returned.
        location = add_databricks_profile_info_to_artifact_uri(logged.artifact_location, config.tracking_uri)
        get_artifact_repository(location, tracking_uri=config.tracking_uri).log_artifacts(f"{tmp}/model")
    client.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)
    client.log_outputs(run_id, models=[LoggedModelOutput(logged.model_id, step=0)])
    return logged.model_id


def _first_attempt() -> bool:
    from pyspark import TaskContext

    context = TaskContext.get()
    return context is not None and context.attemptNumber() == 0


def _row(
    group: str, eps: float, metrics: dict, run_id: str, model_uri: str, group_run_id: str, cores: bytes | None
) -> dict:
    values = {k: (np.nan if v is None else v) for k, v in metrics.items()}
    return {
        "group": group,
        "eps": eps,
        **values,
        "run_id": run_id,
        "model_uri": model_uri,
        "group_run_id": group_run_id,
        "cores": cores,
    }
