"""Run one entry point of this project as a Databricks job task (spark_python_task).

    python databricks/run_step.py <entry point> [--param value ...]

The same step code as `mlflow run`: the arguments after the entry point are its flags
(`--seed 42`, see MLproject). Databricks runs this file as a script, not as a module of
the project, so the project root goes on sys.path first. The job cluster's SparkSession is
created (attached) here, so the steps find it active and reuse it; MLFLOW_TRACKING_URI and
MLFLOW_EXPERIMENT_NAME come from the cluster's environment (see databricks.yml).
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from steps.cli.mlproject import declared_parameters
    from steps.spark.session import SPARK_MASTER

    declared = declared_parameters()
    steps = sorted(e for e in declared if e != "main")  # main chains steps with mlflow.run; the job chains tasks
    if not argv or argv[0] not in steps:
        given = argv[0] if argv else ""
        print(f"error: entry point: must be one of {', '.join(steps)}, got '{given}'", file=sys.stderr)
        sys.exit(2)
    if SPARK_MASTER.name in declared[argv[0]]:  # a Spark step
        from pyspark.sql import SparkSession

        SparkSession.builder.getOrCreate()  # on Databricks: the cluster's session, now active
    sys.argv = [f"steps.{argv[0]}", *argv[1:]]
    runpy.run_module(f"steps.{argv[0]}", run_name="__main__")


if __name__ == "__main__":
    main(sys.argv[1:])
