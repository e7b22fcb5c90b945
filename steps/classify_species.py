"""Entry point `classify_species`: Spark ML logistic regression predicting the species.

mlflow run . -e classify_species --env-manager local
mlflow run . -e classify_species --env-manager local -P spark_master=spark://host:7077
mlflow run . -e classify_species --env-manager local -P spark_master=sc://host:15002
python -m steps.classify_species --max-iter 20
"""

from __future__ import annotations

import mlflow

from steps.cli.params import Param, integer, number
from steps.cli.shared_params import SEED
from steps.ml.data import categories_of, split_rows
from steps.spark.models import log_spark_model
from steps.spark.session import SPARK_MASTER, executor_environment, is_connect, spark_session
from steps.tracking.models import CATEGORIES, log_heldout_rows, pinned
from steps.tracking.runner import run_step

PARAMS = (
    Param("test_fraction", "0.2", number(0, 1), "fraction of penguins held out for evaluation"),
    SEED,
    Param("max_iter", "10", integer(1), "maximum iterations of the logistic regression"),
    Param("reg_param", "0.0", number(0, low_open=False), "regularisation strength (>= 0)"),
    SPARK_MASTER,
)
MODEL_NAME = "species_classifier"


def classify_species(values, penguins):
    # Imported here, not at the top: `main` imports this module for PARAMS alone and must start fast.
    from mlflow.models import infer_signature

    from steps.ml import species

    train_rows, test_rows = split_rows(penguins.frame, "species", values["test_fraction"], values["seed"])
    run = mlflow.active_run()
    env = executor_environment(mlflow.get_tracking_uri(), run.info.experiment_id)
    with spark_session(values["spark_master"], "classify_species", env) as spark:
        mlflow.set_tag("spark_master", describe_master(spark))
        train = spark.createDataFrame(species.training_frame(train_rows))
        test = spark.createDataFrame(species.training_frame(test_rows))
        model = species.fit(train, values["max_iter"], values["reg_param"])
        metrics = species.evaluate(model, train, test)
        mlflow.log_metrics(metrics)

        example = test_rows.loc[:, list(species.FEATURES)].head(5)
        predicted = model.transform(spark.createDataFrame(example)).select("prediction").toPandas()["prediction"]
        model_uri = log_spark_model(
            spark,
            model,
            MODEL_NAME,
            signature=infer_signature(example, predicted),
            input_example=example,
            pip_requirements=pinned("pyspark", "pandas", "numpy", "pyarrow"),
            metadata={CATEGORIES: categories_of(species.CATEGORICAL)},
        )
    mlflow.set_tag("model_uri", model_uri)
    log_heldout_rows(test_rows.loc[:, [*species.FEATURES, "species"]])
    return metrics


def describe_master(spark) -> str:
    """Where the work ran: the master URL, or the Connect endpoint."""
    return "spark-connect" if is_connect(spark) else spark.sparkContext.master


def main(argv=None):
    run_step("classify_species", PARAMS, classify_species, argv)


if __name__ == "__main__":
    main()
