"""Predict a penguin's sex from its measurements, island and species. No MLflow here.

The model is one scikit-learn pipeline over *raw* columns (island and species as
text), so a served model scores penguins as they appear in the data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from steps.ml.data import MEASUREMENTS, split_rows
from steps.ml.features import category_encoder

CATEGORICAL = ("island", "species")
FEATURES = (*MEASUREMENTS, *CATEGORICAL)
TARGET = "sex"
POSITIVE = "male"  # the class whose probability the ROC curve and AUC use


@dataclass(frozen=True)
class Split:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split(frame: pd.DataFrame, test_size: float, seed: int) -> Split:
    """Train/test split stratified on sex, reproducible from the seed (DataError if too few rows)."""
    train, test = split_rows(frame, TARGET, test_size, seed)
    return Split(train.loc[:, list(FEATURES)], test.loc[:, list(FEATURES)], train[TARGET], test[TARGET])


def heldout_rows(data: Split) -> pd.DataFrame:
    """The test rows as the data set has them: the model's features, then the sex."""
    return data.X_test.assign(**{TARGET: data.y_test})


def fit_classifier(X: pd.DataFrame, y: pd.Series, C: float, max_iter: int, seed: int) -> Pipeline:
    """Encode categories (documented codes), scale, then logistic regression, as the tutorial does."""
    model = make_pipeline(
        category_encoder(CATEGORICAL, MEASUREMENTS),
        StandardScaler(),
        LogisticRegression(C=C, max_iter=max_iter, random_state=seed),
    )
    return model.fit(X, y)


def positive_scores(model: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """P(sex == male) for each row."""
    return model.predict_proba(X)[:, list(model.classes_).index(POSITIVE)]


def evaluate(model: Pipeline, data: Split) -> dict[str, float]:
    """train_acc, eval_acc, and auc_score from predicted probabilities (not hard labels)."""
    return {
        "train_acc": float(accuracy_score(data.y_train, model.predict(data.X_train))),
        "eval_acc": float(accuracy_score(data.y_test, model.predict(data.X_test))),
        "auc_score": float(roc_auc_score(data.y_test == POSITIVE, positive_scores(model, data.X_test))),
    }


def confusion(model: Pipeline, data: Split) -> pd.DataFrame:
    """Confusion matrix on the test set, rows = true sex, columns = predicted sex."""
    labels = list(model.classes_)
    matrix = confusion_matrix(data.y_test, model.predict(data.X_test), labels=labels)
    return pd.DataFrame(matrix, index=pd.Index(labels, name="true"), columns=pd.Index(labels, name="predicted"))
