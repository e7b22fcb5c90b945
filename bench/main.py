"""Benchmark `main`, as a user runs it: cold (every step fresh), then warm (every step reused).

    python bench/main.py                  # also the tutorial-style baseline (a few minutes more)
    python bench/main.py --skip-tutorial

Runs `mlflow run <project> --env-manager local` twice in a new experiment on a fresh
`mlflow server` (SQLite in WAL mode, one worker, 127.0.0.1) and prints both wall times. The baseline
is measured in the same run, one step after another as the tutorial runs them: the
cluster sweep logged as the tutorial logs it (one call per param and metric, `log_model`
inferring requirements; see bench/cluster_sweep.py), plus this project's other three
entry points, each with its own `mlflow run`. That is a lower bound of the tutorial's own
time (its other steps infer requirements too), so the printed ratio is conservative.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

import mlflow

from bench.cluster_sweep import tutorial_style_task
from harness.cli import fresh_experiment_name, mlflow_run_command
from harness.servers import start_tracking_server, stop_process
from steps import PROJECT
from steps.ml import clustering
from steps.ml.data import load_penguins
from steps.spark.session import spark_session
from steps.sweep.config import RESULT_SCHEMA

STEP_TIME = re.compile(r"^main: (\w+): (fresh|reused) \(run \w+, ([\d.]+) s\)$", re.M)


def run_main(tracking_uri: str, experiment: str, entry_point: str = "main") -> tuple[float, dict[str, float]]:
    """Wall time of one `mlflow run` of an entry point, and each step's time as main printed it."""
    cmd = mlflow_run_command(PROJECT, entry_point, experiment, {})
    started = time.monotonic()
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri})
    seconds = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"{entry_point} failed:\n{done.stderr[-3000:]}")
    return seconds, {name: float(s) for name, _, s in STEP_TIME.findall(done.stdout)}


def tutorial_style_sweep(tracking_uri: str) -> float:
    client = mlflow.MlflowClient(tracking_uri)
    experiment_id = client.create_experiment(fresh_experiment_name("bench-main-tutorial"))
    parent = client.create_run(experiment_id, run_name="tutorial-style").info.run_id
    rows = load_penguins().frame.loc[:, ["island", *clustering.FEATURES]]
    task = tutorial_style_task(tracking_uri, experiment_id, parent, clustering.DEFAULT_EPS)
    started = time.monotonic()  # Spark's start counts: the tutorial starts it too
    with spark_session("local[*]", "bench-main-tutorial", {}) as spark:
        spark.createDataFrame(rows).groupBy("island").applyInPandas(task, RESULT_SCHEMA).toPandas()
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-tutorial", action="store_true", help="only time main, cold and warm")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tracking_uri, server = start_tracking_server(Path(tmp))
        try:
            experiment = fresh_experiment_name("bench-main")
            cold, steps = run_main(tracking_uri, experiment)
            per_step = ", ".join(f"{k} {v:.1f} s" for k, v in steps.items())
            print(f"main, cold (every step fresh): {cold:.1f} s ({per_step})")
            warm, _ = run_main(tracking_uri, experiment)
            print(f"main, warm (every step reused): {warm:.1f} s")
            if not args.skip_tutorial:
                one_by_one = fresh_experiment_name("bench-main-one-by-one")
                others = {
                    step: run_main(tracking_uri, one_by_one, step)[0]
                    for step in ("classify_sex", "tune_body_mass", "classify_species")
                }
                sweep = tutorial_style_sweep(tracking_uri)
                baseline = sweep + sum(others.values())
                shown = ", ".join(f"{k} {v:.1f} s" for k, v in others.items())
                print(f"tutorial-style baseline: {baseline:.1f} s (its cluster sweep {sweep:.1f} s; {shown})")
                print(f"ratio baseline / main: {baseline / cold:.1f}x cold, {baseline / warm:.1f}x warm")
        finally:
            stop_process(server)


if __name__ == "__main__":
    main()
