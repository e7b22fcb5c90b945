"""Predict a penguin's species with Spark ML. Spark DataFrames in, a PipelineModel and numbers out; no MLflow.

The fitted pipeline takes *raw* penguins (island and sex as text) and predicts the
species *name*, so the logged model scores rows as they appear in the data set:

    SQLTransformer (documented codes) -> VectorAssembler -> LogisticRegression -> IndexToString
"""

from __future__ import annotations

import pandas as pd

from steps.ml.data import CATEGORIES, MEASUREMENTS

CATEGORICAL = ("island", "sex")
FEATURES = (*MEASUREMENTS, *CATEGORICAL)
SPECIES = CATEGORIES["species"]


def encoding_sql(columns: tuple[str, ...] = CATEGORICAL) -> str:
    """A SQL statement giving `<column>_encoded` with the documented codes (NULL for unknown values)."""
    cases = []
    for column in columns:
        whens = " ".join(f"WHEN '{value.lower()}' THEN {code}.0" for code, value in enumerate(CATEGORIES[column]))
        cases.append(f"CASE lower(trim({column})) {whens} END AS {column}_encoded")
    return f"SELECT *, {', '.join(cases)} FROM __THIS__"


def species_pipeline(max_iter: int, reg_param: float):
    from pyspark.ml import Pipeline
    from pyspark.ml.classification import LogisticRegression
    from pyspark.ml.feature import IndexToString, SQLTransformer, VectorAssembler

    return Pipeline(
        stages=[
            SQLTransformer(statement=encoding_sql()),
            VectorAssembler(
                inputCols=[*MEASUREMENTS, "island_encoded", "sex_encoded"], outputCol="features", handleInvalid="error"
            ),
            LogisticRegression(
                maxIter=max_iter,
                regParam=reg_param,
                family="multinomial",
                labelCol="label",
                predictionCol="species_code",
            ),
            # The served model answers with names, in a column named like every Spark model's output.
            IndexToString(inputCol="species_code", outputCol="prediction", labels=list(SPECIES)),
        ]
    )


def training_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Raw features and the label (species code) of cleaned penguins, ready for spark.createDataFrame."""
    return frame.loc[:, list(FEATURES)].assign(label=frame["species_encoded"].astype("float64"))


def fit(train, max_iter: int, reg_param: float):
    """Fit the pipeline on a Spark DataFrame of training_frame() rows."""
    return species_pipeline(max_iter, reg_param).fit(train)


def predicted_labels(model, frame) -> pd.DataFrame:
    """(label, species_code) for every row, collected: the data are small."""
    return model.transform(frame).select("label", "species_code").toPandas()


def evaluate(model, train, test) -> dict[str, float]:
    """train_acc, eval_acc, and the test F1 of each species (`f1_<Species>`)."""
    from sklearn.metrics import f1_score

    train_pred, test_pred = predicted_labels(model, train), predicted_labels(model, test)
    codes = range(len(SPECIES))
    f1 = f1_score(test_pred["label"], test_pred["species_code"], labels=codes, average=None, zero_division=0)
    return {
        "train_acc": float((train_pred["label"] == train_pred["species_code"]).mean()),
        "eval_acc": float((test_pred["label"] == test_pred["species_code"]).mean()),
        **{f"f1_{name}": float(score) for name, score in zip(SPECIES, f1, strict=True)},
    }
