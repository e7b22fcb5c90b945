"""The driver side of `score`: read the table with Spark, score it, write it where asked, count what was scored.

A pyfunc model scores each Spark task's Arrow batches (`mapInPandas`, steps/scoring/task.py); a
Spark model (species_classifier) is applied with Spark ML itself to the rows that can be
scored, the others kept with their reason. Either way every row is written, with its columns as
they were read, then the answer and its reason. Nothing is collected to the driver but counts.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from steps.cli.params import ParamError
from steps.ml.data import DataError, local_path
from steps.ml.scoring import REASON
from steps.scoring.model import ScoredModel
from steps.scoring.task import batch_scorer, row_checker

if TYPE_CHECKING:
    import pandas as pd

SPARK_TYPES = {"string": "string", "double": "double", "long": "bigint", "boolean": "boolean"}  # kind -> Spark SQL
HISTOGRAM_BINS = 20


def quoted(name: str) -> str:
    """A column name as Spark SQL reads it whatever it holds (dots, spaces, backticks)."""
    return "`" + name.replace("`", "``") + "`"


def is_csv(location: str) -> bool:
    return location.lower().rstrip("/").endswith(".csv")


def read_table(spark, location: str):
    """The table at `location` (a CSV or Parquet file or folder, path or URI) as Spark reads it: Parquet with its
    types, CSV with a header and every column as text. DataError naming `data` when it cannot be read."""
    path = local_path(location)
    if path is not None and not path.exists():
        raise DataError(f"data: no such file or folder '{location}' (give a CSV or Parquet file or folder)")
    parquet = location.lower().rstrip("/").endswith((".parquet", ".pq")) or (
        path is not None and path.is_dir() and any(path.glob("*.parquet"))
    )
    try:
        frame = spark.read.parquet(location) if parquet else spark.read.option("header", True).csv(location)
        frame.schema  # noqa: B018 (read now: a bad file fails here, naming `data`)
    except Exception as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0][:300]
        raise DataError(f"data: cannot read '{location}' as {'Parquet' if parquet else 'CSV'}: {reason}") from None
    return frame


def check_columns(frame, model: ScoredModel) -> None:
    """The model's inputs are in the table, and its answer's columns are not."""
    missing = [c for c in model.inputs.columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"data: missing column(s) {', '.join(missing)}, which the model takes "
            f"(it takes {', '.join(model.inputs.columns)})"
        )
    clash = [c for c in model.inputs.answer if c in frame.columns]
    if clash:
        raise DataError(f"data: column(s) {', '.join(clash)} would be overwritten by the model's answer; rename them")


def with_columns(frame, columns: dict[str, str]):
    """`frame`'s schema and then `columns` (name -> kind), as a StructType."""
    from pyspark.sql import types

    spark_type = {"string": types.StringType, "double": types.DoubleType, "long": types.LongType}
    spark_type["boolean"] = types.BooleanType
    added = [types.StructField(name, spark_type[kind]()) for name, kind in columns.items()]
    return types.StructType([*frame.schema.fields, *added])


def scored(spark, frame, model: ScoredModel, tracking_uri: str):
    """`frame` with the model's answer and its reason, as a Spark DataFrame (nothing computed yet)."""
    if model.flavor == "spark":
        return scored_by_spark_ml(frame, model)
    schema = with_columns(frame, dict(model.inputs.answer))
    return frame.mapInPandas(batch_scorer(tracking_uri, model.pinned, model.inputs), schema)


def scored_by_spark_ml(frame, model: ScoredModel):
    """A Spark ML model applied with Spark itself, in one pass that keeps the rows' order: a row it cannot take
    is given placeholder inputs (0, a known category) and its answer dropped, its reason kept."""
    from pyspark.sql import functions as fn

    inputs = model.inputs
    checked = frame.mapInPandas(row_checker(inputs), with_columns(frame, {REASON: "string"}))
    takes = fn.col(quoted(REASON)) == ""
    kept = [fn.col(quoted(c)).alias(f"__original_{i}") for i, c in enumerate(frame.columns)]
    placeholders = {
        **{c: ("string", (inputs.categories.get(c) or [""])[0]) for c in inputs.text},
        **{c: ("double", 0.0) for c in inputs.numeric},
    }
    taken = [
        fn.when(takes, fn.col(quoted(c)).cast(kind)).otherwise(fn.lit(placeholder).cast(kind)).alias(c)
        for c, (kind, placeholder) in placeholders.items()
    ]
    prepared = checked.select(*kept, *taken, fn.col(quoted(REASON)))
    back = [fn.col(f"__original_{i}").alias(c) for i, c in enumerate(frame.columns)]
    prediction = inputs.key
    answer = fn.when(takes, fn.col(quoted(prediction))).cast(SPARK_TYPES[inputs.answer[prediction]])
    return spark_model(model).transform(prepared).select(*back, answer.alias(prediction), fn.col(quoted(REASON)))


