"""Turn a saved pyspark.ml model into an MLflow model directory, in a local Spark session.

    python -m steps.spark.export DIR     # reads DIR/sparkml, DIR/example.parquet, DIR/spec.json; writes DIR/model

Used by steps.spark.models.log_spark_model for models trained over Spark Connect, whose
client process cannot start a classic session of its own.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.models import ModelSignature
from pyspark.ml import PipelineModel
from pyspark.sql import SparkSession

from steps import imports_done
from steps.spark.session import LOG4J_CONFIG


def export(directory: Path) -> None:
    spec = json.loads((directory / "spec.json").read_text())
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={LOG4J_CONFIG.as_uri()}")
        .getOrCreate()
    )
    try:
        mlflow.spark.save_model(
            PipelineModel.load(str(directory / "sparkml")),
            str(directory / "model"),
            signature=ModelSignature.from_dict(spec["signature"]),
            input_example=pd.read_parquet(directory / "example.parquet"),
            pip_requirements=spec["pip_requirements"],
            metadata=spec["metadata"],
        )
    finally:
        spark.stop()


if __name__ == "__main__":
    imports_done()
    export(Path(sys.argv[1]))
