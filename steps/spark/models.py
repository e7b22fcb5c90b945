"""Logging a fitted pyspark.ml model, from a classic session or over Spark Connect."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from steps.cli.params import ParamError
from steps.spark.session import is_connect


def log_spark_model(
    spark, model, name: str, *, signature, input_example, pip_requirements: list[str], metadata: dict
) -> str:
    """Log a fitted pyspark.ml model as this run's model `name`, with `metadata`; return its models:/ URI."""
    import mlflow

    if not is_connect(spark):
        info = mlflow.spark.log_model(
            model,
            name,
            signature=signature,
            input_example=input_example,
            pip_requirements=pip_requirements,
            metadata=metadata,
        )
        return info.model_uri
    # MLflow 3.17 saves Spark models through py4j, which a Spark Connect client does not have.
    # So the Connect server writes the model into a directory this process can read (the same
    # host, or a shared MLFLOW_DFS_TMP), a local Spark in a child process turns it into an
    # MLflow model directory, and that directory is logged as the run's model.
    import json
    import subprocess
    import tempfile

    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory(dir=os.environ.get("MLFLOW_DFS_TMP")) as tmp:
        model.write().overwrite().save(os.path.join(tmp, "sparkml"))
        if not os.path.isdir(os.path.join(tmp, "sparkml")):
            raise ParamError(
                "spark_master: the Spark Connect server saved the model where this machine cannot read it;"
                " set MLFLOW_DFS_TMP to a directory that both share"
            )
        input_example.to_parquet(os.path.join(tmp, "example.parquet"))
        spec = {"signature": signature.to_dict(), "pip_requirements": pip_requirements, "metadata": metadata}
        Path(tmp, "spec.json").write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if k not in ("SPARK_REMOTE", "SPARK_CONNECT_MODE_ENABLED")}
        subprocess.run([sys.executable, "-m", "steps.spark.export", tmp], check=True, env=env)
        logged = mlflow.initialize_logged_model(name=name, model_type="spark")
        MlflowClient().log_model_artifacts(logged.model_id, os.path.join(tmp, "model"))
        mlflow.finalize_logged_model(logged.model_id, "READY")
    return f"models:/{logged.model_id}"
