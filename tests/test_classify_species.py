"""End to end: `mlflow run . -e classify_species` on local Spark, a real standalone cluster
and a Spark Connect server, each logging to the real tracking server."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from harness.cli import fresh_experiment_name
from steps.ml.data import load_penguins, split_rows
from steps.ml.species import FEATURES, SPECIES
from steps.tracking.models import HELDOUT_ROWS
from tests.support import mlflow_run

pytestmark = [pytest.mark.e2e, pytest.mark.spark]

METRICS = {"train_acc", "eval_acc", *(f"f1_{name}" for name in SPECIES)}


def run_species(tracking_uri, **params):
    experiment = fresh_experiment_name("species")
    result = mlflow_run("classify_species", experiment, tracking_uri, env={"SPARK_LOCAL_IP": "127.0.0.1"}, **params)
    assert result.returncode == 0, result.stderr[-3000:]
    run = result.run()
    assert run.info.status == "FINISHED"
    assert set(run.data.metrics) >= METRICS
    assert run.data.metrics["eval_acc"] > 0.9
    return run


@pytest.fixture(scope="module")
def local_run(tracking_uri):
    return run_species(tracking_uri)


def test_local_run_logs_metrics_and_parameters(local_run):
    assert local_run.data.params["spark_master"] == "'local[*]'"  # as MLflow Projects quotes it
    assert local_run.data.params["max_iter"] == "10"
    assert local_run.data.tags["spark_master"].startswith("local")
    assert all(0 <= local_run.data.metrics[m] <= 1 for m in METRICS)


def test_the_heldout_rows_are_the_test_fraction(local_run):
    path = mlflow.artifacts.download_artifacts(run_id=local_run.info.run_id, artifact_path=HELDOUT_ROWS)
    heldout = pd.read_parquet(path)
    _, expected = split_rows(load_penguins().frame, "species", 0.2, 42)
    assert list(heldout.columns) == [*FEATURES, "species"]
    assert len(heldout) == 67
    pd.testing.assert_frame_equal(heldout, expected.loc[:, [*FEATURES, "species"]].reset_index(drop=True))


def test_model_reloads_as_pyfunc_and_scores_raw_penguins(local_run):
    model = mlflow.pyfunc.load_model(local_run.data.tags["model_uri"])
    penguins = load_penguins().frame
    predicted = pd.Series(model.predict(penguins.loc[:, list(FEATURES)]))
    assert set(predicted) <= set(SPECIES)
    assert (predicted.to_numpy() == penguins["species"].to_numpy()).mean() > 0.9


def test_model_reloads_as_spark_model(local_run):
    from pyspark.sql import SparkSession

    spark = SparkSession.getActiveSession() or SparkSession.builder.master("local[1]").getOrCreate()
    model = mlflow.spark.load_model(local_run.data.tags["model_uri"])
    rows = [[39.1, 18.7, 181.0, 3750.0, "Torgersen", "male"], [46.5, 13.5, 210.0, 4550.0, "Biscoe", "female"]]
    raw = spark.createDataFrame(pd.DataFrame(rows, columns=list(FEATURES)))
    assert [row.prediction for row in model.transform(raw).select("prediction").collect()] == ["Adelie", "Gentoo"]


def test_same_seed_same_metrics(local_run, tracking_uri):
    again = run_species(tracking_uri)
    assert {m: again.data.metrics[m] for m in METRICS} == {m: local_run.data.metrics[m] for m in METRICS}


@pytest.mark.slow
def test_runs_on_a_standalone_cluster(tracking_uri, spark_cluster):
    run = run_species(tracking_uri, spark_master=spark_cluster.master_url)
    assert run.data.tags["spark_master"] == spark_cluster.master_url
    apps = [a for a in spark_cluster.state()["completedapps"] if a["name"] == "classify_species"]
    assert apps, "the cluster never saw the application"
    # The work ran in executor processes that the workers started, not in the driver.
    assert spark_cluster.executor_dirs("classify_species")
    assert mlflow.pyfunc.load_model(run.data.tags["model_uri"]) is not None


@pytest.mark.slow
def test_runs_over_spark_connect(tracking_uri, spark_connect):
    run = run_species(tracking_uri, spark_master=spark_connect)
    assert run.data.tags["spark_master"] == "spark-connect"
    model = mlflow.pyfunc.load_model(run.data.tags["model_uri"])
    penguins = load_penguins().frame.head(20)
    assert list(model.predict(penguins.loc[:, list(FEATURES)])) == list(penguins["species"])
