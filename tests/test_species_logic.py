"""The Spark ML species pipeline (steps/ml/species.py) on one local Spark session: encoding, fit, metrics, names."""

from __future__ import annotations

import pytest
from pyspark.ml.feature import SQLTransformer
from pyspark.sql import SparkSession
from sklearn.metrics import accuracy_score, f1_score

from steps.ml import species
from steps.ml.data import load_penguins, split_rows

pytestmark = [pytest.mark.spark]


@pytest.fixture(scope="module")
def spark():
    active = SparkSession.getActiveSession()
    if active is not None:  # only one SparkContext per process: drop one another module left behind
        active.stop()
    session = SparkSession.builder.master("local[2]").config("spark.sql.shuffle.partitions", "4").getOrCreate()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def split(spark):
    train, test = split_rows(load_penguins().frame, "species", 0.2, 42)
    return (
        spark.createDataFrame(species.training_frame(train)),
        spark.createDataFrame(species.training_frame(test)),
        test,
    )


@pytest.fixture(scope="module")
def fitted(split):
    train, test, _ = split
    model = species.fit(train, max_iter=10, reg_param=0.0)
    return model, species.evaluate(model, train, test)


def test_encoding_uses_documented_codes_and_null_for_unknown(spark):
    rows = [
        (" biscoe ", "Female"),
        ("DREAM", " MALE"),
        ("Torgersen", "male  "),
        ("Atlantis", "unknown"),
        (None, None),
    ]
    frame = spark.createDataFrame(rows, "island string, sex string")
    encoded = SQLTransformer(statement=species.encoding_sql()).transform(frame)
    got = [(row.island_encoded, row.sex_encoded) for row in encoded.collect()]
    assert got == [(0.0, 0.0), (1.0, 1.0), (2.0, 1.0), (None, None), (None, None)]
    assert [row.island for row in encoded.collect()] == [row[0] for row in rows]  # the raw columns stay


def test_fit_and_evaluate_on_the_bundled_split(fitted):
    _, metrics = fitted
    assert set(metrics) == {"train_acc", "eval_acc", "f1_Adelie", "f1_Chinstrap", "f1_Gentoo"}
    assert metrics["eval_acc"] > 0.9
    for name in ("f1_Adelie", "f1_Chinstrap", "f1_Gentoo"):
        assert 0.0 <= metrics[name] <= 1.0


def test_metrics_are_sklearns(fitted, split):
    model, metrics = fitted
    predicted = species.predicted_labels(model, split[1])
    assert metrics["eval_acc"] == accuracy_score(predicted["label"], predicted["species_code"])
    expected = f1_score(predicted["label"], predicted["species_code"], labels=range(3), average=None, zero_division=0)
    assert [metrics[f"f1_{name}"] for name in species.SPECIES] == pytest.approx(list(expected), abs=1e-12)


def test_fitting_twice_gives_identical_metrics(split, fitted):
    train, test, _ = split
    again = species.evaluate(species.fit(train, max_iter=10, reg_param=0.0), train, test)
    assert again == fitted[1]


def test_prediction_column_holds_species_names_for_raw_rows(spark, split, fitted):
    model, _ = fitted
    _, _, test = split
    raw = test.loc[:, list(species.FEATURES)]
    assert raw["island"].map(type).eq(str).all() and raw["sex"].map(type).eq(str).all()
    predicted = model.transform(spark.createDataFrame(raw)).select("prediction").toPandas()["prediction"]
    assert set(predicted) <= set(species.SPECIES)
    assert (predicted.to_numpy() == test["species"].to_numpy()).mean() > 0.9
