"""Entry point `main`: the whole tutorial as one project run.

    mlflow run . --env-manager local
    mlflow run . --env-manager local -P eps=0.5          # re-runs cluster_islands only
    mlflow run . --env-manager local -P register=true    # also registers each step's best model

Runs classify_sex, tune_body_mass, classify_species and cluster_islands with `mlflow.run`,
all at once (they are independent), each nested under this run, in the environment this
run already has. A step whose entry point, parameters, code version and data digest match
an earlier FINISHED run of the experiment is reused instead (see steps/cache.py);
`-P force=true` re-runs everything.
The run ends with a one-page report (report/report.html and report.md).
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow.entities import Metric, Run, RunTag
from mlflow.exceptions import ExecutionException, MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT as GIT_COMMIT
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID as PARENT
from mlflow.utils.mlflow_tags import MLFLOW_PROJECT_ENTRY_POINT as ENTRY_POINT
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME as RUN_NAME

from steps import PROJECT, declared_parameters, report
from steps.cache import cache_key, code_version, effective_params
from steps.errors import UserError
from steps.params import Param, as_text, boolean
from steps.runner import dataset_input, run_step
from steps.shared_params import ALPHAS, EPS, GROUP_BY, MIN_SAMPLES, SEED, SELECT_BY
from steps.spark import SPARK_MASTER

# The entry points main runs, in the order it reports them. What parameters each takes is
# read from MLproject: main imports none of the step modules (see steps/shared_params.py).
STEPS = ("classify_sex", "tune_body_mass", "classify_species", "cluster_islands")
# The parameters a user would change; each is passed on to every step that declares one of that name.
PARAMS = (
    SEED,
    ALPHAS,
    EPS,
    MIN_SAMPLES,
    GROUP_BY,
    SELECT_BY,
    SPARK_MASTER,
    Param("register", "false", boolean, "register each step's best model and point the alias 'champion' at it"),
    Param("force", "false", boolean, "re-run every step even when an earlier run matches"),
)
STEP, CACHE, CACHE_KEY, REUSED_FROM = "penguins.step", "penguins.cache", "penguins.cache_key", "penguins.reused_run_id"
ALIAS = "champion"
SOURCE_MODEL = "penguins.model_uri"  # model version tag: the URI it was registered from
BACKGROUND_NICE = 10  # how much lower the scikit-learn steps' CPU priority is (see yield_cpu)


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
        found = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{PARENT}` = '{outcome.source_run_id}' AND tags.`penguins.level` = 'group'",
            max_results=1000,
        )
        groups = sorted(found, key=lambda r: r.data.tags.get("penguins.group", ""))
    return StepResults(outcome, source or client.get_run(outcome.source_run_id), groups)


def pipeline(values, penguins):
    run = mlflow.active_run()
    client = MlflowClient()
    experiment_id = run.info.experiment_id
    version = code_version(PROJECT)
    digest = dataset_input(penguins).digest
    mlflow.set_tags({"penguins.code_version": version, "penguins.data_digest": digest})
    # `mlflow.run` runs each step's `python -m ...` through the shell: make it this interpreter.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    commit = run.data.tags.get(GIT_COMMIT)
    declared = declared_parameters()
    stopping = threading.Event()

    def settle(entry_point: str) -> StepResults:
        """Reuse the step's earlier run, or run it fresh under the main run; read back its results."""
        takes = declared[entry_point]
        given = {name: as_text(values[name]) for name in takes if name in values}  # `data` too; the key drops it
        key = cache_key(entry_point, effective_params(takes, given), version, digest)
        started = time.monotonic()
        earlier = None if values["force"] else find_cached(client, experiment_id, key)
        if earlier is not None:
            outcome = record_reuse(client, run, entry_point, earlier, commit)
        elif stopping.is_set():
            raise KeyboardInterrupt()
        else:
            if SPARK_MASTER.name not in takes:
                yield_cpu()
            identity = {CACHE_KEY: key, "penguins.code_version": version, "penguins.data_digest": digest}
            outcome = run_fresh(client, run, entry_point, given, identity)
        print(f"main: {entry_point}: {outcome.state} (run {outcome.source_run_id}, {time.monotonic() - started:.1f} s)")
        client.set_tag(run.info.run_id, f"penguins.step.{entry_point}", f"{outcome.state} {outcome.source_run_id}")
        return read_results(client, experiment_id, outcome, earlier)

    # The steps are independent (each reads the data set only), so they run at once; the
    # scikit-learn steps at a lower CPU priority than the longer Spark steps (yield_cpu).
    with ThreadPoolExecutor(len(STEPS)) as pool:
        futures = [pool.submit(settle, entry_point) for entry_point in STEPS]
        try:
            wait(futures)
        except KeyboardInterrupt:
            stopping.set()  # steps not started yet never start; running ones got the signal too
            raise
    results = [future.result() for future in futures]  # the first failed step, in STEPS order, fails main

    registered = register_models(client, results) if values["register"] else {}
    log_report(results, registered)
    fresh = sum(r.outcome.state == "fresh" for r in results)
    return {"steps_fresh": fresh, "steps_reused": len(results) - fresh}


