"""Benchmark `score`, a million rows over a thousand groups, against spark_udf of the router and one pandas process.

    python bench/score.py                       # 1,000,000 rows three ways, then 10,000,000 by score alone
    python bench/score.py --rows 200000 --large 0

A router of 1,000 generated sites (harness/routers.py: each group's model fitted as the sweep
fits it, logged by the sweep's own log_router) on a tracking server of its own (`harness/`); a
Parquet table of that many rows drawn from the sites' own rows, jittered, in no order. Each
way, in a fresh process, reads the table, labels every row and writes it as Parquet:

* `score`: `mlflow run . -e score` as a user runs it (`local[*]`); its rate is the run's
  `rows_per_s` (from the Spark job's start to the output written and counted), its wall time
  the whole `mlflow run`;
* spark_udf: `mlflow.pyfunc.spark_udf` of the router on a local[*] session, the way a user
  would write it (`withColumn` over the table's columns), from the read to the write;
* pandas: `pd.read_parquet`, `mlflow.pyfunc.load_model(...).predict`, `to_parquet`, in one process;
* plain and grouped: score's own Spark job, from the read to the write, on the rows as read or
  repartitioned by site first (so that each task meets few sites): what grouping the rows buys.

For each: rows/s, the ratio to the others, and the peak resident memory of the driver's Python
process and of Spark's JVM (sampled every half second). Then `score` alone at --large rows:
rows/s against the 1,000,000-row run's.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere

from bench.cluster_sweep import peak_memory_of
from harness.cli import fresh_experiment_name, mlflow_run_command
from harness.routers import log_router_of
from harness.servers import start_tracking_server, stop_process
from harness.tables import FEATURES, grouped_table, numbered_groups
from steps import PROJECT

GROUPS = 1000
COLUMNS = ["site", *FEATURES]


def table_of(rows: int, sites: pd.DataFrame, path: Path) -> None:
    """`rows` rows drawn from the sites' own rows, each feature jittered by a tenth of its spread, in no order."""
    rng = np.random.default_rng(rows)
    drawn = sites.sample(rows, replace=True, random_state=rows).reset_index(drop=True)
    spread = drawn.loc[:, list(FEATURES)].std().to_numpy()
    drawn.loc[:, list(FEATURES)] += rng.normal(0, 0.1, size=(rows, len(FEATURES))) * spread
    drawn.to_parquet(path, row_group_size=1_000_000)


def by_spark_udf(model_uri: str, data: str, output: str) -> None:
    """In this fresh process: spark_udf of the router over the table; print the seconds and rows as JSON."""
    import mlflow
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as fn

    spark = SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false").getOrCreate()
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type="group string, eps double, cluster long, reason string")
    started = time.perf_counter()
    frame = spark.read.parquet(data)
    frame.withColumn("answer", udf(*[fn.col(c) for c in COLUMNS])).write.parquet(output)
    seconds = time.perf_counter() - started
    rows = spark.read.parquet(output).count()
    print(json.dumps({"seconds": seconds, "rows": rows}))


def by_mapinpandas(grouping: str, model_uri: str, data: str, output: str) -> None:
    """In this fresh process: score's own Spark job (steps/scoring/job.py) over the table, its rows as read
    (`plain`) or first repartitioned by site (`grouped`, so that each task meets few sites); print the
    seconds and rows as JSON."""
    from pyspark.sql import SparkSession

    from steps.scoring.job import scored
    from steps.scoring.model import resolve

    spark = SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false").getOrCreate()
    with tempfile.TemporaryDirectory() as tmp:
        model = resolve(model_uri, Path(tmp))
        started = time.perf_counter()
        frame = spark.read.parquet(data)
        if grouping == "grouped":
            frame = frame.repartition(spark.sparkContext.defaultParallelism, "site")
        scored(spark, frame, model, os.environ["MLFLOW_TRACKING_URI"]).write.parquet(output)
        seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": spark.read.parquet(output).count()}))


def by_pandas(model_uri: str, data: str, output: str) -> None:
    """In this fresh process: read, load, predict, write; print the seconds and rows as JSON."""
    import mlflow

    started = time.perf_counter()
    table = pd.read_parquet(data)
    answer = mlflow.pyfunc.load_model(model_uri).predict(table.loc[:, COLUMNS])
    pd.concat([table, answer], axis=1).to_parquet(output)
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": len(table)}))


