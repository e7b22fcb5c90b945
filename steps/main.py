"""Entry point `main`: the whole tutorial as one project run.

    mlflow run . --env-manager local
    mlflow run . --env-manager local -P eps=0.5          # re-runs cluster_islands only
    mlflow run . --env-manager local -P register=true    # also registers each step's best model

Runs classify_sex, tune_body_mass, classify_species and cluster_islands with `mlflow.run`,
all at once (they are independent), each nested under this run, in the environment this
run already has. A step whose entry point, parameters, code version and data digest match
an earlier FINISHED run of the experiment is reused instead (see steps/pipeline/cache.py);
`-P force=true` re-runs everything.
The run ends with a one-page report (report/report.html and report.md).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import mlflow
from mlflow.tracking import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_GIT_COMMIT as GIT_COMMIT

from steps import PROJECT
from steps.cli.mlproject import declared_parameters
from steps.cli.params import Param, ParamError, as_text, boolean
from steps.cli.shared_params import ALPHAS, EPS, GROUP_BY, LOG_MODELS, MIN_SAMPLES, SEED, SELECT_BY
from steps.ml.clustering import rows_to_sweep
from steps.ml.data import MEASUREMENTS, load_any_table
from steps.pipeline.cache import cache_key, code_version, effective_params
from steps.pipeline.conclude import REGISTER, conclude
from steps.pipeline.step_runs import CACHE_KEY, StepResults, find_cached, read_results, record_reuse, run_fresh
from steps.spark.session import SPARK_MASTER
from steps.tracking.datasets import dataset_input
from steps.tracking.runner import run_step

# The entry points main runs, in the order it reports them. What parameters each takes is
# read from MLproject: main imports no step module, and so none of their libraries.
STEPS = ("classify_sex", "tune_body_mass", "classify_species", "cluster_islands")
# The parameters a user would change; each is passed on to every step that declares one of that name.
PARAMS = (
    SEED,
    ALPHAS,
    EPS,
    MIN_SAMPLES,
    GROUP_BY,
    SELECT_BY,
    LOG_MODELS,
    SPARK_MASTER,
    REGISTER,
    Param("force", "false", boolean, "re-run every step even when an earlier run matches"),
)


def pipeline(values, penguins):
    if values["register"] != "false" and values["log_models"] == "none":
        raise ParamError(
            f"log_models: must be all or best with register={values['register']} (a sweep without models has none)"
        )
    swept = load_any_table(values["data"])  # as cluster_islands reads it: every column, group_by may be any
    rows_to_sweep(swept.frame, values["group_by"], MEASUREMENTS)  # a bad group_by stops main before any step
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
            identity = {CACHE_KEY: key, "penguins.code_version": version, "penguins.data_digest": digest}
            outcome = run_fresh(client, run, entry_point, given, identity)
        print(f"main: {entry_point}: {outcome.state} (run {outcome.source_run_id}, {time.monotonic() - started:.1f} s)")
        client.set_tag(run.info.run_id, f"penguins.step.{entry_point}", f"{outcome.state} {outcome.source_run_id}")
        return read_results(client, experiment_id, outcome, earlier)

    # The steps are independent (each reads the data set only), so they run at once.
    with ThreadPoolExecutor(len(STEPS)) as pool:
        futures = [pool.submit(settle, entry_point) for entry_point in STEPS]
        try:
            wait(futures)
        except KeyboardInterrupt:
            stopping.set()  # steps not started yet never start; running ones got the signal too
            raise
    results = [future.result() for future in futures]  # the first failed step, in STEPS order, fails main

    conclude(client, run, results, values["register"], swept)
    fresh = sum(r.outcome.state == "fresh" for r in results)
    return {"steps_fresh": fresh, "steps_reused": len(results) - fresh}


def main(argv=None):
    run_step("main", PARAMS, pipeline, argv)


if __name__ == "__main__":
    main()
