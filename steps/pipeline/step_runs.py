"""The steps' runs under main: reuse an earlier run (the step cache), or run the step fresh with `mlflow.run`."""

from __future__ import annotations

import time
from dataclasses import dataclass

import mlflow
from mlflow.entities import Metric, Run, RunTag
from mlflow.exceptions import ExecutionException
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT as GIT_COMMIT
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID as PARENT
from mlflow.utils.mlflow_tags import MLFLOW_PROJECT_ENTRY_POINT as ENTRY_POINT

from steps import PROJECT, UserError
from steps.tracking.runner import was_stopped
from steps.tracking.runs import every_run

STEP, CACHE, CACHE_KEY, REUSED_FROM = "penguins.step", "penguins.cache", "penguins.cache_key", "penguins.reused_run_id"


class StepFailedError(UserError):
    """A step's run failed; the message carries the step's own error."""


@dataclass
class StepOutcome:
    entry_point: str
    source_run_id: str  # the run holding the results: the child, or the earlier run it reuses
    state: str  # "fresh" or "reused"


@dataclass
class StepResults:
    """A step's results as main reads them back once: its source run and, for cluster_islands, its group runs."""

    outcome: StepOutcome
    run: Run
    groups: list[Run]  # by group, each with its chosen eps; empty for the other steps


def read_results(client, experiment_id: str, outcome: StepOutcome, source: Run | None = None) -> StepResults:
    """`source`: the source run when the caller has it already (a reused step's search result)."""
    groups = []
    if outcome.entry_point == "cluster_islands":
        of_this_sweep = f"tags.`{PARENT}` = '{outcome.source_run_id}' AND tags.`penguins.level` = 'group'"
        found = every_run(client, [experiment_id], of_this_sweep)
        groups = sorted(found, key=lambda r: r.data.tags.get("penguins.group", ""))
    return StepResults(outcome, source or client.get_run(outcome.source_run_id), groups)


def find_cached(client, experiment_id: str, key: str):
    """The latest FINISHED fresh run with this cache key, or None."""
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{CACHE_KEY}` = '{key}' AND tags.`{CACHE}` = 'fresh' AND attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return found[0] if found else None


def run_fresh(client, main_run, entry_point: str, params: dict[str, str], identity: dict) -> StepOutcome:
    """Run the step with `mlflow.run` under the main run; tag it cacheable once FINISHED.

    Synchronous, in a thread of its own: MLflow then runs the step's command itself
    (asynchronous runs go through another `mlflow run` process, seconds per step). Ctrl-C
    reaches the step's process too (the same process group): it ends its own run KILLED,
    and run_step, in main's thread, ends main KILLED.
    """
    experiment_id = main_run.info.experiment_id
    # `mlflow.run` nests the step under this thread's active run: make it main's run (never
    # ended here; the thread's run stack goes with the thread).
    if mlflow.active_run() is None:
        mlflow.start_run(run_id=main_run.info.run_id)
    try:
        submitted = mlflow.run(
            str(PROJECT), entry_point, parameters=params, experiment_id=experiment_id, env_manager="local"
        )
    except ExecutionException:
        failed = latest_child(client, main_run, entry_point)
        if failed is not None and was_stopped(failed):
            # mlflow.run ends the step's run FAILED even when the step ended it KILLED: a stop is not a failure.
            client.set_terminated(failed.info.run_id, "KILLED")
            raise KeyboardInterrupt() from None
        error, where = "it did not start", ""
        if failed is not None:
            error, where = failed.data.tags.get("error", "see the step's output above"), f" (run {failed.info.run_id})"
            client.log_batch(failed.info.run_id, tags=[RunTag(STEP, entry_point), RunTag(CACHE, "failed")])
        raise StepFailedError(f"step {entry_point} failed{where}: {error.splitlines()[0]}") from None
    tags = {STEP: entry_point, CACHE: "fresh", **identity}
    client.log_batch(submitted.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    return StepOutcome(entry_point, submitted.run_id, "fresh")


def latest_child(client, main_run, entry_point: str):
    """The newest run of `entry_point` that `mlflow.run` started under the main run."""
    found = client.search_runs(
        [main_run.info.experiment_id],
        filter_string=f"tags.`{PARENT}` = '{main_run.info.run_id}' AND tags.`{ENTRY_POINT}` = '{entry_point}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return found[0] if found else None


def record_reuse(client, main_run, entry_point: str, earlier, commit: str | None) -> StepOutcome:
    """A child run under main that points at the reused run and repeats its metrics (one batch)."""
    tags = {
        PARENT: main_run.info.run_id,
        STEP: entry_point,
        CACHE: "reused",
        REUSED_FROM: earlier.info.run_id,
        **{k: v for k, v in earlier.data.tags.items() if k in ("model_uri", CACHE_KEY)},
    }
    if commit:
        tags[GIT_COMMIT] = commit
    child = client.create_run(main_run.info.experiment_id, tags=tags, run_name=f"{entry_point} (reused)")
    now = int(time.time() * 1000)
    client.log_batch(child.info.run_id, metrics=[Metric(k, v, now, 0) for k, v in earlier.data.metrics.items()])
    client.set_terminated(child.info.run_id, "FINISHED")
    return StepOutcome(entry_point, earlier.info.run_id, "reused")
