"""Entry point `score`: a table scored on Spark with any model of this project, written where asked.

    mlflow run . -e score --env-manager local -P model=models:/penguins-clusters-island@champion \\
        -P data=/abs/new.parquet -P output=/abs/scored.parquet
    python -m steps.score --model models:/penguins-classify-sex@champion --output scored.csv

Every row is written, its columns as they were read, then the model's answer (the router's
`group`, `eps`, `cluster`; one output: `prediction`) and a `reason`: why a row has no answer
(a missing or non-finite value, an unknown group or category), or the router's reason for -1.
The output appears only once it is complete. The run records the model (pinned to the version
an alias named), the data as a dataset input, the counts and the answer's distribution.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import mlflow

from steps import UserError
from steps.cli.params import Param, ParamError, boolean, text
from steps.ml.data import table_at
from steps.scoring.job import (
    check_columns,
    is_csv,
    output_path,
    read_back,
    read_table,
    scored,
    tally,
    write,
    written_in_place,
)
from steps.scoring.model import resolve
from steps.spark.session import SPARK_MASTER, executor_environment, ship_project_code, spark_session
from steps.tracking.runner import run_step
from steps.tracking.server import absolute_tracking_uri

MODEL_FORMS = "models:/<name>@<alias>, models:/<name>/<version>, models:/<model id> or runs:/<run id>/<path>"
PARAMS = (
    Param("model", "", text, f"the model to score with: {MODEL_FORMS}"),
    Param("output", "", text, "where to write: a local path; Parquet, or CSV when it ends in .csv"),
    Param("overwrite", "false", boolean, "replace an output that exists"),
    SPARK_MASTER,
)
WORKER_IMPORTS = ("mlflow.pyfunc",)


def score(values, table):
    from steps.ml import plots  # matplotlib: not needed to fail fast on bad input

    if not values["model"]:
        raise ParamError(f"model: must be a model URI ({MODEL_FORMS}), got ''")
    output = output_path(values["output"], values["overwrite"])
    run = mlflow.active_run()
    tracking_uri = absolute_tracking_uri(mlflow.get_tracking_uri())
    with tempfile.TemporaryDirectory() as tmp:
        model = resolve(values["model"], Path(tmp))
        mlflow.set_tags(model.tags())
        env = executor_environment(tracking_uri, run.info.experiment_id)
        with spark_session(values["spark_master"], "score", env, WORKER_IMPORTS, small_data=False) as spark:
            ship_project_code(spark)
            frame = read_table(spark, table.source)
            check_columns(frame, model)
            started = time.monotonic()
            with written_in_place(output) as temporary:
                write(scored(spark, frame, model, tracking_uri), temporary, csv=is_csv(output.name))
                written = read_back(spark, temporary, csv=is_csv(output.name))
                numbers, answers = tally(written, model)
                if numbers["rows_in"] and not numbers["rows_scored"]:
                    first = written.select("reason").first()["reason"]
                    raise UserError(
                        f"model: scored none of the {numbers['rows_in']} rows; the first row's reason: {first}"
                    )
            seconds = time.monotonic() - started
    numbers["rows_per_s"] = numbers["rows_in"] / seconds
    mlflow.log_metrics(numbers)
    mlflow.log_table(answers, "answers.json")
    title = f"{model.given}: {numbers['rows_scored']} of {numbers['rows_in']} rows scored"
    mlflow.log_figure(plots.answers_figure(title, answers, model.inputs.key), "answers.png")
    print(f"score: {numbers['rows_in']} rows written to {output} ({numbers['rows_unscored']} without an answer)")
    return numbers


def main(argv=None):
    run_step("score", PARAMS, score, argv, load=table_at, data_context="scoring")


if __name__ == "__main__":
    main()