def spark_model(model: ScoredModel):
    """The fitted PipelineModel of a Spark model's local copy."""
    from mlflow.models import Model
    from pyspark.ml import PipelineModel

    data = Model.load(model.local).flavors["spark"]["model_data"]
    return PipelineModel.load(str(model.local / data))


def output_path(output: str, overwrite: bool) -> Path:
    """Where to write: a local path (or file:// URI) in an existing folder; ParamError if it exists, unless
    `overwrite`."""
    path = local_path(output)
    if not output.strip() or path is None:
        raise ParamError(f"output: must be a local path or file:// URI, got '{output}'")
    path = path.resolve()
    if not path.parent.is_dir():
        raise ParamError(f"output: no folder '{path.parent}' to write into")
    if path.exists() and not overwrite:
        raise ParamError(f"output: '{output}' exists; give -P overwrite=true to replace it")
    return path


@contextmanager
def written_in_place(output: Path) -> Iterator[Path]:
    """A temporary place next to `output` to write into; moved into place only if the block completes, else
    removed: an interrupted or failed job leaves no `output`, nor half of one."""
    temporary = output.with_name(f"{output.name}.incomplete-{uuid.uuid4().hex[:8]}")
    try:
        yield temporary
        if output.exists():  # overwrite: the old output goes only once the new one is complete
            replaced = output.with_name(f"{output.name}.replaced-{uuid.uuid4().hex[:8]}")
            os.replace(output, replaced)
            os.replace(temporary, output)
            shutil.rmtree(replaced) if replaced.is_dir() else replaced.unlink()
        else:
            os.replace(temporary, output)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)


def write(frame, path: Path, csv: bool) -> None:
    writer = frame.write.mode("error")  # "errorifexists": not over Spark Connect
    if csv:
        writer.option("header", True).csv(str(path))
    else:
        writer.parquet(str(path))


def read_back(spark, path: Path, csv: bool):
    reader = spark.read.option("header", True).csv if csv else spark.read.parquet
    return reader(str(path))


def tally(written, model: ScoredModel) -> tuple[dict[str, int], pd.DataFrame]:
    """rows_in, rows_scored and rows_unscored of the written table, and its answer's distribution, small enough
    to read: rows per group and cluster for the router, per label for a classifier, per bin of the prediction
    for a regressor. One pass over the table (two for a regressor: its range, then its bins)."""
    from pyspark.sql import functions as fn

    key = model.inputs.key
    kind = model.inputs.answer[key]
    answer = fn.col(quoted(key)).cast(SPARK_TYPES[kind])  # a CSV reads back text
    if kind == "double" and model.group_by is None:
        return regression_tally(written, answer)
    groups = ["group"] if model.group_by is not None else []
    table = written.groupBy(*groups, answer.alias(key)).count().withColumnRenamed("count", "rows").toPandas()
    table = table.sort_values([*groups, key], na_position="last").reset_index(drop=True)
    return row_counts(int(table["rows"].sum()), int(table.loc[table[key].notna(), "rows"].sum())), table


def row_counts(rows: int, scored: int) -> dict[str, int]:
    return {"rows_in": rows, "rows_scored": scored, "rows_unscored": rows - scored}


def regression_tally(written, prediction) -> tuple[dict[str, int], pd.DataFrame]:
    from pyspark.sql import functions as fn

    numbers = fn.count(fn.lit(1)), fn.count(prediction), fn.min(prediction), fn.max(prediction)
    rows, scored, low, high = written.agg(*numbers).collect()[0]
    width = ((high - low) / HISTOGRAM_BINS or 1.0) if low is not None else 1.0
    bins = fn.least(fn.floor((prediction - fn.lit(low or 0.0)) / width), fn.lit(HISTOGRAM_BINS - 1))
    table = written.groupBy(bins.alias("bin")).count().withColumnRenamed("count", "rows").toPandas()
    table["from"] = (low or 0.0) + table["bin"] * width
    table["to"] = table["from"] + width
    table.loc[table["bin"].isna(), ["from", "to"]] = None
    table = table.loc[:, ["from", "to", "rows"]].sort_values("from", na_position="last").reset_index(drop=True)
    return row_counts(rows, scored), table
