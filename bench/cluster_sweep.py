"""Benchmark the cluster_islands sweep: this project's logging against tutorial-style logging.

    python bench/cluster_sweep.py                 # default sweep: 3 islands x 9 eps, both ways
    python bench/cluster_sweep.py --groups 100 --skip-tutorial   # synthetic groups: cost per group

Both ways run in the same process, on the same Spark session, data and tracking server
(a fresh `mlflow server` on 127.0.0.1, SQLite in WAL mode, one worker, unless --tracking-uri is given):

* ours: steps.sweep.driver.run_sweep (batched logging, explicit pip requirements, models
  logged from the executors);
* tutorial-style: per eps, a nested fluent run, one call per param and metric, and
  mlflow.sklearn.log_model inferring the requirements, as the tutorial's UDF does.

It prints the sweep times and their ratio. The first sweep of a session also pays for
starting the Python workers and importing MLflow in them ("cold"); the benchmark runs
ours twice and reports both.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import mlflow

from harness.cli import fresh_experiment_name
from harness.servers import cpu_seconds, start_tracking_server, stop_process
from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.spark.session import spark_session
from steps.sweep.config import RESULT_SCHEMA, SweepConfig
from steps.sweep.driver import run_sweep
from steps.sweep.task import worker_imports
from steps.tracking.models import SKLEARN_REQUIREMENTS, pinned


def synthetic_penguins(groups: int, rows_per_group: int = 110, seed: int = 0) -> pd.DataFrame:
    """Penguin-like groups: resampled real penguins with a little noise, `groups` labels."""
    rng = np.random.default_rng(seed)
    real = load_penguins().frame.loc[:, list(clustering.FEATURES)]
    frames = []
    for g in range(groups):
        sample = real.sample(rows_per_group, replace=True, random_state=int(rng.integers(1 << 31))).reset_index(
            drop=True
        )
        noise = rng.normal(0, 0.02, size=sample.shape) * sample.std().to_numpy()
        frames.append((sample + noise).assign(island=f"g{g:04d}"))
    return pd.concat(frames, ignore_index=True).loc[:, ["island", *clustering.FEATURES]]


def tutorial_style_task(tracking_uri: str, experiment_id: str, parent_run_id: str, eps_values: tuple[float, ...]):
    """The tutorial's logging, minus its bugs that would change the counts (it closed the parent).

    Run on the session ours ran on, which shipped the project's code to the executors."""

    def run_group(key, rows: pd.DataFrame) -> pd.DataFrame:
        import mlflow
        from sklearn.cluster import DBSCAN
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        mlflow.set_tracking_uri(tracking_uri)
        group = str(key[0])
        out = []
        for result in clustering.sweep(rows, clustering.FEATURES, eps_values, 3):
            run_name = f"{group}-eps{result.eps:g}"
            with mlflow.start_run(experiment_id=experiment_id, parent_run_id=parent_run_id, run_name=run_name) as run:
                mlflow.log_param("eps", result.eps)
                for name, value in result.metrics.items():
                    mlflow.log_metric(name, -1 if value is None else value)  # the tutorial's -1
                # The tutorial's model: scaler and DBSCAN, no predict; its requirements inferred.
                model = make_pipeline(StandardScaler(), DBSCAN(eps=result.eps, min_samples=3))
                info = mlflow.sklearn.log_model(model.fit(rows.loc[:, list(clustering.FEATURES)]), name="dbscan")
            metrics = {k: (np.nan if v is None else v) for k, v in result.metrics.items()}
            ids = {"run_id": run.info.run_id, "model_uri": info.model_uri, "group_run_id": parent_run_id}
            out.append({"group": group, "eps": result.eps, **metrics, **ids})
        return pd.DataFrame(out)

    return run_group


def ms_per(seconds: float, count: int) -> str:
    return f"{seconds / count * 1000:.0f} ms"


def timed(label: str, fn):
    started = time.monotonic()
    result = fn()
    seconds = time.monotonic() - started
    print(f"{label}: {seconds:.2f} s", flush=True)
    return seconds, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groups", type=int, default=0, help="synthetic groups (0: the three islands)")
    parser.add_argument("--skip-tutorial", action="store_true", help="only time this project's sweep")
    parser.add_argument("--tracking-uri", default="", help="an existing server (default: start one)")
    parser.add_argument("--spark-master", default="local[*]")
    args = parser.parse_args()

    rows = (
        synthetic_penguins(args.groups)
        if args.groups
        else load_penguins().frame.loc[:, ["island", *clustering.FEATURES]]
    )
    n_groups, eps_values = rows["island"].nunique(), clustering.DEFAULT_EPS
    n_runs = n_groups * len(eps_values)
    print(f"{n_groups} groups x {len(eps_values)} eps = {n_runs} eps runs, models included", flush=True)

    server = None
    with tempfile.TemporaryDirectory() as tmp:
        tracking_uri = args.tracking_uri
        if not tracking_uri:
            tracking_uri, server = start_tracking_server(Path(tmp))
        try:
            mlflow.set_tracking_uri(tracking_uri)
            os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
            client = mlflow.MlflowClient()
            experiment_id = client.create_experiment(fresh_experiment_name("bench-cluster-sweep"))
            requirements = tuple(pinned(*SKLEARN_REQUIREMENTS))

            def ours() -> pd.DataFrame:
                job = client.create_run(experiment_id, run_name="bench-ours")
                config = SweepConfig(
                    tracking_uri=tracking_uri,
                    experiment_id=experiment_id,
                    job_run_id=job.info.run_id,
                    group_by="island",
                    features=clustering.FEATURES,
                    eps_values=eps_values,
                    min_samples=3,
                    select_by="s_dbw",
                    pip_requirements=requirements,
                )
                return run_sweep(spark, rows, config, progress_every_s=5)

            with spark_session(args.spark_master, "bench-cluster-sweep", {}, worker_imports(tracking_uri)) as spark:
                cold, _ = timed("ours, cold (first sweep of the session)", ours)
                server_cpu = cpu_seconds(server.pid) if server else 0.0
                warm, results = timed("ours, warm", ours)
                assert len(results) == n_runs
                print(
                    f"ours: {ms_per(warm, n_groups)} per group, {ms_per(warm, n_runs)} per eps run (warm); "
                    f"{ms_per(cold, n_groups)} per group (cold)"
                )
                if server:  # the single-process server is this sweep's bottleneck: show its share
                    print(f"tracking server CPU during the warm sweep: {cpu_seconds(server.pid) - server_cpu:.2f} s")
                if not args.skip_tutorial:
                    parent = client.create_run(experiment_id, run_name="bench-tutorial").info.run_id
                    task = tutorial_style_task(tracking_uri, experiment_id, parent, eps_values)
                    frame = spark.createDataFrame(rows)
                    tutorial, _ = timed(
                        "tutorial-style",
                        lambda: frame.groupBy("island").applyInPandas(task, RESULT_SCHEMA).toPandas(),
                    )
                    print(f"ratio tutorial-style / ours: {tutorial / warm:.1f}x (warm), {tutorial / cold:.1f}x (cold)")
        finally:
            if server is not None:
                stop_process(server)


if __name__ == "__main__":
    main()