def watched(command: list[str], env: dict, driver_pattern: str) -> tuple[subprocess.CompletedProcess, float, dict]:
    """Run `command`; (its result, wall seconds, the driver's and Spark JVM's peak memory in MB)."""
    started = time.monotonic()
    with peak_memory_of(driver_pattern) as peaks:
        done = subprocess.run(command, env=env, cwd=PROJECT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{command[:4]} failed:\n{done.stderr[-3000:]}")
    return done, time.monotonic() - started, peaks


def by_score(model_uri: str, data: Path, output: Path, tracking_uri: str) -> dict:
    import mlflow

    experiment = fresh_experiment_name("bench-score")
    params = {"model": model_uri, "data": data, "output": output}
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    done, wall, peaks = watched(mlflow_run_command(PROJECT, "score", experiment, params), env, r"-m steps\.score")
    run_id = next(line.split()[2] for line in done.stdout.splitlines() if line.startswith("score: run "))
    metrics = mlflow.get_run(run_id).data.metrics
    return {
        "way": "score",
        "rows": metrics["rows_in"],
        "rate": metrics["rows_per_s"],
        "wall": wall,
        **peaks,
    }


def by_process(way: str, model_uri: str, data: Path, output: Path, tracking_uri: str) -> dict:
    command = [sys.executable, __file__, f"--{way}", model_uri, str(data), str(output)]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_uri}
    done, wall, peaks = watched(command, env, rf"bench/score\.py --{way}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    rate = measured["rows"] / measured["seconds"]
    return {"way": way, "rows": measured["rows"], "rate": rate, "wall": wall, **peaks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--large", type=int, default=10_000_000, help="rows for score alone (0: skip)")
    parser.add_argument("--spark-udf", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--pandas", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--plain", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--grouped", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.spark_udf:
        return by_spark_udf(*args.spark_udf)
    if args.plain or args.grouped:
        return by_mapinpandas("plain" if args.plain else "grouped", *(args.plain or args.grouped))
    if args.pandas:
        return by_pandas(*args.pandas)

    import mlflow

    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        tracking_uri, server = start_tracking_server(root)
        mlflow.set_tracking_uri(tracking_uri)
        try:
            sites = grouped_table(numbered_groups(GROUPS))
            model_uri = log_router_of(sites, "site", FEATURES, 1.0, fresh_experiment_name("bench-score-router"))
            table_of(args.rows, sites, root / "rows.parquet")
            results = [
                by_score(model_uri, root / "rows.parquet", root / "score.parquet", tracking_uri),
                by_process("spark-udf", model_uri, root / "rows.parquet", root / "udf.parquet", tracking_uri),
                by_process("pandas", model_uri, root / "rows.parquet", root / "pandas.parquet", tracking_uri),
                by_process("plain", model_uri, root / "rows.parquet", root / "plain.parquet", tracking_uri),
                by_process("grouped", model_uri, root / "rows.parquet", root / "grouped.parquet", tracking_uri),
            ]
            if args.large:
                table_of(args.large, sites, root / "large.parquet")
                results.append(by_score(model_uri, root / "large.parquet", root / "large-score.parquet", tracking_uri))
        finally:
            stop_process(server)
    print(f"\n{'way':>10} {'rows':>11} {'rows/s':>10} {'wall':>8} {'driver peak':>12} {'JVM peak':>9}")
    for r in results:
        print(
            f"{r['way']:>10} {r['rows']:11,.0f} {r['rate']:10,.0f} {r['wall']:7.1f}s"
            f" {r['driver']:10.0f}MB {r['jvm']:7.0f}MB"
        )
    score, udf, pandas_way, plain, grouped = results[:5]
    print(
        f"\nscore / spark_udf: {score['rate'] / udf['rate']:.1f}x;"
        f" score / pandas: {score['rate'] / pandas_way['rate']:.2f}x;"
        f" score's job with its rows grouped by site / as read: {grouped['rate'] / plain['rate']:.2f}x"
    )
    if args.large:
        large = results[5]
        print(
            f"score at {large['rows']:,.0f} rows / at {score['rows']:,.0f}:"
            f" rows/s {large['rate'] / score['rate']:.2f}x, "
            f"driver peak {large['driver'] / score['driver']:.2f}x"
        )


if __name__ == "__main__":
    main()
