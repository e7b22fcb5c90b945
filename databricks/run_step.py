"""Run one task of the Databricks job `penguins` (databricks.yml): a step, or `conclude` once the steps are done.

    python databricks/run_step.py <entry point> [--job-run <id>] [--param value ...]
    python databricks/run_step.py conclude --job-run <id> [--register false|true|force] [--data ...]

A step runs the same step code as `mlflow run`: the arguments after `--job-run <id>` are its
flags (`--seed 42`, see MLproject). With `--job-run` (the job passes `{{job.run_id}}`), the
step's run is created here, tagged with that id, and handed to the step as `mlflow run` does
(MLFLOW_RUN_ID).

`conclude`, the job's last task, does what `main` does once its steps are done: it finds the
job run's four step runs, puts them under a run of its own, named like main's, and calls
steps/pipeline/conclude.py (the registry, per `register`, judged on `data`, and the report).

Databricks runs this file as a script, not as a module of the project, so the project root goes on
sys.path first. The job cluster's SparkSession is created (attached) here, so the Spark steps find
it active and reuse it; MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_NAME come from the cluster's
environment (see databricks.yml).
"""

from __future__ import annotations

import os
import re
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the project's root, as a script sees it

import mlflow
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID as PARENT

from steps import UserError
from steps.cli.mlproject import declared_parameters
from steps.main import STEPS
from steps.ml.data import load_any_table
from steps.pipeline.conclude import REGISTER, conclude
from steps.pipeline.step_runs import STEP, StepOutcome, read_results
from steps.spark.session import SPARK_MASTER
from steps.tracking.runner import EXIT_BAD_INPUT, error_tag, run_step
from steps.tracking.server import check_tracking_server

CONCLUDE = "conclude"  # the job's last task: not an entry point of MLproject
CONCLUDE_PARAMS = (REGISTER,)  # and `data`, as every step: the table the models are judged on
JOB_RUN = "penguins.databricks_job_run"  # run tag: the Databricks job run whose task made the run


def split_job_run(args: list[str]) -> tuple[str, list[str]]:
    """(the id after a leading `--job-run`, or "" without one; the arguments after it)."""
    if args[:1] != ["--job-run"]:
        return "", args
    job_run = args[1].strip() if len(args) > 1 else ""
    if not re.fullmatch(r"[\w.-]+", job_run):  # it goes into a search filter as it is
        raise UserError(f"job run: must be an id (letters, digits, '.', '_', '-'), got '{job_run}'")
    return job_run, args[2:]


def experiment_id() -> str:
    """The experiment MLflow's environment names (the job cluster sets MLFLOW_EXPERIMENT_NAME), else Default."""
    if name := os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        return mlflow.set_experiment(name).experiment_id  # created if new, even as the other tasks create it too
    return os.environ.get("MLFLOW_EXPERIMENT_ID", "0")


def run_entry_point(entry_point: str, job_run: str, flags: list[str]) -> None:
    run_id = None
    if job_run:
        check_tracking_server(mlflow.get_tracking_uri())
        tags = resolve_tags({JOB_RUN: job_run, STEP: entry_point})  # with the user, source, Databricks job tags
        run_id = MlflowClient().create_run(experiment_id(), tags=tags).info.run_id
        os.environ["MLFLOW_RUN_ID"] = run_id
    if SPARK_MASTER.name in declared_parameters()[entry_point]:  # a Spark step
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate()  # on Databricks: the cluster's session, now active
    sys.argv = [f"steps.{entry_point}", *flags]
    try:
        runpy.run_module(f"steps.{entry_point}", run_name="__main__")
    except BaseException as error:
        client = MlflowClient()
        if run_id and client.get_run(run_id).info.status == "RUNNING":  # it failed before the step took the run
            client.set_tag(run_id, "error", error_tag(error))
            client.set_terminated(run_id, "FAILED")
        raise


def step_runs(client, experiment: str, job_run: str) -> dict:
    """Each step's run in job run `job_run`, in STEPS order: the latest (a repair runs a step again), FINISHED."""
    found = client.search_runs(
        [experiment], f"tags.`{JOB_RUN}` = '{job_run}'", order_by=["attributes.start_time DESC"], max_results=1000
    )
    latest = {}
    for run in found:
        latest.setdefault(run.data.tags.get(STEP), run)
    if missing := [entry_point for entry_point in STEPS if entry_point not in latest]:
        raise UserError(f"job run {job_run}: no run of {', '.join(missing)} in experiment {experiment}")
    for entry_point in STEPS:
        info, tags = latest[entry_point].info, latest[entry_point].data.tags
        if info.status != "FINISHED":
            error = tags.get("error", "no error logged").splitlines()[0]
            raise UserError(f"job run {job_run}: step {entry_point} is {info.status} (run {info.run_id}): {error}")
    return {entry_point: latest[entry_point] for entry_point in STEPS}


def conclude_job(job_run: str, flags: list[str]) -> None:
    """What main does once its steps are done, for the steps of job run `job_run`, in a run named like main's."""
    if not job_run:
        raise UserError("conclude: --job-run <id> must follow it: the job run whose steps it concludes")

    def body(values, table):
        client, run = MlflowClient(), mlflow.active_run()
        mlflow.set_tag(JOB_RUN, job_run)
        found = step_runs(client, run.info.experiment_id, job_run)
        results = []
        for entry_point, step in found.items():
            client.set_tag(step.info.run_id, PARENT, run.info.run_id)  # under this run in the UI, as under main
            outcome = StepOutcome(entry_point, step.info.run_id, "fresh")
            results.append(read_results(client, run.info.experiment_id, outcome, step))
        mlflow.set_tags({f"penguins.step.{r.outcome.entry_point}": f"fresh {r.outcome.source_run_id}" for r in results})
        conclude(client, run, results, values["register"], table)
        return {"steps": len(results)}

    run_step("main", CONCLUDE_PARAMS, body, flags, load=load_any_table)  # the data as the sweep reads it


def main(argv: list[str]) -> None:
    steps = sorted(e for e in declared_parameters() if e != "main")  # main runs steps with mlflow.run; the job, tasks
    try:
        if not argv or argv[0] not in (*steps, CONCLUDE):
            given = argv[0] if argv else ""
            raise UserError(f"entry point: must be one of {', '.join(steps)} or {CONCLUDE}, got '{given}'")
        job_run, flags = split_job_run(argv[1:])
        if argv[0] == CONCLUDE:
            conclude_job(job_run, flags)
        else:
            run_entry_point(argv[0], job_run, flags)
    except UserError as error:  # one line and exit 2, as run_step reports the steps' and conclude's own errors
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)


if __name__ == "__main__":
    main(sys.argv[1:])