def yield_cpu() -> None:
    """Lower the CPU priority of this thread, and so of the step process it starts next.

    The Spark steps take longest (a JVM each), so the scikit-learn steps give way to them
    and use the CPU they leave: on 2 cores a cold main then idles less at its end. Linux
    only, where a thread's nice value is its own (elsewhere it would slow all of main)."""
    if sys.platform == "linux":
        os.nice(BACKGROUND_NICE)


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
        error, where = "it did not start", ""
        if failed is not None:
            error, where = failed.data.tags.get("error", "see the step's output above"), f" (run {failed.info.run_id})"
            client.log_batch(failed.info.run_id, tags=[RunTag(STEP, entry_point), RunTag(CACHE, "failed")])
        raise StepFailedError(f"step {entry_point} failed{where}: {error.splitlines()[0]}") from None
    tags = {STEP: entry_point, CACHE: "fresh", RUN_NAME: entry_point, **identity}
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


def models_of(results: StepResults) -> dict[str, str]:
    """Registered-model name -> model URI: the step's model, or each group's chosen DBSCAN model."""
    if results.outcome.entry_point == "cluster_islands":
        return {
            f"penguins-dbscan-{r.data.params.get('group_by')}-{r.data.tags['penguins.group']}": r.data.tags[
                "best_model_uri"
            ]
            for r in results.groups
            if "best_model_uri" in r.data.tags
        }
    uri = results.run.data.tags.get("model_uri")
    return {f"penguins-{results.outcome.entry_point.replace('_', '-')}": uri} if uri else {}


def register_models(client, results: list[StepResults]) -> dict[str, dict[str, str]]:
    """Register each step's best model and point ALIAS at it; an unchanged model is not registered again."""
    registered = {}
    for step in results:
        versions = {}
        for name, model_uri in models_of(step).items():
            versions[name] = register_champion(client, name, model_uri)
            mlflow.set_tag(f"registered.{name}", versions[name])
        registered[step.outcome.entry_point] = versions
    return registered


def register_champion(client, name: str, model_uri: str) -> str:
    """A new version of `name` from `model_uri`, aliased ALIAS, unless ALIAS already serves that model."""
    try:
        current = client.get_model_version_by_alias(name, ALIAS)
        if current.tags.get(SOURCE_MODEL) == model_uri:  # `source` is rewritten: compare what we registered
            return current.version
    except MlflowException:
        pass  # no such model or alias yet
    version = mlflow.register_model(model_uri, name, tags={SOURCE_MODEL: model_uri}).version
    client.set_registered_model_alias(name, ALIAS, version)
    return str(version)


def run_link(run) -> str:
    uri = mlflow.get_tracking_uri()
    if urlparse(uri).scheme in ("http", "https"):
        return f"{uri.rstrip('/')}/#/experiments/{run.info.experiment_id}/runs/{run.info.run_id}"
    return f"runs:/{run.info.run_id}"


def summarise(step: StepResults, root: Path, registered: dict[str, str]) -> report.StepSummary:
    """What the report shows of one step; its plots are downloaded under `root`."""
    outcome, source = step.outcome, step.run
    # The run's own artifact store: by run id, every list and download would fetch the run again.
    artifacts = get_artifact_repository(source.info.artifact_uri)
    folder = root / outcome.entry_point
    folder.mkdir()
    plots = []
    for where in ("", "plots"):
        for item in artifacts.list_artifacts(where or None):
            if item.path.endswith(".png"):
                local = artifacts.download_artifacts(item.path, dst_path=str(folder))
                plots.append(Path(local).relative_to(root))
    table = []
    for r in step.groups:
        select_by = r.data.params.get("select_by", "")
        value = r.data.metrics.get(select_by)
        table.append({
            "group": r.data.tags.get("penguins.group", ""),
            "best eps": r.data.tags.get("best_eps", ""),
            select_by: "" if value is None else f"{value:.4g}",
            "model": r.data.tags.get("best_model_uri", ""),
        })  # fmt: skip
    models = {"model": source.data.tags["model_uri"]} if "model_uri" in source.data.tags else {}
    return report.StepSummary(
        entry_point=outcome.entry_point,
        run_id=outcome.source_run_id,
        state=outcome.state,
        link=run_link(source),
        metrics=dict(source.data.metrics),
        models=models,
        plots=sorted(plots),
        table=table,
        registered=registered,
    )


def log_report(results: list[StepResults], registered: dict[str, dict[str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        with ThreadPoolExecutor(len(results)) as pool:  # mostly waiting on downloads: one thread per step
            summaries = list(pool.map(lambda r: summarise(r, root, registered.get(r.outcome.entry_point, {})), results))
        title = f"mlflow-penguins: main run {mlflow.active_run().info.run_id}"
        (root / "report.md").write_text(report.markdown(title, summaries))
        (root / "report.html").write_text(report.html_page(title, summaries, root))
        mlflow.log_artifacts(tmp, "report")


def main(argv=None):
    run_step("main", PARAMS, pipeline, argv)


if __name__ == "__main__":
    main()
