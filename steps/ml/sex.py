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
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from steps.ml.data import MEASUREMENTS, DataError
from steps.ml.features import category_encoder

FEATURES = (*MEASUREMENTS, "island", "species")
TARGET = "sex"
POSITIVE = "male"  # the class whose probability the ROC curve and AUC use


@dataclass(frozen=True)
class Split:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: pd.Series
    y_test: pd.Series


def split(frame: pd.DataFrame, test_size: float, seed: int) -> Split:
    """Stratified train/test split on sex, reproducible from the seed.

    Raises DataError when the table is too small to put both sexes on both sides.
    """
    try:
        X_train, X_test, y_train, y_test = train_test_split(
            frame.loc[:, list(FEATURES)], frame[TARGET], test_size=test_size, random_state=seed, stratify=frame[TARGET]
        )
    except ValueError as error:
        raise DataError(
            f"data: {len(frame)} complete rows cannot be split with test_size={test_size:g}: {error}"
        ) from None
    if y_train.nunique() < 2 or y_test.nunique() < 2:
        raise DataError(
            f"data: {len(frame)} complete rows leave one sex missing from a side of the split; more penguins are needed"
        )
    return Split(X_train, X_test, y_train, y_test)


def fit_classifier(X: pd.DataFrame, y: pd.Series, C: float, max_iter: int, seed: int) -> Pipeline:
    """Encode categories (documented codes), scale, then logistic regression, as the tutorial does."""
    model = make_pipeline(
        category_encoder(["island", "species"], list(MEASUREMENTS)),
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
