"""Benchmark what `register=true` costs against the sweep it follows, at many groups.

    python bench/registry.py                       # 1,000 groups
    python bench/registry.py --groups 100
    python bench/registry.py --group-models 200    # only the first 200 groups' own models, the rest projected

On a fresh `mlflow server` (SQLite in WAL mode, one worker, 127.0.0.1): `mlflow run . -e cluster_islands`
of a generated CSV of N groups (`log_models=best`, the default eps), as main runs it; then, in this process
with main's own code (steps/pipeline/registry.py) on the sweep's results:

* the router registered (a first version), as main does past GROUP_MODELS_UP_TO groups;
* the router judged against itself (what a second main pays to judge it: both load and label every row);
* each group's model registered (first versions), as main does up to GROUP_MODELS_UP_TO groups;
* each group's model judged against itself (what a second main adds for each group: two loads, two scorings).

Prints each against the sweep's wall time, and per group; with --group-models K, the groups' own models are
registered and judged for the first K groups, and their cost for every group projected from those.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import mlflow
import pandas as pd

from harness.cli import fresh_experiment_name, mlflow_run_command
from harness.servers import start_tracking_server, stop_process
from harness.tables import FEATURES, grouped_table, numbered_groups
from steps import PROJECT
from steps.ml.data import Table
from steps.pipeline import judges, registry
from steps.pipeline.step_runs import StepOutcome, read_results


def timed(label: str, sweep: float, groups: int, work) -> None:
    """`work()` timed; a cost paid per model is projected to every group."""
    started = time.monotonic()
    count = work()
    seconds = time.monotonic() - started
    every = seconds * groups / count if count > 1 else seconds
    projected = f", projected from {count} models" if 1 < count < groups else ""
    print(
        f"{label:<32} {every:8.1f} s {every / sweep:7.1%} of the sweep {every / groups * 1000:6.0f} ms/group"
        f"  ({seconds:.1f} s for {count} model{'s' if count > 1 else ''}{projected})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--group-models", type=int, default=0, help="how many groups' own models (0: all)")
    args = parser.parse_args()
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    with tempfile.TemporaryDirectory() as tmp:
        uri, server = start_tracking_server(Path(tmp))
        try:
            measure(uri, Path(tmp), args.groups, args.group_models or args.groups)
        finally:
            stop_process(server)


def measure(uri: str, tmp: Path, groups: int, group_models: int) -> None:
    data = tmp / "sites.csv"
    grouped_table(numbered_groups(groups)).to_csv(data, index=False)
    experiment = fresh_experiment_name(f"bench-registry-{groups}")
    params = {"data": data, "group_by": "site", "features": ",".join(FEATURES), "log_models": "best"}
    started = time.monotonic()
    done = subprocess.run(
        mlflow_run_command(PROJECT, "cluster_islands", experiment, params),
        env={**os.environ, "MLFLOW_TRACKING_URI": uri},
        cwd=PROJECT,
        capture_output=True,
        text=True,
    )
    sweep = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"the sweep failed:\n{done.stderr[-3000:]}")
    print(f"{groups} groups: the sweep (mlflow run -e cluster_islands) {sweep:.1f} s", flush=True)

    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient()
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    (run,) = client.search_runs([experiment_id], "tags.`mlflow.project.entryPoint` = 'cluster_islands'")
    step = read_results(client, experiment_id, StepOutcome("cluster_islands", run.info.run_id, "fresh"))
    table = Table(pd.read_csv(data), str(data), None)
    judge = judges.judge_for(step, table)
    router, *own = registry.models_of(step, group_models_up_to=groups)
    own = own[:group_models]

    def register(candidates):
        for candidate in candidates:
            registry.register_challenger(client, candidate, judge)
        return len(candidates)

    def judge_each(candidates):
        for candidate in candidates:
            judge(candidate.model_uri, candidate.model_uri, candidate.group)
        return len(candidates)

    timed("the router registered", sweep, groups, lambda: register([router]))
    timed("the router judged", sweep, groups, lambda: judge_each([router]))
    timed("each group's model registered", sweep, groups, lambda: register(own))
    timed("each group's model judged", sweep, groups, lambda: judge_each(own))


if __name__ == "__main__":
    main()
